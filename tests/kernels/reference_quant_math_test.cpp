// Requantization primitives (kernels/quant_math.h): hand-derived values for both modes.
#include <gtest/gtest.h>

#include "kernels/quant_math.h"

namespace qat::kernels {
namespace {

TEST(QuantMath, QuantizeMultiplierOfPowersOfTwo) {
  int32_t q;
  int s;
  QuantizeMultiplier(0.5, &q, &s);
  EXPECT_EQ(q, 1 << 30);  // 0.5 = 0.5 * 2^0
  EXPECT_EQ(s, 0);
  QuantizeMultiplier(1.0, &q, &s);
  EXPECT_EQ(q, 1 << 30);  // 1 = 0.5 * 2^1
  EXPECT_EQ(s, 1);
  QuantizeMultiplier(0.0, &q, &s);
  EXPECT_EQ(q, 0);
  QuantizeMultiplier(std::ldexp(1.0, -40), &q, &s);  // below 2^-31: flushed to zero
  EXPECT_EQ(q, 0);
  EXPECT_EQ(s, 0);
}

// Ties. XNNPACK: half to even. TFLite's double rounding: SaturatingRoundingDoublingHighMul rounds
// half up (towards +inf: its negative nudge is 1 - 2^30), then RoundingDivideByPOT rounds half
// away from zero. With M = 0.5 (multiplier 2^30, shift 0) only the first step rounds; with
// M = 0.25 (2^30, shift -1) the exact half is produced by the shift and rounds away from zero.
TEST(QuantMath, TiesDifferBetweenModes) {
  const Requant half = MakeRequant(0.5), quarter = MakeRequant(0.25);
  EXPECT_EQ(Apply(RequantMode::kTflite, half, 5), 3);    // 2.5 -> 3 (half up)
  EXPECT_EQ(Apply(RequantMode::kXnnpack, half, 5), 2);   // 2.5 -> 2 (even)
  EXPECT_EQ(Apply(RequantMode::kTflite, half, -5), -2);  // -2.5 -> -2 (half up)
  EXPECT_EQ(Apply(RequantMode::kXnnpack, half, -5), -2);
  EXPECT_EQ(Apply(RequantMode::kTflite, half, -3), -1);  // -1.5 -> -1 (half up)
  EXPECT_EQ(Apply(RequantMode::kXnnpack, half, -3), -2); // -1.5 -> -2 (even)
  EXPECT_EQ(Apply(RequantMode::kTflite, quarter, -10), -3);  // -2.5 -> -3 (away from zero)
  EXPECT_EQ(Apply(RequantMode::kXnnpack, quarter, -10), -2);
  EXPECT_EQ(Apply(RequantMode::kTflite, quarter, 10), 3);
  EXPECT_EQ(Apply(RequantMode::kXnnpack, quarter, 10), 2);
  EXPECT_EQ(Apply(RequantMode::kTflite, half, 100), 50);
}

TEST(QuantMath, SaturatingHighMulEdge) {
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(INT32_MIN, INT32_MIN), INT32_MAX);
  EXPECT_EQ(SaturatingRoundingDoublingHighMul(1 << 30, 1 << 30), 1 << 29);
}

TEST(QuantMath, RequantizeFp32Saturates) {
  EXPECT_EQ(RequantizeFp32(INT32_MAX, 2.f), INT32_MAX);
  EXPECT_EQ(RequantizeFp32(INT32_MIN, 2.f), INT32_MIN);
}

// The scale used in xnnpack mode is XNNPACK's float32 expression, evaluated step by step.
TEST(QuantMath, MakeRequantFromScalesUsesFloat32ForXnnpack) {
  const float si = 0.0039215689f, sw = 0.0123456f, so = 0.0787f;
  const Requant r = MakeRequant(si, sw, so);
  volatile float prod = si * sw;
  EXPECT_EQ(r.scale, prod / so);
  int32_t q;
  int s;
  QuantizeMultiplier((double)si * (double)sw / (double)so, &q, &s);
  EXPECT_EQ(r.multiplier, q);
  EXPECT_EQ(r.shift, s);
  const Requant legacy = MakeRequant(si, sw, so, /*tflite_float_product=*/true);
  QuantizeMultiplier((double)prod / (double)so, &q, &s);
  EXPECT_EQ(legacy.multiplier, q);
}

}  // namespace
}  // namespace qat::kernels
