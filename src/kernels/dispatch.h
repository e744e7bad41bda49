// Run-time choice of the optimised integer kernels' instruction set.
//
// Every optimised kernel (src/kernels/optimized/) has a portable C++ path and an AVX2 path
// (src/kernels/x86/*_avx2.cpp, compiled with -mavx2 -mfma). CONV_2D / FULLY_CONNECTED also have an
// AVX-512 VNNI GEMM (x86/gemm_avx512vnni.cpp, vpdpbusd). The path is chosen on every call from
// qat::active_isa(), i.e. CPUID + XGETBV, lowered by qat::force_isa() (tests) or by the QAT_ISA
// environment variable (portable|avx2|avx512vnni).
//   KernelPathFor(): the elementwise kernels (pooling, ADD, depthwise), which have no AVX-512 code:
//     an AVX-512 VNNI machine runs their AVX2 path.
//   GemmPathFor(): the conv / FC GEMM; kAvx512Vnni where the ISA allows it.
#pragma once
#include <atomic>

#include "qat/cpu_features.h"

namespace qat::kernels {

enum class KernelPath { kPortable = 0, kAvx2 = 1, kAvx512Vnni = 2 };

inline KernelPath KernelPathFor(Isa isa) { return isa == Isa::kPortable ? KernelPath::kPortable : KernelPath::kAvx2; }
inline KernelPath ActiveKernelPath() { return KernelPathFor(active_isa()); }
inline KernelPath GemmPathFor(Isa isa) {
  return isa == Isa::kAvx512Vnni ? KernelPath::kAvx512Vnni : KernelPathFor(isa);
}
// Tests: the conv / FC GEMM path regardless of the ISA (-1: none). With
// optimized::SetVnniPackingForTests and SetVnniEmulationForTests, kAvx512Vnni runs the VNNI
// kernel's source on emulated AVX-512 intrinsics through the interpreter on any AVX2 CPU.
inline std::atomic<int> g_gemm_path_for_tests{-1};
inline void SetGemmPathForTests(int path) { g_gemm_path_for_tests.store(path, std::memory_order_relaxed); }
inline KernelPath ActiveGemmPath() {
  const int forced = g_gemm_path_for_tests.load(std::memory_order_relaxed);
  return forced >= 0 ? (KernelPath)forced : GemmPathFor(active_isa());
}
// The float CONV_2D / FULLY_CONNECTED / DEPTHWISE_CONV_2D kernels (optimized/conv_float.h,
// depthwise_float.h) have AVX-512 twins (x86/float_avx512vnni.cpp): kAvx512Vnni there means
// "AVX-512F zmm kernels", chosen where the active ISA is avx512vnni.
inline KernelPath FloatPathFor(Isa isa) { return GemmPathFor(isa); }
inline KernelPath ActiveFloatPath() { return FloatPathFor(active_isa()); }

// The arithmetic of those float kernels, per tap acc <- acc + w * x in the reference's tap order:
//   kExact: a float32 multiply, then a float32 add (the reference kernels' values, bit for bit, and
//           LiteRT's without FMA);
//   kFused: one fused multiply-add (a single rounding, std::fma's value) on every path (AVX-512,
//           AVX2 + FMA, portable), as XNNPACK and ONNX Runtime fuse on CPUs with FMA.
enum class FloatMath { kExact = 0, kFused = 1 };
// Whether the float kernels of `path` compute fused values under `math` (every path fuses).
inline bool FusesOn(KernelPath /*path*/, FloatMath math) { return math == FloatMath::kFused; }
inline const char* FloatMathName(FloatMath m) { return m == FloatMath::kExact ? "exact" : "fused"; }

inline const char* KernelPathName(KernelPath p) {
  return p == KernelPath::kPortable ? "portable" : (p == KernelPath::kAvx2 ? "avx2" : "avx512vnni");
}

}  // namespace qat::kernels
