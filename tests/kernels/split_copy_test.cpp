// The AVX2 split GEMM's activation copy (x86::CopyRowsSplitAvx2, kernels/x86/int8_x86.h) against
// its definition: every value clamped to its channel's bound T_c in a row of ic_pad4 bytes (the
// padding 0), and for each value above it one (quad * quad_bytes, (u - T_c) << 8 * (c % 4)) entry
// in its pixel's list, at most `cap` of them, the count of all of them per pixel; the total, or -1
// once a pixel has more than cap. Bounds differ from channel to channel and from one 32-channel
// chunk to the next (the copy of 32, 64 and 128 channels walks chunks, not rows).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/x86/int8_x86.h"
#include "qat/cpu_features.h"

namespace qat::kernels::x86 {
namespace {

struct Copy {
  std::vector<uint8_t> out;
  std::vector<int32_t> counts, entries;
  int64_t total = 0;
};

Copy Definition(const std::vector<uint8_t>& in, bool is_uint8, int64_t rows, int ic, int ic_pad4, int cap,
                const std::vector<uint8_t>& tk, int quad_bytes) {
  Copy c;
  c.out.assign((size_t)rows * ic_pad4, 0);
  c.counts.assign(rows, 0);
  c.entries.assign((size_t)rows * 2 * cap, 0);
  for (int64_t r = 0; r < rows; ++r) {
    int n = 0;
    for (int ch = 0; ch < ic; ++ch) {
      const int u = is_uint8 ? in[r * ic + ch] : (uint8_t)(in[r * ic + ch] ^ 0x80);
      c.out[r * ic_pad4 + ch] = (uint8_t)std::min<int>(u, tk[ch]);
      if (u <= tk[ch]) continue;
      if (n < cap) {
        c.entries[(size_t)r * 2 * cap + 2 * n] = ch / 4 * quad_bytes;
        c.entries[(size_t)r * 2 * cap + 2 * n + 1] = (int32_t)((uint32_t)(u - tk[ch]) << (8 * (ch & 3)));
      }
      ++n;
    }
    c.counts[r] = n;
    if (n > cap) {
      c.total = -1;
      return c;
    }
    c.total += n;
  }
  return c;
}

TEST(SplitCopy, MatchesItsDefinition) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2: the split GEMM is an AVX2 kernel";
  std::mt19937 rng(777);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  int trials = 0, overflows = 0;
  for (int ic : {32, 64, 128, 96, 41, 256, 3}) {
    for (double density : {0.0, 0.004, 0.05, 0.4}) {
      for (bool is_uint8 : {false, true}) {
        const int ic_pad4 = (ic + 3) / 4 * 4, cap = 16, quad_bytes = uni(0, 1) ? 64 : 128;
        const int64_t rows = uni(1, 40);
        std::vector<uint8_t> tk(ic_pad4);
        for (auto& t : tk) t = (uint8_t)uni(32, 250);  // each channel and chunk its own bound
        std::vector<uint8_t> in((size_t)rows * ic);
        for (size_t i = 0; i < in.size(); ++i) {
          const int T = tk[i % ic];
          const int u = std::bernoulli_distribution(density)(rng) ? uni(T + 1, 255) : uni(0, T);
          in[i] = is_uint8 ? (uint8_t)u : (uint8_t)(u ^ 0x80);
        }
        const Copy want = Definition(in, is_uint8, rows, ic, ic_pad4, cap, tk, quad_bytes);
        Copy got;
        got.out.assign((size_t)rows * ic_pad4, 0x5a);
        got.counts.assign(rows, -7);
        got.entries.assign((size_t)rows * 2 * cap, 0);
        got.total = CopyRowsSplitAvx2(in.data(), is_uint8, rows, ic, ic_pad4, got.out.data(), got.counts.data(),
                                      got.entries.data(), cap, tk.data(), quad_bytes);
        const std::string where = "ic " + std::to_string(ic) + ", density " + std::to_string(density) +
                                  (is_uint8 ? ", uint8" : ", int8") + ", rows " + std::to_string(rows);
        ++trials;
        ASSERT_EQ(got.total, want.total) << where;
        if (want.total < 0) {  // over capacity: the caller drops the copy, only the -1 counts
          ++overflows;
          continue;
        }
        ASSERT_EQ(got.out, want.out) << where;
        ASSERT_EQ(got.counts, want.counts) << where;
        for (int64_t r = 0; r < rows; ++r)
          for (int k = 0; k < 2 * std::min(want.counts[r], cap); ++k)
            ASSERT_EQ(got.entries[(size_t)r * 2 * cap + k], want.entries[(size_t)r * 2 * cap + k])
                << where << ", pixel " << r << ", entry " << k / 2;
      }
    }
  }
  EXPECT_GT(overflows, 0) << "some trials must pass the capacity";
  EXPECT_LT(overflows, trials / 2);
}

// A pixel with exactly `cap` values above their bounds keeps them all; one with cap + 1 makes the
// copy return -1 (the caller runs the int16 GEMM).
TEST(SplitCopy, PixelsAtTheCapacity) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2: the split GEMM is an AVX2 kernel";
  std::mt19937 rng(778);
  for (int ic : {32, 64, 128, 96}) {
    for (int extra : {0, 1}) {
      const int cap = 16, rows = 5, hot = 2;
      std::vector<uint8_t> tk(ic);
      for (auto& t : tk) t = (uint8_t)std::uniform_int_distribution<int>(40, 200)(rng);
      std::vector<uint8_t> in((size_t)rows * ic, 0x80);  // int8 -128: u = 0
      std::vector<int> chans(ic);
      for (int c = 0; c < ic; ++c) chans[c] = c;
      std::shuffle(chans.begin(), chans.end(), rng);
      for (int k = 0; k < cap + extra; ++k) in[(size_t)hot * ic + chans[k]] = 0x7f;  // u = 255
      const Copy want = Definition(in, false, rows, ic, ic, cap, tk, 128);
      ASSERT_EQ(want.total, extra ? -1 : cap);
      std::vector<uint8_t> out((size_t)rows * ic);
      std::vector<int32_t> counts(rows), entries((size_t)rows * 2 * cap);
      const int64_t total =
          CopyRowsSplitAvx2(in.data(), false, rows, ic, ic, out.data(), counts.data(), entries.data(), cap, tk.data(), 128);
      ASSERT_EQ(total, want.total) << "ic " << ic << ", " << cap + extra << " values above their bounds";
      if (extra) continue;
      EXPECT_EQ(out, want.out) << "ic " << ic;
      EXPECT_EQ(counts, want.counts) << "ic " << ic;
      EXPECT_EQ(entries, want.entries) << "ic " << ic;
    }
  }
}

}  // namespace
}  // namespace qat::kernels::x86
