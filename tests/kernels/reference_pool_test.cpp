// AVERAGE_POOL_2D / MAX_POOL_2D / MEAN reference kernels.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/reference/average_pool.h"
#include "kernels/reference/max_pool.h"
#include "kernels/reference/mean.h"

namespace qat::kernels::reference {
namespace {

PoolParams Pool(int h, int w, int c, int fh, int fw, int stride, Padding pad) {
  PoolParams p;
  p.input_h = h;
  p.input_w = w;
  p.channels = c;
  p.filter_h = fh;
  p.filter_w = fw;
  p.stride_h = p.stride_w = stride;
  ComputePadding(pad, h, fh, stride, 1, &p.output_h, &p.pad_top);
  ComputePadding(pad, w, fw, stride, 1, &p.output_w, &p.pad_left);
  return p;
}

// (sum +- count/2) / count: half away from zero, padding excluded from the count.
TEST(ReferenceAveragePool, Int8RoundsHalfAwayFromZero) {
  PoolParams p = Pool(1, 2, 1, 1, 2, 1, Padding::kValid);
  int8_t out[1];
  const int8_t neg[] = {-3, -2}, pos[] = {3, 2}, mins[] = {-128, -128};
  AveragePoolInt8(p, neg, out);
  EXPECT_EQ(out[0], -3);  // -2.5
  AveragePoolInt8(p, pos, out);
  EXPECT_EQ(out[0], 3);  // 2.5
  AveragePoolInt8(p, mins, out);
  EXPECT_EQ(out[0], -128);
  const uint8_t u[] = {1, 2};
  uint8_t uo[1];
  AveragePoolUint8(p, u, uo);
  EXPECT_EQ(uo[0], 2);  // 1.5 -> 2
}

TEST(ReferenceAveragePool, SamePaddingExcludesPaddedTaps) {
  PoolParams p = Pool(2, 2, 1, 3, 3, 1, Padding::kSame);
  const float in[] = {1, 2, 3, 4};
  float out[4];
  AveragePoolFloat(p, in, out);
  for (float v : out) EXPECT_FLOAT_EQ(v, 2.5f);  // every window covers all 4 pixels
  const int8_t q[] = {1, 2, 3, 5};
  int8_t qo[4];
  AveragePoolInt8(p, q, qo);
  EXPECT_EQ(qo[0], 3);  // 11 / 4 = 2.75 -> 3
}

// Padding larger than the kernel: a window entirely in the padding has no taps.
TEST(ReferenceAveragePool, EmptyWindowGivesZero) {
  PoolParams p = Pool(1, 1, 1, 1, 1, 1, Padding::kValid);
  p.pad_top = 3;
  p.output_h = 4;
  const float in[] = {8};
  float out[4];
  AveragePoolFloat(p, in, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{0, 0, 0, 8}));
}

TEST(ReferenceMaxPool, PaddingNeverWinsAndClamp) {
  PoolParams p = Pool(2, 2, 1, 2, 2, 2, Padding::kSame);
  const int8_t in[] = {-128, -128, -128, -127};
  int8_t out[1];
  MaxPoolInt8(p, in, out);
  EXPECT_EQ(out[0], -127);
  p = Pool(3, 3, 1, 2, 2, 2, Padding::kSame);  // 2x2 output, last row/column windows clipped
  const float f[] = {-5, -4, -3, -2, -1, -9, -8, -7, -6};
  float fo[4];
  MaxPoolFloat(p, f, fo);
  EXPECT_EQ(std::vector<float>(fo, fo + 4), (std::vector<float>{-1, -3, -7, -6}));
  p.float_act = ActivationRangeFloat(Activation::kRelu);
  MaxPoolFloat(p, f, fo);
  EXPECT_EQ(std::vector<float>(fo, fo + 4), (std::vector<float>{0, 0, 0, 0}));
}

MeanParams Spatial(int h, int w, int c) {
  MeanParams p;
  p.rank = 4;
  p.dims[0] = 1;
  p.dims[1] = h;
  p.dims[2] = w;
  p.dims[3] = c;
  p.reduce[1] = p.reduce[2] = true;
  return p;
}

TEST(ReferenceMean, FloatOverAxes) {
  MeanParams p = Spatial(2, 2, 2);
  const float in[] = {1, 10, 2, 20, 3, 30, 4, 40};
  float out[2];
  MeanFloat(p, in, out);
  EXPECT_FLOAT_EQ(out[0], 2.5f);
  EXPECT_FLOAT_EQ(out[1], 25.f);
}

TEST(ReferenceMean, Int8Algorithms) {
  MeanParams p = Spatial(1, 2, 1);
  int32_t scratch[1];
  int8_t out[1];
  // Spatial multiplier path: s_in/s_out = 1, Z_in = -128, Z_out = 0: sum(q - Z) = 1 + 2 = 3,
  // MBQM(3, 1) = 3, (3 + 1) / 2 = 2.
  p.algo = MeanParams::Algo::kSpatialMultiplier;
  p.input_zp = -128;
  p.multiplier = MakeRequant(1.0);
  const int8_t in[] = {-127, -126};
  MeanInt8(p, in, out, scratch);
  EXPECT_EQ(out[0], 2);
  // Same parameters: truncating integer division.
  p.algo = MeanParams::Algo::kSameParams;
  const int8_t in2[] = {-3, -2};
  MeanInt8(p, in2, out, scratch);
  EXPECT_EQ(out[0], -2);  // -5 / 2 truncates
  // Float rescale: s = 0.5, mean 1.5 * 0.5 = 0.75 -> round 1, + Z_out 10.
  p.algo = MeanParams::Algo::kFloatRescale;
  p.input_zp = 0;
  p.input_scale = 0.5f;
  p.output_scale = 1.f;
  p.output_zp = 10;
  const int8_t in3[] = {1, 2};
  MeanInt8(p, in3, out, scratch);
  EXPECT_EQ(out[0], 11);
  // mean 2 * 0.5 = 1.0: TFLite 2.2's extra +0.5 makes it round(1.5) = 2.
  const int8_t in4[] = {2, 2};
  MeanInt8(p, in4, out, scratch);
  EXPECT_EQ(out[0], 11);
  p.legacy_half_bias = true;
  MeanInt8(p, in4, out, scratch);
  EXPECT_EQ(out[0], 12);
}

}  // namespace
}  // namespace qat::kernels::reference
