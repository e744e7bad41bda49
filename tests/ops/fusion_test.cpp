// Executor fusions (src/ops/fusions.cpp) give the same values as the unfused ops, and are not
// applied when the fused edge is needed elsewhere.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>

#include "qat/graph.h"
#include "qat/ops.h"

namespace qat::graph {
namespace {
namespace o = qat::ops;

Tensor rnd(const Shape& s, uint32_t seed) {
  std::mt19937 r(seed);
  std::uniform_real_distribution<float> d(-2, 2);
  Tensor t = Tensor::zeros(s);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = d(r);
  return t;
}

void expect_same(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  double worst = 0;
  for (int64_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::fabs(a.at(i) - b.at(i)) / (1e-3 + std::fabs(b.at(i))));
  EXPECT_LT(worst, 1e-3) << what;
  if (std::getenv("QAT_VERBOSE")) std::printf("%s worst rel diff %.3g\n", what.c_str(), worst);
}

TEST(Fusion, BatchNormActivationForwardAndBackward) {
  o::register_standard_ops();
  for (bool six : {false, true}) {
    Graph g;
    Output x = o::placeholder(g, DType::kFloat32, {-1, 6, 6, 4}, "x");
    Output w = o::variable(g, "w", rnd({3, 3, 4, 8}, 1));
    Output gamma = o::variable(g, "gamma", rnd({8}, 2));
    Output beta = o::variable(g, "beta", rnd({8}, 3));
    Output mm = o::variable(g, "mm", Tensor::zeros({8}), false);
    Output mv = o::variable(g, "mv", Tensor::filled({8}, 1), false);
    Output h = o::conv2d(g, x, w);
    auto bn = o::batch_norm(g, h, gamma, beta, mm, mv, true, 0.9, 1e-3);
    Output a = six ? o::relu6(g, bn.y) : o::relu(g, bn.y);
    Output loss = o::mean(g, o::mul(g, a, o::constant(g, rnd({2, 6, 6, 8}, 4))), {0, 1, 2, 3});
    auto grads = gradients(g, loss, {w, gamma, beta, x});
    std::vector<Output> fetches = {loss, a};
    fetches.insert(fetches.end(), grads.begin(), grads.end());
    VariableStore v1, v2;
    v1.initialize(g);
    v2.initialize(g);
    Session fused(g, v1), plain(g, v2);
    plain.set_fusion(false);
    fused.set_profiling(true);
    Session::Feeds feeds{{x, rnd({2, 6, 6, 4}, 5)}};
    auto rf = fused.run(feeds, fetches, g.collection(kUpdateOps));
    auto rp = plain.run(feeds, fetches, g.collection(kUpdateOps));
    for (size_t i = 0; i < rf.size(); ++i) expect_same(rf[i], rp[i], fetches[i].str());
    expect_same(v1.get("mv"), v2.get("mv"), "moving variance");
    std::string prof = fused.profile_report();
    std::string act = six ? "Relu6" : "Relu";
    EXPECT_NE(prof.find("FusedBatchNorm+" + act), std::string::npos) << prof;
    EXPECT_NE(prof.find(act + "Grad+FusedBatchNormGrad"), std::string::npos) << prof;
  }
}

TEST(Fusion, NotAppliedWhenTheEdgeIsFetched) {
  o::register_standard_ops();
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {4, 3}, "x");
  auto bn = o::batch_norm(g, x, o::constant(g, Tensor::filled({3}, 1)), o::constant(g, Tensor::zeros({3})),
                          o::variable(g, "mm", Tensor::zeros({3}), false),
                          o::variable(g, "mv", Tensor::filled({3}, 1), false), true);
  Output r = o::relu(g, bn.y);
  VariableStore v;
  v.initialize(g);
  Session s(g, v);
  s.set_profiling(true);
  auto out = s.run({{x, rnd({4, 3}, 9)}}, {bn.y, r});
  for (int64_t i = 0; i < out[0].size(); ++i) EXPECT_EQ(out[1].at(i), std::max(0.0, out[0].at(i)));
  EXPECT_EQ(s.profile_report().find("FusedBatchNorm+Relu"), std::string::npos);
}

}  // namespace
}  // namespace qat::graph
