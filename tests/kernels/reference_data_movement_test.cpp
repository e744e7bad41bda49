// PAD, CONCATENATION, RESIZE_BILINEAR, DEPTH_TO_SPACE, QUANTIZE, DEQUANTIZE, DENSIFY.
#include <gtest/gtest.h>

#include <vector>

#include "kernels/reference/concatenation.h"
#include "kernels/reference/densify.h"
#include "kernels/reference/depth_to_space.h"
#include "kernels/reference/dequantize.h"
#include "kernels/reference/pad.h"
#include "kernels/reference/quantize.h"
#include "kernels/reference/resize_bilinear.h"
#include "qat/tensor.h"

namespace qat::kernels::reference {
namespace {

TEST(ReferencePad, PadsWithValueLargerThanInput) {
  PadParams p;
  p.rank = 2;
  p.input_dims[0] = 1;
  p.input_dims[1] = 2;
  p.before[0] = 1;
  p.after[1] = 3;  // padding larger than the input
  const int8_t in[] = {5, 6}, z = -128;
  std::vector<int8_t> out(2 * 5);
  Pad(p, in, out.data(), 1, &z);
  EXPECT_EQ(out, (std::vector<int8_t>{-128, -128, -128, -128, -128, 5, 6, -128, -128, -128}));
}

TEST(ReferenceConcatenation, CopyAndRescale) {
  const int sizes[] = {1, 2};
  ConcatParams p;
  p.num_inputs = 2;
  p.outer = 2;
  p.axis_sizes = sizes;
  const float a[] = {1, 2}, b[] = {3, 4, 5, 6};
  const void* ins[] = {a, b};
  float out[6];
  Concatenation(p, ins, out, sizeof(float));
  EXPECT_EQ(std::vector<float>(out, out + 6), (std::vector<float>{1, 3, 4, 2, 5, 6}));
  // Input 0 at (0.5, 0) into output (1, 0): 5 -> 2.5 -> 3 (half away from zero); input 1 copied.
  const int8_t qa[] = {5, -5}, qb[] = {1, 2, 3, 4};
  const int8_t* qins[] = {qa, qb};
  const ConcatQuant iq[] = {{0.5f, 0}, {1.f, 0}};
  int8_t qo[6];
  ConcatenationInt8(p, iq, {1.f, 0}, qins, qo);
  EXPECT_EQ(std::vector<int8_t>(qo, qo + 6), (std::vector<int8_t>{3, 1, 2, -3, 3, 4}));
}

TEST(ReferenceResizeBilinear, AlignCornersAndHalfPixel) {
  ResizeBilinearParams p;
  p.input_h = 1;
  p.input_w = 2;
  p.channels = 1;
  p.output_h = 1;
  p.output_w = 3;
  const float in[] = {0, 1};
  float out[4];
  p.align_corners = true;  // scale (2-1)/(3-1) = 0.5
  ResizeBilinearFloat(p, in, out);
  EXPECT_EQ(std::vector<float>(out, out + 3), (std::vector<float>{0, 0.5f, 1}));
  p.align_corners = false;  // scale 2/3: 0, 0.667, 1 (clamped at the right edge)
  ResizeBilinearFloat(p, in, out);
  EXPECT_FLOAT_EQ(out[1], 2.f / 3);
  EXPECT_FLOAT_EQ(out[2], 1.f);
  p.output_w = 4;  // half pixel, scale 0.5: src = -0.25, 0.25, 0.75, 1.25 -> 0, 0.25, 0.75, 1
  p.half_pixel_centers = true;
  ResizeBilinearFloat(p, in, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{0, 0.25f, 0.75f, 1}));
  const int8_t q[] = {-128, 127};
  int8_t qo[4];
  ResizeBilinearInt8(p, q, qo);
  EXPECT_EQ(std::vector<int8_t>(qo, qo + 4), (std::vector<int8_t>{-128, -64, 63, 127}));  // -64.25, 63.25
}

TEST(ReferenceDepthToSpace, Block2) {
  DepthToSpaceParams p{1, 1, 2, 4, 2};
  const float in[] = {1, 2, 3, 4, 5, 6, 7, 8};
  float out[8];
  DepthToSpace(p, in, out, sizeof(float));
  // out [1, 2, 4, 1]: row 0 = (1 2)(5 6), row 1 = (3 4)(7 8)
  EXPECT_EQ(std::vector<float>(out, out + 8), (std::vector<float>{1, 2, 5, 6, 3, 4, 7, 8}));
}

TEST(ReferenceQuantize, ModesAndRequantize) {
  const float x[] = {0.5f, -0.5f, 1.5f, 1000.f, -1000.f};
  int8_t q[5];
  QuantizeFloatToInt8(5, x, 1.f, 0, RequantMode::kTflite, q);
  EXPECT_EQ(std::vector<int8_t>(q, q + 5), (std::vector<int8_t>{1, -1, 2, 127, -128}));
  QuantizeFloatToInt8(5, x, 1.f, 0, RequantMode::kXnnpack, q);
  EXPECT_EQ(std::vector<int8_t>(q, q + 5), (std::vector<int8_t>{0, 0, 2, 127, -128}));
  uint8_t u[5];
  QuantizeFloatToUint8(5, x, 1.f, 128, RequantMode::kTflite, u);
  EXPECT_EQ(u[0], 129);
  // uint8 (Z 128) -> int8 (Z 0) at the same scale is a shift by 128.
  RequantizeParams r;
  r.input_zp = 128;
  r.requant = MakeRequant(1.0);
  const uint8_t in8[] = {0, 128, 255};
  int8_t out8[3];
  Requantize8(r, 3, in8, false, out8, true);
  EXPECT_EQ(std::vector<int8_t>(out8, out8 + 3), (std::vector<int8_t>{-128, 0, 127}));
}

// Requantize at s_in / s_out = 0.25: -6 -> -1.5. TFLite's Q31 path rounds the final shift half
// away from zero (-2); XNNPACK's Q8 multiplier (64) rounds half up (-1).
TEST(ReferenceQuantize, RequantizeModesDifferOnTies) {
  RequantizeParams p;
  PrepareRequantize(1.f, 0, 4.f, 0, true, RequantMode::kTflite, &p);
  const int8_t in[] = {-6, 6, -128};
  int8_t out[3];
  Requantize8(p, 3, in, true, out, true);
  EXPECT_EQ(std::vector<int8_t>(out, out + 3), (std::vector<int8_t>{-2, 2, -32}));
  PrepareRequantize(1.f, 0, 4.f, 0, true, RequantMode::kXnnpack, &p);
  EXPECT_EQ(p.xnn_multiplier, 64);
  Requantize8(p, 3, in, true, out, true);
  EXPECT_EQ(std::vector<int8_t>(out, out + 3), (std::vector<int8_t>{-1, 2, -32}));
}

TEST(ReferenceResizeBilinear, XnnpackQ11HalfPixel) {
  ResizeBilinearParams p;
  p.input_h = 1;
  p.input_w = 2;
  p.channels = 1;
  p.output_h = 1;
  p.output_w = 4;
  p.half_pixel_centers = true;
  p.mode = RequantMode::kXnnpack;
  const int8_t q[] = {-128, 127};
  int8_t qo[4];
  ResizeBilinearInt8(p, q, qo);
  // alphas 0, 512, 1536, 0 (Q11): (-128*2^22 + 255*512*2^11 + 2^21) >> 22 = floor(-63.75) = -64
  EXPECT_EQ(std::vector<int8_t>(qo, qo + 4), (std::vector<int8_t>{-128, -64, 63, 127}));
}

TEST(ReferenceDequantize, Float16AndPerChannel) {
  const uint16_t h[] = {0x3C00, 0xC000, 0x0001};  // 1, -2, smallest subnormal
  float f[3];
  DequantizeFloat16(3, h, f);
  EXPECT_EQ(f[0], 1.f);
  EXPECT_EQ(f[1], -2.f);
  EXPECT_EQ(f[2], std::ldexp(1.f, -24));
  // [2, 2] per-channel along dim 0: scales {0.5, 2}, zero points {0, -128}.
  const float scales[] = {0.5f, 2.f};
  const int64_t zps[] = {0, -128};
  DequantizeParams p{scales, zps, 2, 2};
  const int8_t q[] = {-128, 4, -128, -127};
  float out[4];
  DequantizeInt8(p, 4, q, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{-64, 2, 0, 2}));
}

