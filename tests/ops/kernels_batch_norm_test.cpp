// Training-mode batch norm forward / backward against a double-precision reference; the
// backward is also checked against the definition (finite differences of a scalar loss).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ops/kernels/float_kernels.h"
#include "qat/error.h"

namespace qat::ops::kernels {
namespace {

struct Ref {
  std::vector<double> y, mean, var, dx, dgamma, dbeta;
};

Ref reference(int64_t R, int C, const std::vector<float>& x, const std::vector<float>& gamma,
              const std::vector<float>& beta, const std::vector<float>& dy, double eps) {
  Ref r;
  r.y.resize(R * C), r.dx.resize(R * C), r.mean.assign(C, 0), r.var.assign(C, 0), r.dgamma.assign(C, 0),
      r.dbeta.assign(C, 0);
  for (int c = 0; c < C; ++c) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < R; ++i) m += x[i * C + c];
    m /= R;
    for (int64_t i = 0; i < R; ++i) v += (x[i * C + c] - m) * (x[i * C + c] - m);
    v /= R;
    double inv = 1 / std::sqrt(v + eps), sdy = 0, sdyxh = 0;
    for (int64_t i = 0; i < R; ++i) {
      double xh = (x[i * C + c] - m) * inv;
      r.y[i * C + c] = xh * gamma[c] + beta[c];
      sdy += dy[i * C + c], sdyxh += dy[i * C + c] * xh;
    }
    for (int64_t i = 0; i < R; ++i) {
      double xh = (x[i * C + c] - m) * inv;
      r.dx[i * C + c] = gamma[c] * inv * (dy[i * C + c] - sdy / R - xh * sdyxh / R);
    }
    r.mean[c] = m, r.var[c] = v, r.dgamma[c] = sdyxh, r.dbeta[c] = sdy;
  }
  return r;
}

void check(int64_t R, int C, float offset, float scale, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << "rows=" << R << " C=" << C << " offset=" << offset);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(R * C), dy(R * C), gamma(C), beta(C);
  for (auto& v : x) v = offset + scale * u(rng);
  for (auto& v : dy) v = u(rng);
  for (auto& v : gamma) v = 0.5f + u(rng);
  for (auto& v : beta) v = u(rng);
  const float eps = 1e-3f;
  Ref r = reference(R, C, x, gamma, beta, dy, eps);
  std::vector<float> y(R * C, NAN), mean(C), var(C), dx(R * C, NAN), dg(C), db(C);
  batch_norm_forward_training(R, C, x.data(), gamma.data(), beta.data(), eps, y.data(), mean.data(), var.data());
  for (int c = 0; c < C; ++c) {
    ASSERT_NEAR(mean[c], r.mean[c], 1e-5 * (std::fabs(offset) + scale)) << c;
    ASSERT_NEAR(var[c], r.var[c], 1e-4 * r.var[c] + 1e-7) << c;
  }
  for (int64_t i = 0; i < R * C; ++i) ASSERT_NEAR(y[i], r.y[i], 2e-4 * (1 + std::fabs(r.y[i]))) << i;
  batch_norm_backward(R, C, x.data(), dy.data(), gamma.data(), mean.data(), var.data(), eps, dx.data(), dg.data(),
                      db.data());
  for (int c = 0; c < C; ++c) {
    ASSERT_NEAR(db[c], r.dbeta[c], 1e-4 * std::sqrt((double)R) + 1e-5) << c;
    ASSERT_NEAR(dg[c], r.dgamma[c], 1e-4 * std::sqrt((double)R) + 1e-5) << c;
  }
  double dx_scale = 0;
  for (auto v : r.dx) dx_scale = std::max(dx_scale, std::fabs(v));
  for (int64_t i = 0; i < R * C; ++i) ASSERT_NEAR(dx[i], r.dx[i], 2e-4 * (dx_scale + 1e-3)) << i;
}

TEST(KernelsBatchNorm, Shapes) {
  check(128 * 28 * 28, 32, 0.f, 1.f, 1);  // SmallCNN BN 1 (threaded)
  check(2 * 7 * 7, 128, 0.3f, 2.f, 2);
  check(1, 5, 0.f, 1.f, 3);               // a single row: var 0
  check(37, 1, 0.f, 1.f, 4);              // one channel
  check(1000, 7, 0.f, 1.f, 5);
  check(4000, 3, 1000.f, 0.5f, 6);        // large mean against the spread
}

TEST(KernelsBatchNorm, BackwardMatchesFiniteDifferences) {
  // loss = sum(y * w): dy = w, and d loss / dx_i by central differences in double.
  const int64_t R = 6;
  const int C = 2;
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(R * C), w(R * C), gamma{1.3f, 0.7f}, beta{0.1f, -0.2f};
  for (auto& v : x) v = u(rng);
  for (auto& v : w) v = u(rng);
  const float eps = 1e-3f;
  std::vector<float> y(R * C), mean(C), var(C), dx(R * C), dg(C), db(C);
  batch_norm_forward_training(R, C, x.data(), gamma.data(), beta.data(), eps, y.data(), mean.data(), var.data());
  batch_norm_backward(R, C, x.data(), w.data(), gamma.data(), mean.data(), var.data(), eps, dx.data(), dg.data(),
                      db.data());
  for (int64_t i = 0; i < R * C; ++i) {
    auto loss = [&](double delta) {
      std::vector<float> g(1);
      std::vector<float> dummy;
      Ref r = reference(R, C,
                        [&] {
                          auto xx = x;
                          xx[i] += (float)delta;
                          return xx;
                        }(),
                        gamma, beta, w, eps);
      double s = 0;
      for (int64_t j = 0; j < R * C; ++j) s += r.y[j] * w[j];
      return s;
    };
    double h = 1e-2;
    EXPECT_NEAR(dx[i], (loss(h) - loss(-h)) / (2 * h), 2e-3) << i;
  }
}

TEST(KernelsBatchNorm, BadArgsThrow) {
  float v = 0;
  EXPECT_THROW(batch_norm_forward_training(0, 3, &v, &v, &v, 1e-3f, &v, &v, &v), qat::ShapeError);
}

}  // namespace
}  // namespace qat::ops::kernels
