// Micro-benchmark of this core's AVX-512 VNNI multiply-accumulate peak, used by
// bench/int8_kernels_bench.cpp to state the VNNI GEMM's "fraction of peak". Inline assembly, so
// the compiler cannot fold the chains: 16 independent vpdpbusd zmm accumulators (latency 5, up to
// 2 per cycle), so throughput bounds the loop. 64 MACs per vpdpbusd zmm.
#include <time.h>

#include <cstdint>

#include "kernels/x86/peak_x86.h"

namespace qat::kernels::x86 {

namespace {
#define QAT_DPBUSD(d) "vpdpbusd %%zmm30, %%zmm31, %%zmm" #d "\n"

double NowVnni() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}
}  // namespace

double PeakVnniGmacs(int64_t iterations) {
  __asm__ volatile("vpxord %%zmm30, %%zmm30, %%zmm30\n vpxord %%zmm31, %%zmm31, %%zmm31\n" ::: "xmm30", "xmm31");
  const double t0 = NowVnni();
  for (int64_t i = 0; i < iterations; ++i) {
    __asm__ volatile(QAT_DPBUSD(0) QAT_DPBUSD(1) QAT_DPBUSD(2) QAT_DPBUSD(3) QAT_DPBUSD(4) QAT_DPBUSD(5)
                         QAT_DPBUSD(6) QAT_DPBUSD(7) QAT_DPBUSD(8) QAT_DPBUSD(9) QAT_DPBUSD(10) QAT_DPBUSD(11)
                             QAT_DPBUSD(12) QAT_DPBUSD(13) QAT_DPBUSD(14) QAT_DPBUSD(15)::
                                 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                                   "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  }
  __asm__ volatile("vzeroupper" ::: "memory");
  return (double)iterations * 16 * 64 / (NowVnni() - t0) / 1e9;
}

}  // namespace qat::kernels::x86
