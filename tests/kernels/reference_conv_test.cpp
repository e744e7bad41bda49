// CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / transposed conv reference kernels: hand-derived
// golden vectors, plus a randomised cross-check of the integer loops against a naive formula on
// awkward shapes (K not a multiple of any tile, strides, dilation, padding).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kernels/reference/conv.h"
#include "kernels/reference/depthwise_conv.h"
#include "kernels/reference/fully_connected.h"
#include "kernels/reference/transpose_conv_bias.h"

namespace qat::kernels::reference {
namespace {

ConvParams Shape(int h, int w, int ic, int oc, int fh, int fw, Padding pad, int stride = 1, int dil = 1) {
  ConvParams p;
  p.input_h = h;
  p.input_w = w;
  p.input_c = ic;
  p.output_c = oc;
  p.filter_h = fh;
  p.filter_w = fw;
  p.stride_h = p.stride_w = stride;
  p.dilation_h = p.dilation_w = dil;
  ComputePadding(pad, h, fh, stride, dil, &p.output_h, &p.pad_top);
  ComputePadding(pad, w, fw, stride, dil, &p.output_w, &p.pad_left);
  return p;
}

TEST(ReferenceConv, Padding) {
  int out, pad;
  ComputePadding(Padding::kSame, 5, 3, 2, 1, &out, &pad);  // ceil(5/2)=3, total (3-1)*2+3-5=2
  EXPECT_EQ(out, 3);
  EXPECT_EQ(pad, 1);
  ComputePadding(Padding::kSame, 4, 3, 2, 1, &out, &pad);  // total 1: the odd pixel goes at the end
  EXPECT_EQ(out, 2);
  EXPECT_EQ(pad, 0);
  ComputePadding(Padding::kValid, 7, 3, 2, 2, &out, &pad);  // effective 5: (7-5+2)/2 = 2
  EXPECT_EQ(out, 2);
  EXPECT_EQ(pad, 0);
}

TEST(ReferenceConv, Float1x1Spatial) {
  ConvParams p = Shape(1, 1, 2, 2, 1, 1, Padding::kValid);
  const float in[] = {1, 2}, w[] = {1, 1, 2, -1}, b[] = {0.5f, 0};
  float out[2];
  ConvFloat(p, in, w, b, out);
  EXPECT_FLOAT_EQ(out[0], 3.5f);
  EXPECT_FLOAT_EQ(out[1], 0.f);
  p.float_act = ActivationRangeFloat(Activation::kRelu6);
  const float in2[] = {10, 0};
  ConvFloat(p, in2, w, b, out);
  EXPECT_FLOAT_EQ(out[0], 6.f);  // 10.5 clamped
  EXPECT_FLOAT_EQ(out[1], 6.f);  // 20 clamped
}

TEST(ReferenceConv, FloatSame3x3SumsNeighbourhoods) {
  ConvParams p = Shape(3, 3, 1, 1, 3, 3, Padding::kSame);
  std::vector<float> in = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w(9, 1.f), out(9), out2(9), packed(9);
  ConvFloat(p, in.data(), w.data(), nullptr, out.data());
  EXPECT_EQ(out, (std::vector<float>{12, 21, 16, 27, 45, 33, 24, 39, 28}));
  PackConvFilterHWIO(p, w.data(), packed.data());
  ConvFloatHWIO(p, in.data(), packed.data(), nullptr, out2.data());
  EXPECT_EQ(out, out2);
}

// Padding larger than the kernel: output rows entirely in the padding get the bias only.
TEST(ReferenceConv, PaddingLargerThanKernel) {
  ConvParams p = Shape(2, 2, 1, 1, 1, 1, Padding::kValid);
  p.pad_top = 2;
  p.pad_left = 2;
  p.output_h = p.output_w = 4;
  const float in[] = {1, 2, 3, 4}, w[] = {10}, b[] = {0.5f};
  std::vector<float> out(16);
  ConvFloat(p, in, w, b, out.data());
  EXPECT_EQ(out, (std::vector<float>{0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 10.5f, 20.5f, 0.5f,
                                     0.5f, 30.5f, 40.5f}));
  const int8_t qin[] = {1, 2, 3, 4}, qw[] = {1};
  const int32_t qb[] = {7};
  std::vector<int8_t> qout(16);
  const Requant one = MakeRequant(1.0);
  p.input_offset = 0;
  p.output_offset = -3;
  ConvPerChannelInt8(p, &one, qin, qw, qb, qout.data());
  EXPECT_EQ(qout[0], 4);   // bias 7 - 3
  EXPECT_EQ(qout[15], 8);  // 4 + 7 - 3
}

// Zero point at the end of the range (-128), INT8_MIN inputs, and a tie in requantization.
TEST(ReferenceConv, Int8ZeroPointAtRangeEndAndTies) {
  ConvParams p = Shape(1, 1, 2, 2, 1, 1, Padding::kValid);
  p.input_offset = 128;  // Z_in = -128: q = -128 is the real 0
  p.output_offset = 0;
  const int8_t in[] = {-128, 127};  // (0, 255) after the offset
  const int8_t w[] = {1, -1, 127, 127};
  const int32_t b[] = {245, 0};
  const Requant rq[] = {MakeRequant(0.25), MakeRequant(0.25)};
  int8_t out[2];
  p.requant = RequantMode::kTflite;
  ConvPerChannelInt8(p, rq, in, w, b, out);
  EXPECT_EQ(out[0], -3);   // (-255 + 245) * 0.25 = -2.5 -> away from zero (quant_math_test)
  EXPECT_EQ(out[1], 127);  // 32385 * 0.25 clamps
  p.requant = RequantMode::kXnnpack;
  ConvPerChannelInt8(p, rq, in, w, b, out);
  EXPECT_EQ(out[0], -2);  // -2.5 -> even
  EXPECT_EQ(out[1], 127);
  p.act_min = 0;  // a fused ReLU's clamp
  ConvPerChannelInt8(p, rq, in, w, b, out);
  EXPECT_EQ(out[0], 0);
}

TEST(ReferenceConv, Uint8FilterOffset) {
  ConvParams p = Shape(1, 1, 1, 1, 1, 1, Padding::kValid);
  p.input_offset = -128;
  p.filter_offset = -100;
  p.output_offset = 128;
  p.act_min = 0;
  p.act_max = 255;
  const uint8_t in[] = {138}, w[] = {103};  // (10) * (3) = 30
  uint8_t out[1];
  ConvUint8(p, MakeRequant(0.5), in, w, nullptr, out);
  EXPECT_EQ(out[0], 143);  // 15 + 128
}

// Randomised: int8 conv against a naive formula on awkward shapes.
TEST(ReferenceConv, Int8MatchesNaiveOnAwkwardShapes) {
  std::mt19937 rng(1234);
  std::uniform_int_distribution<int> q(-128, 127), qw(-127, 127);
  struct Case { int h, w, ic, oc, fh, fw, stride, dil; Padding pad; };
  for (const Case& c : {Case{5, 7, 7, 3, 3, 3, 1, 1, Padding::kSame}, Case{6, 5, 13, 5, 3, 2, 2, 1, Padding::kSame},
                        Case{9, 9, 3, 4, 3, 3, 1, 2, Padding::kValid}, Case{4, 4, 1, 1, 5, 5, 1, 1, Padding::kSame}}) {
    ConvParams p = Shape(c.h, c.w, c.ic, c.oc, c.fh, c.fw, c.pad, c.stride, c.dil);
    p.input_offset = 77;
    p.output_offset = -5;
    std::vector<int8_t> in(c.h * c.w * c.ic), w(c.oc * c.fh * c.fw * c.ic), out(p.output_h * p.output_w * c.oc);
    std::vector<int32_t> b(c.oc);
    std::vector<Requant> rq;
    for (auto& v : in) v = (int8_t)q(rng);
    for (auto& v : w) v = (int8_t)qw(rng);
    for (int o = 0; o < c.oc; ++o) {
      b[o] = q(rng) * 50;
      rq.push_back(MakeRequant(0.0007 * (o + 1)));
    }
    for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
      p.requant = mode;
      ConvPerChannelInt8(p, rq.data(), in.data(), w.data(), b.data(), out.data());
      for (int oy = 0; oy < p.output_h; ++oy)
        for (int ox = 0; ox < p.output_w; ++ox)
          for (int o = 0; o < c.oc; ++o) {
            int64_t acc = b[o];
            for (int fy = 0; fy < c.fh; ++fy)
              for (int fx = 0; fx < c.fw; ++fx)
                for (int i = 0; i < c.ic; ++i) {
                  const int iy = oy * c.stride - p.pad_top + fy * c.dil, ix = ox * c.stride - p.pad_left + fx * c.dil;
                  if (iy < 0 || ix < 0 || iy >= c.h || ix >= c.w) continue;
                  acc += (int64_t)w[((o * c.fh + fy) * c.fw + fx) * c.ic + i] * (in[(iy * c.w + ix) * c.ic + i] + 77);
                }
            const int32_t want = Clamp(Apply(mode, rq[o], (int32_t)acc) - 5, -128, 127);
            ASSERT_EQ(out[(oy * p.output_w + ox) * c.oc + o], want) << oy << "," << ox << "," << o;
          }
    }
  }
}

TEST(ReferenceDepthwiseConv, DepthMultiplierAndDilation) {
  ConvParams p = Shape(1, 1, 2, 4, 1, 1, Padding::kValid);
  p.depth_multiplier = 2;
  const float in[] = {1, 2}, w[] = {1, 2, 3, 4};
  float out[4];
  DepthwiseConvFloat(p, in, w, nullptr, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{1, 2, 6, 8}));
  // 2x2 filter with dilation 2 on 3x3: VALID output 1x1 = sum of the corners.
  ConvParams d = Shape(3, 3, 1, 1, 2, 2, Padding::kValid, 1, 2);
  ASSERT_EQ(d.output_h, 1);
  const float in3[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w4[] = {1, 1, 1, 1};
  DepthwiseConvFloat(d, in3, w4, nullptr, out);
  EXPECT_FLOAT_EQ(out[0], 1 + 3 + 7 + 9);
  const int8_t qin[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, qw[] = {1, -1, 2, -2};
  int8_t qout[1];
  const Requant one = MakeRequant(1.0);
  d.input_offset = -1;
  DepthwiseConvPerChannelInt8(d, &one, qin, qw, nullptr, qout);
  EXPECT_EQ(qout[0], 0 - 2 + 12 - 16);
}

TEST(ReferenceFullyConnected, Int8KNotAMultipleOfATile) {
  FullyConnectedParams p;
  p.batches = 2;
  p.input_depth = 5;
  p.output_depth = 1;
  p.input_offset = 128;  // Z_in = -128
  const int8_t x[] = {-128, -127, -126, -125, -124, 127, 127, 127, 127, 127};
  const int8_t w[] = {1, 2, 3, 4, 5};
  const int32_t b[] = {-1};
  const Requant rq = MakeRequant(0.5);
  int8_t out[2];
  FullyConnectedInt8(p, &rq, 1, x, w, b, out);
  EXPECT_EQ(out[0], 20);   // (0+2+6+12+20 - 1) = 39 * 0.5 = 19.5 -> 20
  EXPECT_EQ(out[1], 127);  // 255 * 15 saturates
  p.requant = RequantMode::kXnnpack;
  FullyConnectedInt8(p, &rq, 1, x, w, b, out);
  EXPECT_EQ(out[0], 20);  // 19.5 -> 20 (even)
  float fx[] = {1, 2, 3}, fw[] = {1, 1, 1, 0, 0, 2}, fb[] = {1, -1}, fo[2];
  FullyConnectedParams fp;
  fp.input_depth = 3;
  fp.output_depth = 2;
  FullyConnectedFloat(fp, fx, fw, fb, fo);
  EXPECT_FLOAT_EQ(fo[0], 7);
  EXPECT_FLOAT_EQ(fo[1], 5);
  const int8_t hw[] = {2, 2, 2, 0, 0, 4};
  const float hs[] = {0.5f, 0.25f};
  FullyConnectedHybridInt8(fp, hs, 2, fx, hw, fb, fo);
  EXPECT_FLOAT_EQ(fo[0], 7);
  EXPECT_FLOAT_EQ(fo[1], 2);  // 12 * 0.25 - 1
}

// 1x1 input, 2x2 filter, stride 2: the output is the filter scaled by the input, plus the bias.
TEST(ReferenceTransposeConvBias, ScattersTheFilter) {
  ConvParams p;
  p.input_h = p.input_w = 1;
  p.input_c = 1;
  p.output_c = 1;
  p.filter_h = p.filter_w = 2;
  p.stride_h = p.stride_w = 2;
  p.output_h = p.output_w = 2;
  const float in[] = {3}, w[] = {1, 2, 3, 4}, b[] = {0.5f};
  float out[4], out2[4], packed[4];
  TransposeConvBiasFloat(p, in, w, b, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{3.5f, 6.5f, 9.5f, 12.5f}));
  PackConvFilterHWIO(p, w, packed);
  TransposeConvBiasFloatHWIO(p, in, packed, b, out2);
  EXPECT_EQ(std::vector<float>(out, out + 4), std::vector<float>(out2, out2 + 4));
}

}  // namespace
}  // namespace qat::kernels::reference
