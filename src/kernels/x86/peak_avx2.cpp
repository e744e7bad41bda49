// Micro-benchmarks of this core's integer multiply-accumulate peak with AVX2, used by
// bench/int8_kernels_bench.cpp to state "fraction of peak". Inline assembly, so the compiler
// cannot fold the independent chains: 12 accumulators, each vpmaddwd / vpmaddubsw result
// independent of the others, so throughput (not latency) bounds the loop.
#include <time.h>
#include <cstdint>

#include "kernels/x86/peak_x86.h"

namespace qat::kernels::x86 {

namespace {
#define QAT_MADD(d) "vpmaddwd %%ymm14, %%ymm15, %%ymm12\n vpaddd %%ymm12, %%ymm" #d ", %%ymm" #d "\n"
// Two quads' vpmaddubsw added in int16, one vpmaddwd(ones), vpaddd: the split GEMM's step (64 MACs).
#define QAT_SPLIT(d)                                                                                  \
  "vpmaddubsw %%ymm14, %%ymm15, %%ymm12\n vpmaddubsw %%ymm14, %%ymm15, %%ymm11\n vpaddw %%ymm11, %%ymm12, " \
  "%%ymm12\n vpmaddwd %%ymm12, %%ymm13, %%ymm12\n vpaddd %%ymm12, %%ymm" #d ", %%ymm" #d "\n"
#define QAT_U8S8(d) \
  "vpmaddubsw %%ymm14, %%ymm15, %%ymm12\n vpmaddwd %%ymm12, %%ymm13, %%ymm12\n vpaddd %%ymm12, %%ymm" #d ", %%ymm" #d "\n"

// Thread CPU time, not wall time: on a shared machine a descheduled thread does not count.
double Now() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
}  // namespace

double PeakMaddwdGmacs(int64_t iterations) {
  __asm__ volatile("vpxor %%ymm14, %%ymm14, %%ymm14\n vpxor %%ymm15, %%ymm15, %%ymm15\n" ::: "xmm14", "xmm15");
  const double t0 = Now();
  for (int64_t i = 0; i < iterations; ++i) {
    __asm__ volatile(QAT_MADD(0) QAT_MADD(1) QAT_MADD(2) QAT_MADD(3) QAT_MADD(4) QAT_MADD(5) QAT_MADD(6)
                         QAT_MADD(7) QAT_MADD(8) QAT_MADD(9) QAT_MADD(10) QAT_MADD(11)::
                             : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                               "xmm10", "xmm11", "xmm12");
  }
  __asm__ volatile("vzeroupper" ::: "memory");
  return (double)iterations * 12 * 16 / (Now() - t0) / 1e9;
}

#define QAT_MULADD(d) "vmulps %%ymm14, %%ymm15, %%ymm12\n vaddps %%ymm12, %%ymm" #d ", %%ymm" #d "\n"
#define QAT_FMA(d) "vfmadd231ps %%ymm14, %%ymm15, %%ymm" #d "\n"

double PeakFloatMulAddGmacs(int64_t iterations) {
  __asm__ volatile("vxorps %%ymm14, %%ymm14, %%ymm14\n vxorps %%ymm15, %%ymm15, %%ymm15\n" ::: "xmm14", "xmm15");
  const double t0 = Now();
  for (int64_t i = 0; i < iterations; ++i) {
    __asm__ volatile(QAT_MULADD(0) QAT_MULADD(1) QAT_MULADD(2) QAT_MULADD(3) QAT_MULADD(4) QAT_MULADD(5)
                         QAT_MULADD(6) QAT_MULADD(7) QAT_MULADD(8) QAT_MULADD(9) QAT_MULADD(10) QAT_MULADD(11)::
                             : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                               "xmm10", "xmm11", "xmm12");
  }
  __asm__ volatile("vzeroupper" ::: "memory");
  return (double)iterations * 12 * 8 / (Now() - t0) / 1e9;
}

double PeakFloatFmaGmacs(int64_t iterations) {
  __asm__ volatile("vxorps %%ymm14, %%ymm14, %%ymm14\n vxorps %%ymm15, %%ymm15, %%ymm15\n" ::: "xmm14", "xmm15");
  const double t0 = Now();
  for (int64_t i = 0; i < iterations; ++i) {
    __asm__ volatile(QAT_FMA(0) QAT_FMA(1) QAT_FMA(2) QAT_FMA(3) QAT_FMA(4) QAT_FMA(5) QAT_FMA(6) QAT_FMA(7)
                         QAT_FMA(8) QAT_FMA(9) QAT_FMA(10) QAT_FMA(11)::
                             : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                               "xmm10", "xmm11");
  }
  __asm__ volatile("vzeroupper" ::: "memory");
  return (double)iterations * 12 * 8 / (Now() - t0) / 1e9;
}

double PeakU8S8Gmacs(int64_t iterations) {
  __asm__ volatile("vpxor %%ymm14, %%ymm14, %%ymm14\n vpxor %%ymm15, %%ymm15, %%ymm15\n vpxor %%ymm13, %%ymm13, %%ymm13\n" ::
                       : "xmm13", "xmm14", "xmm15");
  const double t0 = Now();
  for (int64_t i = 0; i < iterations; ++i) {
    __asm__ volatile(QAT_U8S8(0) QAT_U8S8(1) QAT_U8S8(2) QAT_U8S8(3) QAT_U8S8(4) QAT_U8S8(5) QAT_U8S8(6)
                         QAT_U8S8(7) QAT_U8S8(8) QAT_U8S8(9) QAT_U8S8(10) QAT_U8S8(11)::
                             : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                               "xmm10", "xmm11", "xmm12");
  }
  __asm__ volatile("vzeroupper" ::: "memory");
  return (double)iterations * 12 * 32 / (Now() - t0) / 1e9;
}

double PeakSplitGmacs(int64_t iterations) {
  __asm__ volatile("vpxor %%ymm14, %%ymm14, %%ymm14\n vpxor %%ymm15, %%ymm15, %%ymm15\n vpxor %%ymm13, %%ymm13, %%ymm13\n" ::
                       : "xmm13", "xmm14", "xmm15");
  const double t0 = Now();
  for (int64_t i = 0; i < iterations; ++i) {
    __asm__ volatile(QAT_SPLIT(0) QAT_SPLIT(1) QAT_SPLIT(2) QAT_SPLIT(3) QAT_SPLIT(4) QAT_SPLIT(5) QAT_SPLIT(6)
                         QAT_SPLIT(7) QAT_SPLIT(8) QAT_SPLIT(9) QAT_SPLIT(10)::
                             : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                               "xmm10", "xmm11", "xmm12");
  }
  __asm__ volatile("vzeroupper" ::: "memory");
  return (double)iterations * 11 * 64 / (Now() - t0) / 1e9;
}

}  // namespace qat::kernels::x86
