// Peak integer multiply-accumulate rate of one core (AVX2), in GMAC/s (1 MAC = 2 ops), per second
// of the calling thread's CPU time (robust to other processes sharing the core).
#pragma once
#include <cstdint>

namespace qat::kernels::x86 {
// vpmaddwd + vpaddd: the instruction pair of qat's exact AVX2 GEMM (16 MACs per vpmaddwd).
double PeakMaddwdGmacs(int64_t iterations);
// vpmaddubsw + vpmaddwd(ones) + vpaddd: the sequence of MLAS' AVX2 u8s8 kernel (32 MACs), which
// saturates to int16 and so is not exact for arbitrary weights; measured for comparison only.
double PeakU8S8Gmacs(int64_t iterations);
// 2 vpmaddubsw + vpaddw + vpmaddwd(ones) + vpaddd: the step of qat's exact AVX2 split GEMM (64 MACs;
// exact because of its bounds, x86/int8_x86.h). 11 independent chains.
double PeakSplitGmacs(int64_t iterations);
// Float: vmulps + vaddps (8 MACs, the pair qat's exact float kernels use: no FMA, x86/float_avx2.cpp)
// and vfmadd231ps (8 MACs, fused: what XNNPACK / ONNX Runtime use on FMA3 CPUs), 12 independent
// chains each, in GMAC/s of the calling thread's CPU time.
double PeakFloatMulAddGmacs(int64_t iterations);
double PeakFloatFmaGmacs(int64_t iterations);
// vpdpbusd zmm (u8 x s8, 64 MACs, no saturation): the instruction of qat's AVX-512 VNNI GEMM
// (peak_avx512vnni.cpp). Call only where isa_supported(Isa::kAvx512Vnni).
double PeakVnniGmacs(int64_t iterations);
// tdpbusd (AMX-INT8: 16 x 16 x 64 = 16384 MACs each) on four independent accumulator tiles, the
// instruction of qat's AMX GEMM (x86::GemmTilesAmx). Call only where qat::amx_int8_usable().
double PeakAmxGmacs(int64_t iterations);
}  // namespace qat::kernels::x86
