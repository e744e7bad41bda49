// The fused BN + activation (+ max pool) kernels against the chain of the unfused kernels
// (themselves tested against naive references): batch_norm -> act -> max_pool, and back.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "ops/kernels/float_kernels.h"

namespace qat::ops::kernels {
namespace {

float act_f(Act a, float z) {
  if (a == Act::kRelu) return std::max(z, 0.f);
  if (a == Act::kRelu6) return std::min(std::max(z, 0.f), 6.f);
  return z;
}
bool act_pass(Act a, float y) {
  if (a == Act::kRelu) return y > 0.f;
  if (a == Act::kRelu6) return y > 0.f && y < 6.f;
  return true;
}

struct Data {
  std::vector<float> x, gamma, beta, dy;
};
Data make(int64_t n, int C, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.5f, 2.f);
  Data d;
  d.x.resize(n), d.dy.resize(n), d.gamma.resize(C), d.beta.resize(C);
  for (auto& v : d.x) v = nd(rng);
  for (auto& v : d.dy) v = nd(rng);
  for (int c = 0; c < C; ++c) d.gamma[c] = (c % 3 == 2 ? -1.f : 1.f) * (0.5f + 0.1f * c), d.beta[c] = 0.3f * c - 1;
  return d;
}

void expect_near_all(const std::vector<float>& a, const std::vector<float>& b, double tol, const char* what) {
  ASSERT_EQ(a.size(), b.size());
  double scale = 0;
  for (float v : b) scale = std::max(scale, (double)std::fabs(v));
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], tol * (scale + 1e-3)) << what << "[" << i << "]";
}

TEST(KernelsFused, BatchNormAct) {
  for (Act act : {Act::kNone, Act::kRelu, Act::kRelu6}) {
    const int64_t R = 3000;
    const int C = 13;
    Data d = make(R * C, C, 1 + (int)act);
    std::vector<float> y(R * C), m(C), v(C), yf(R * C), mf(C), vf(C);
    batch_norm_forward_training(R, C, d.x.data(), d.gamma.data(), d.beta.data(), 1e-3f, y.data(), m.data(), v.data());
    for (auto& e : y) e = act_f(act, e);
    batch_norm_act_forward_training(R, C, d.x.data(), d.gamma.data(), d.beta.data(), 1e-3f, act, yf.data(), mf.data(),
                                    vf.data());
    expect_near_all(yf, y, 1e-5, "y");
    std::vector<float> dz(R * C), dx(R * C), dg(C), db(C), dxf(R * C), dgf(C), dbf(C);
    for (int64_t i = 0; i < R * C; ++i) dz[i] = act_pass(act, y[i]) ? d.dy[i] : 0.f;
    batch_norm_backward(R, C, d.x.data(), dz.data(), d.gamma.data(), m.data(), v.data(), 1e-3f, dx.data(), dg.data(),
                        db.data());
    batch_norm_act_backward(R, C, d.x.data(), yf.data(), d.dy.data(), d.gamma.data(), mf.data(), vf.data(), 1e-3f, act,
                            dxf.data(), dgf.data(), dbf.data());
    expect_near_all(dxf, dx, 1e-5, "dx");
    expect_near_all(dgf, dg, 1e-5, "dgamma");
    expect_near_all(dbf, db, 1e-5, "dbeta");
  }
}

void check_pool(const PoolGeom& g, Act act, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << "N=" << g.N << " H=" << g.H << " C=" << g.C << " K=" << g.KH << " s="
                                  << g.stride_h << " act=" << (int)act);
  const int64_t rows = (int64_t)g.N * g.H * g.W, nq = (int64_t)g.N * g.OH * g.OW * g.C;
  const int C = g.C;
  Data d = make(rows * C, C, seed);
  std::vector<float> dq(d.dy.begin(), d.dy.begin() + nq);
  // Chain: BN -> act -> max pool; back: max pool -> act mask -> BN.
  std::vector<float> z(rows * C), m(C), v(C), q(nq), dz(rows * C), dx(rows * C), dg(C), db(C);
  std::vector<int32_t> am(nq);
  batch_norm_act_forward_training(rows, C, d.x.data(), d.gamma.data(), d.beta.data(), 1e-3f, act, z.data(), m.data(),
                                  v.data());
  max_pool_forward(g, z.data(), q.data(), am.data());
  max_pool_backward(g, dq.data(), am.data(), dz.data());
  batch_norm_act_backward(rows, C, d.x.data(), z.data(), dz.data(), d.gamma.data(), m.data(), v.data(), 1e-3f, act,
                          dx.data(), dg.data(), db.data());
  // Fused.
  std::vector<float> qf(nq), mf(C), vf(C), dxf(rows * C), dgf(C), dbf(C);
  std::vector<int32_t> amf(nq);
  batch_norm_act_max_pool_forward_training(g, d.x.data(), d.gamma.data(), d.beta.data(), 1e-3f, act, qf.data(),
                                           amf.data(), mf.data(), vf.data());
  expect_near_all(qf, q, 1e-5, "q");
  for (int64_t i = 0; i < nq; ++i)
    if (act_pass(act, q[i])) ASSERT_EQ(amf[i], am[i]) << i;  // may differ only where the gradient is masked
  batch_norm_act_max_pool_backward(g, d.x.data(), qf.data(), dq.data(), amf.data(), d.gamma.data(), mf.data(),
                                   vf.data(), 1e-3f, act, dxf.data(), dgf.data(), dbf.data());
  expect_near_all(dxf, dx, 1e-5, "dx");
  expect_near_all(dgf, dg, 1e-5, "dgamma");
  expect_near_all(dbf, db, 1e-5, "dbeta");
}

TEST(KernelsFused, BatchNormActMaxPool) {
  check_pool(PoolGeom{16, 28, 28, 32, 2, 2, 2, 2, 0, 0, 0, 0, 14, 14}, Act::kRelu, 1);  // SmallCNN block 1
  check_pool(PoolGeom{3, 7, 7, 6, 2, 2, 2, 2, 0, 0, 1, 1, 4, 4}, Act::kRelu6, 2);        // SAME, odd size
  check_pool(PoolGeom{2, 9, 8, 5, 3, 3, 2, 2, 1, 1, 1, 0, 5, 4}, Act::kNone, 3);         // overlapping windows
  check_pool(PoolGeom{2, 6, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, 6, 6}, Act::kRelu, 4);
}

}  // namespace
}  // namespace qat::ops::kernels