TEST(ReferenceDensify, CsrMatrix) {
  // [[0, 1, 0], [2, 0, 3]]: dim 0 dense, dim 1 CSR.
  DensifyParams p;
  p.dense_shape = {2, 3};
  p.traversal_order = {0, 1};
  p.levels.resize(2);
  p.levels[0].dense_size = 2;
  p.levels[1].sparse = true;
  p.levels[1].segments = {0, 1, 3};
  p.levels[1].indices = {1, 0, 2};
  const float values[] = {1, 2, 3};
  float out[6];
  ASSERT_TRUE(Densify(p, values, 3, out, sizeof(float)));
  EXPECT_EQ(std::vector<float>(out, out + 6), (std::vector<float>{0, 1, 0, 2, 0, 3}));
  p.levels[1].indices = {1, 0, 7};  // out of range
  EXPECT_FALSE(Densify(p, values, 3, out, sizeof(float)));
}

TEST(ReferenceDensify, BlockSparse) {
  // 2x4 matrix in 1x2 blocks: dims (row, block col, in-block col); block col CSR.
  // Dense [[0, 0, 1, 2], [3, 4, 0, 0]].
  DensifyParams p;
  p.dense_shape = {2, 4};
  p.traversal_order = {0, 1, 2};
  p.block_map = {1};
  p.levels.resize(3);
  p.levels[0].dense_size = 2;
  p.levels[1].sparse = true;
  p.levels[1].segments = {0, 1, 2};
  p.levels[1].indices = {1, 0};
  p.levels[2].dense_size = 2;
  const float values[] = {1, 2, 3, 4};
  float out[8];
  ASSERT_TRUE(Densify(p, values, 4, out, sizeof(float)));
  EXPECT_EQ(std::vector<float>(out, out + 8), (std::vector<float>{0, 0, 1, 2, 3, 4, 0, 0}));
}

}  // namespace
}  // namespace qat::kernels::reference
