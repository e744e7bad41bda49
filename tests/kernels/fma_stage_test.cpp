// The exact fp32 form of TFLite's short ReLU output stage (kernels/optimized/fma_stage.h): every
// pair FindExactFmaStage returns must give TFLite's clamped output for every int32 accumulator.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "kernels/optimized/fma_stage.h"
#include "qat/cpu_features.h"
#include "kernels/quant_math.h"

namespace qat::kernels::optimized {
namespace {

int Clamped(int32_t v, int lo, int hi) { return std::clamp<int32_t>(v, lo, hi); }

// TFLite's result and the FMA form, both clamped to [lo, hi] (levels relative to Z_out).
::testing::AssertionResult SameAt(int32_t m, int right, int lo, int hi, const FmaStage& s, int32_t x) {
  const int want = Clamped(MultiplyByQuantizedMultiplier(x, m, -right), lo, hi);
  const int got = Clamped(ApplyFmaStage(s, x), lo, hi);
  if (want == got) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "x " << x << ": TFLite " << want << ", FMA " << got;
}

// Random channels (multiplier, right shift 1..21, clamp range): for each one the search finds,
// the outputs agree at every threshold and its neighbours, at random and extreme accumulators,
// and, where the levels span at most ~2^22 accumulators, at every accumulator from below 0 to
// past the top level. Most channels with right shifts up to 8 (MobileNet-v1's are 4-8) must find a
// pair; from about 10 on the thresholds pass 2^24, where float(x) no longer tells x from x - 1.
TEST(FmaStage, FoundPairsMatchTfliteForEveryAccumulator) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2: only the AVX2 kernels have the FMA form";
  std::mt19937 rng(2611);
  int found = 0, exhaustive = 0;
  const int channels = 400;
  for (int i = 0; i < channels; ++i) {
    const int32_t m = (int32_t)std::uniform_int_distribution<int64_t>(int64_t{1} << 30, (int64_t{1} << 31) - 1)(rng);
    const int right = std::uniform_int_distribution<int>(1, i % 4 == 0 ? 21 : 8)(rng);
    const int lo = i % 3 == 0 ? std::uniform_int_distribution<int>(0, 20)(rng) : 0;
    const int hi = i % 5 == 0 ? std::uniform_int_distribution<int>(lo + 1, 255)(rng) : 255;
    FmaStage s;
    if (!FindExactFmaStage(m, right, lo, hi, &s)) continue;
    ++found;
    const double alpha = m / std::ldexp(1.0, 31 + right);
    // Thresholds from the real-valued line, +-3 around each (the exact ones lie within 1).
    for (int L = lo + 1; L <= hi; ++L) {
      const double t = (L - 0.5 - std::ldexp(1.0, -(right + 1))) / alpha;
      if (t > std::numeric_limits<int32_t>::max() - 4.0) break;
      for (int d = -3; d <= 3; ++d) ASSERT_TRUE(SameAt(m, right, lo, hi, s, (int32_t)t + d)) << "channel " << i << " level " << L;
    }
    for (int32_t x : {std::numeric_limits<int32_t>::min(), -1, 0, 1, std::numeric_limits<int32_t>::max()})
      ASSERT_TRUE(SameAt(m, right, lo, hi, s, x)) << "channel " << i;
    std::uniform_int_distribution<int32_t> any(std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
    for (int k = 0; k < 2000; ++k) ASSERT_TRUE(SameAt(m, right, lo, hi, s, any(rng))) << "channel " << i;
    const double top = (hi + 1) / alpha;
    if (top < 4e6) {
      ++exhaustive;
      for (int32_t x = -1000; x <= (int32_t)top + 1000; ++x) ASSERT_TRUE(SameAt(m, right, lo, hi, s, x)) << "channel " << i;
    }
  }
  EXPECT_GT(found, channels * 70 / 100);
  EXPECT_GT(exhaustive, 20);
}

// Signed ranges (act_min below Z_out: no fused ReLU; the VNNI tile's form beside the 64-bit one):
// levels from act_min - Z_out to act_max - Z_out for random int8 zero points, the same checks at
// every threshold (the negative side's lie 2^31 / M lower), at extreme and random accumulators,
// and exhaustively over every accumulator from below the lowest threshold to past the top one
// where that span is under ~4M.
TEST(FmaStage, SignedRangesMatchTfliteForEveryAccumulator) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2: only the AVX2 kernels have the FMA form";
  std::mt19937 rng(2711);
  int found = 0, exhaustive = 0, negative = 0;
  const int channels = 300;
  for (int i = 0; i < channels; ++i) {
    const int32_t m = (int32_t)std::uniform_int_distribution<int64_t>(int64_t{1} << 30, (int64_t{1} << 31) - 1)(rng);
    const int right = std::uniform_int_distribution<int>(1, i % 4 == 0 ? 21 : 8)(rng);
    const int z = std::uniform_int_distribution<int>(-127, 127)(rng);  // act_min = -128 below Z_out
    int lo = -128 - z, hi = 127 - z;  // the full int8 range
    if (i % 3 == 1) lo = std::uniform_int_distribution<int>(lo, -1)(rng);  // a clamp inside it
    if (i % 5 == 2) hi = std::uniform_int_distribution<int>(lo + 1, hi)(rng);
    FmaStage s;
    if (!FindExactFmaStage(m, right, lo, hi, &s)) continue;
    ++found;
    const double alpha = m / std::ldexp(1.0, 31 + right);
    for (int L = lo + 1; L <= hi; ++L) {
      double t = (L - 0.5 - std::ldexp(1.0, -(right + 1))) / alpha;
      if (t < 0) t -= std::ldexp(1.0, 31) / m, ++negative;
      if (t > std::numeric_limits<int32_t>::max() - 4.0) break;
      for (int d = -3; d <= 3; ++d)
        ASSERT_TRUE(SameAt(m, right, lo, hi, s, (int32_t)std::floor(t) + d)) << "channel " << i << " level " << L;
    }
    for (int32_t x : {std::numeric_limits<int32_t>::min(), -1, 0, 1, std::numeric_limits<int32_t>::max()})
      ASSERT_TRUE(SameAt(m, right, lo, hi, s, x)) << "channel " << i;
    std::uniform_int_distribution<int32_t> any(std::numeric_limits<int32_t>::min(),
                                               std::numeric_limits<int32_t>::max());
    for (int k = 0; k < 2000; ++k) ASSERT_TRUE(SameAt(m, right, lo, hi, s, any(rng))) << "channel " << i;
    const double bottom = lo / alpha - 4, top = (hi + 1) / alpha;
    if (top - bottom < 1e6) {
      ++exhaustive;
      for (int32_t x = (int32_t)bottom - 1000; x <= (int32_t)top + 1000; ++x)
        ASSERT_TRUE(SameAt(m, right, lo, hi, s, x)) << "channel " << i;
    }
  }
  EXPECT_GT(found, channels * 60 / 100);
  EXPECT_GT(exhaustive, 20);
  EXPECT_GT(negative, 1000);  // thresholds on the negative side were checked
}

TEST(FmaStage, OutsideTheShortFormNothingIsFound) {
  FmaStage s;
  EXPECT_FALSE(FindExactFmaStage(1 << 30, 0, 0, 255, &s));     // no right shift
  EXPECT_FALSE(FindExactFmaStage(1 << 30, 22, 0, 255, &s));    // beyond the short stage
  EXPECT_FALSE(FindExactFmaStage(0, 5, 0, 255, &s));
  EXPECT_FALSE(FindExactFmaStage(1 << 30, 5, -257, 0, &s));    // more levels than any 8-bit type has
  EXPECT_FALSE(FindExactFmaStage(1 << 30, 5, 10, 10, &s));     // a single level
}

}  // namespace
}  // namespace qat::kernels::optimized
