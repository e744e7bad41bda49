// Schedules and the optimizers' update rules against hand-computed steps.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "qat/optimizer.h"

namespace qat::train {
namespace {

TEST(Schedule, Constant) {
  Schedule s;
  s.kind = Schedule::Kind::kConstant;
  s.base_lr = 0.1;
  EXPECT_DOUBLE_EQ(s.lr(0), 0.1);
  EXPECT_DOUBLE_EQ(s.lr(100000), 0.1);
}

TEST(Schedule, Step) {
  Schedule s;
  s.kind = Schedule::Kind::kStep;
  s.base_lr = 1.0;
  s.step_size = 10;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(s.lr(0), 1.0);
  EXPECT_DOUBLE_EQ(s.lr(9), 1.0);
  EXPECT_DOUBLE_EQ(s.lr(10), 0.5);
  EXPECT_DOUBLE_EQ(s.lr(25), 0.25);
}

TEST(Schedule, CosineMatchesTheTorchRecipe) {
  Schedule s;
  s.kind = Schedule::Kind::kCosine;
  s.base_lr = 0.05;
  s.total_steps = 1404;  // 3 epochs x 468 steps
  for (int64_t step : {0, 1, 100, 702, 1403}) {
    double want = 0.5 * 0.05 * (1 + std::cos(std::numbers::pi * step / 1404.0));
    EXPECT_NEAR(s.lr(step), want, 1e-15) << step;
  }
  EXPECT_DOUBLE_EQ(s.lr(0), 0.05);
  EXPECT_NEAR(s.lr(702), 0.025, 1e-15);
  EXPECT_NEAR(s.lr(1404), 0.0, 1e-15);
}

TEST(Schedule, WarmupAndParse) {
  Schedule s;
  s.base_lr = 1.0;
  s.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(s.lr(0), 0.25);
  EXPECT_DOUBLE_EQ(s.lr(3), 1.0);
  EXPECT_DOUBLE_EQ(s.lr(4), 1.0);
  EXPECT_EQ(Schedule::parse_kind("cosine"), Schedule::Kind::kCosine);
  EXPECT_THROW(Schedule::parse_kind("linear"), UsageError);
}

TEST(UpdateMath, Sgd) {
  float w[2] = {1.0f, -2.0f};
  const float g[2] = {0.5f, 0.25f};
  sgd_update(w, g, 2, 0.1f, 0.0f);
  EXPECT_FLOAT_EQ(w[0], 0.95f);
  EXPECT_FLOAT_EQ(w[1], -2.025f);
  // L2 weight decay: g' = g + wd * w.
  float u[1] = {2.0f};
  const float h[1] = {1.0f};
  sgd_update(u, h, 1, 0.1f, 0.5f);  // 2 - 0.1 * (1 + 1) = 1.8
  EXPECT_FLOAT_EQ(u[0], 1.8f);
}

TEST(UpdateMath, MomentumTwoSteps) {
  float w[1] = {1.0f}, v[1] = {0.0f};
  const float g1[1] = {1.0f}, g2[1] = {0.5f};
  momentum_update(w, v, g1, 1, 0.1f, 0.9f, 0.0f, false);  // v = 1, w = 0.9
  EXPECT_FLOAT_EQ(v[0], 1.0f);
  EXPECT_FLOAT_EQ(w[0], 0.9f);
  momentum_update(w, v, g2, 1, 0.1f, 0.9f, 0.0f, false);  // v = 0.9 + 0.5 = 1.4, w = 0.9 - 0.14
  EXPECT_FLOAT_EQ(v[0], 1.4f);
  EXPECT_FLOAT_EQ(w[0], 0.76f);
  // Nesterov: v = 1, w -= lr * (g + mu v) = 1 - 0.1 * 1.9.
  float a[1] = {1.0f}, b[1] = {0.0f};
  momentum_update(a, b, g1, 1, 0.1f, 0.9f, 0.0f, true);
  EXPECT_FLOAT_EQ(a[0], 0.81f);
  // Weight decay enters the velocity.
  float c[1] = {2.0f}, d[1] = {0.0f};
  momentum_update(c, d, g1, 1, 0.1f, 0.9f, 0.5f, false);  // v = 1 + 1 = 2, w = 1.8
  EXPECT_FLOAT_EQ(d[0], 2.0f);
  EXPECT_FLOAT_EQ(c[0], 1.8f);
}

TEST(UpdateMath, AdamFirstStepsByHand) {
  float w[1] = {1.0f}, m[1] = {0}, v[1] = {0};
  const float g[1] = {0.5f};
  // t = 1: m = 0.05, v = 0.00025; m_hat = 0.5, v_hat = 0.25; w -= 0.01 * 0.5 / (0.5 + 1e-8).
  adam_update(w, m, v, g, 1, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f, 1);
  EXPECT_FLOAT_EQ(m[0], 0.05f);
  EXPECT_NEAR(v[0], 0.00025, 1e-8);  // (1 - 0.999f) is not exact in float
  EXPECT_NEAR(w[0], 0.99, 1e-6);
  // t = 2 with g = -0.5: m = 0.045 - 0.05 = -0.005, v = 0.00024975 + 0.00025.
  const float g2[1] = {-0.5f};
  adam_update(w, m, v, g2, 1, 0.01f, 0.9f, 0.999f, 1e-8f, 0.0f, 2);
  double mh = -0.005 / (1 - 0.81), vh = (0.999 * 0.00025 + 0.001 * 0.25) / (1 - 0.998001);
  EXPECT_NEAR(w[0], 0.99 - 0.01 * mh / (std::sqrt(vh) + 1e-8), 1e-6);
}

}  // namespace
}  // namespace qat::train
