// ADD / SUB / MUL (broadcasting), activations and their 8-bit tables, SOFTMAX.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "kernels/reference/activations.h"
#include "kernels/reference/arithmetic.h"
#include "kernels/reference/softmax.h"

namespace qat::kernels::reference {
namespace {

TEST(ReferenceArithmetic, BroadcastShape) {
  const int a[] = {2, 1, 3}, b[] = {4, 1};
  BroadcastShape s;
  ASSERT_TRUE(MakeBroadcastShape(a, 3, b, 2, &s));
  EXPECT_EQ(s.rank, 3);
  EXPECT_EQ(s.dims[0], 2);
  EXPECT_EQ(s.dims[1], 4);
  EXPECT_EQ(s.dims[2], 3);
  EXPECT_EQ(s.stride1[1], 0);
  EXPECT_EQ(s.stride2[2], 0);
  const int c[] = {3}, d[] = {2};
  EXPECT_FALSE(MakeBroadcastShape(c, 1, d, 1, &s));
}

TEST(ReferenceArithmetic, FloatBroadcast) {
  const int a[] = {2, 2}, b[] = {2};
  BroadcastShape s;
  ASSERT_TRUE(MakeBroadcastShape(a, 2, b, 1, &s));
  ArithmeticParams p;
  const float x[] = {1, 2, 3, 4}, y[] = {10, 20};
  float out[4];
  AddFloat(p, s, x, y, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{11, 22, 13, 24}));
  SubFloat(p, s, x, y, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{-9, -18, -7, -16}));
  p.float_act = ActivationRangeFloat(Activation::kRelu6);
  MulFloat(p, s, x, y, out);
  EXPECT_EQ(std::vector<float>(out, out + 4), (std::vector<float>{6, 6, 6, 6}));
}

TEST(ReferenceArithmetic, Int8AddSubMul) {
  const int n[] = {3};
  BroadcastShape s;
  ASSERT_TRUE(MakeBroadcastShape(n, 1, n, 1, &s));
  ArithmeticParams p;
  // Equal scales 0.5, Z1 = -128 (range end), Z2 = 0, output scale 1, Z_out = 0:
  // real = 0.5 (q1 + 128) + 0.5 q2.
  PrepareAddSubQuantized(0.5f, -128, 0.5f, 0, 1.f, 0, &p);
  const int8_t a[] = {-128, -126, 127}, b[] = {4, 5, 127};
  int8_t out[3];
  AddInt8(p, s, a, b, out);
  EXPECT_EQ(out[0], 2);    // 0 + 2
  EXPECT_EQ(out[1], 4);    // 1 + 2.5 = 3.5 -> 4
  EXPECT_EQ(out[2], 127);  // 127.5 + 63.5 saturates
  SubInt8(p, s, a, b, out);
  EXPECT_EQ(out[0], -2);
  EXPECT_EQ(out[1], -2);  // 1 - 2.5 = -1.5 -> -2 (away from zero)
  // MUL: (0.5 q1)(0.5 q2) / 0.25 = q1 q2.
  PrepareMulQuantized(0.5f, 0, 0.5f, 0, 0.25f, 0, &p);
  const int8_t m1[] = {-128, 3, -11}, m2[] = {1, 5, 11};
  MulInt8(p, s, m1, m2, out);
  EXPECT_EQ(out[0], -128);
  EXPECT_EQ(out[1], 15);
  EXPECT_EQ(out[2], -121);
}

TEST(ReferenceActivations, FloatFunctions) {
  const float x[] = {-4, -1, 0, 1, 4};
  float y[5];
  HardSwishFloat(5, x, y);
  EXPECT_EQ(std::vector<float>(y, y + 5), (std::vector<float>{0, -1.f / 3, 0, 2.f / 3, 4}));
  ReluXFloat(5, x, y, 0.f, 6.f);
  EXPECT_EQ(std::vector<float>(y, y + 5), (std::vector<float>{0, 0, 0, 1, 4}));
  LogisticFloat(5, x, y);
  EXPECT_FLOAT_EQ(y[2], 0.5f);
  TanhFloat(5, x, y);
  EXPECT_FLOAT_EQ(y[2], 0.f);
}

TEST(ReferenceActivations, Int8Tables) {
  // LOGISTIC with the spec's output (1/256, -128): 0 -> 0.5 -> 128 - 128 = 0; INT8_MIN at scale
  // 1/16 is -8 -> 0.000335 -> 0.09 -> -128.
  LookupTable t = MakeLogisticTable(true, 1.f / 16, 0, 1.f / 256, -128, RequantMode::kTflite);
  const int8_t in[] = {0, -128, 127};
  int8_t out[3];
  LookupTableInt8(t, 3, in, out);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], -128);
  EXPECT_EQ(out[2], 127);  // 0.99966 * 256 = 255.9 -> 256 - 128 clamps to 127
  // TANH (1/128, 0): q = 0 -> 0.
  t = MakeTanhTable(true, 1.f / 32, 0, 1.f / 128, 0, RequantMode::kXnnpack);
  LookupTableInt8(t, 3, in, out);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], -128);  // tanh(-4) * 128 = -127.9 -> -128
  // RELU with Z_in = Z_out = -10, equal scales: below the zero point clamps to it.
  t = MakeReluXTable(true, 1.f, -10, 1.f, -10, 0.f, INFINITY);
  const int8_t r[] = {-20, -10, 50};
  LookupTableInt8(t, 3, r, out);
  EXPECT_EQ(out[0], -10);
  EXPECT_EQ(out[1], -10);
  EXPECT_EQ(out[2], 50);
  // RELU6 at scale 0.1: 6 -> 60.
  t = MakeReluXTable(true, 0.1f, 0, 0.1f, 0, 0.f, 6.f);
  const int8_t r6[] = {-5, 59, 100};
  LookupTableInt8(t, 3, r6, out);
  EXPECT_EQ(out[0], 0);
  EXPECT_EQ(out[1], 59);
  EXPECT_EQ(out[2], 60);
  // HARD_SWISH at scale 1: 3 -> 3 * 6 / 6 = 3; -3 -> 0; 1 -> 4/6 = 0.67 -> 1.
  t = MakeHardSwishTable(true, 1.f, 0, 1.f, 0, RequantMode::kTflite);
  const int8_t h[] = {3, -3, 1};
  LookupTableInt8(t, 3, h, out);
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[1], 0);
  EXPECT_EQ(out[2], 1);
}

TEST(ReferenceSoftmax, FloatAndInt8) {
  SoftmaxParams p;
  p.depth = 2;
  const float x[] = {0.f, std::log(2.f)};
  float y[2];
  SoftmaxFloat(p, x, y);
  EXPECT_NEAR(y[0], 1.f / 3, 1e-6);
  EXPECT_NEAR(y[1], 2.f / 3, 1e-6);
  // Two equal int8 logits: 0.5 each -> 128 - 128 = 0.
  p.input_scale = 0.1f;
  PrepareSoftmaxQuantized(&p);
  const int8_t q[] = {-128, -128};
  int8_t qo[2];
  SoftmaxInt8(p, q, qo);
  EXPECT_EQ(qo[0], 0);
  EXPECT_EQ(qo[1], 0);
}

}  // namespace
}  // namespace qat::kernels::reference
