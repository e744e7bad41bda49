// Micro-benchmark of this core's AVX-512 VNNI multiply-accumulate peak, used by
// bench/int8_kernels_bench.cpp to state the VNNI GEMM's "fraction of peak". Inline assembly, so
// the compiler cannot fold the chains: 16 independent vpdpbusd zmm accumulators (latency 5, up to
// 2 per cycle), so throughput bounds the loop. 64 MACs per vpdpbusd zmm. PeakAmxGmacs: AMX-INT8's
// tdpbusd on four independent 16 x 16 int32 tiles (16 x 16 x 64 MACs each), operands in tiles.
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

double PeakAmxGmacs(int64_t iterations) {
  struct alignas(64) {
    uint8_t palette = 1, start_row = 0, reserved[14] = {};
    uint16_t colsb[16] = {};
    uint8_t rows[16] = {};
  } cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  alignas(64) static const uint8_t zeros[1024] = {};
  __asm__ volatile("ldtilecfg %0" ::"m"(cfg));
  __asm__ volatile(
      "tilezero %%tmm0\n tilezero %%tmm1\n tilezero %%tmm2\n tilezero %%tmm3\n"
      "tileloadd (%0,%1,1), %%tmm4\n tileloadd (%0,%1,1), %%tmm5\n"
      "tileloadd (%0,%1,1), %%tmm6\n tileloadd (%0,%1,1), %%tmm7\n" ::"r"(zeros),
      "r"((int64_t)64)
      : "memory");
  const double t0 = NowVnni();
  for (int64_t i = 0; i < iterations; ++i)
    __asm__ volatile(
        "tdpbusd %tmm6, %tmm4, %tmm0\n tdpbusd %tmm7, %tmm4, %tmm1\n"
        "tdpbusd %tmm6, %tmm5, %tmm2\n tdpbusd %tmm7, %tmm5, %tmm3\n");
  const double t = NowVnni() - t0;
  __asm__ volatile("tilerelease" ::: "memory");
  return (double)iterations * 4 * 16 * 16 * 64 / t / 1e9;
}

}  // namespace qat::kernels::x86
