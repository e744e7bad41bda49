// Executor fusions of the QAT ops (BnFoldApply -> Relu/Relu6, FakeQuantWithMinMaxVarsGradient ->
// ReluGrad/Relu6Grad) give the values of the unfused ops: a QAT conv + folded BN + activation
// layer run with fusion on and off (Session::set_fusion) gives the same forward values,
// gradients, ranges and moving statistics; with and without quant_delay (before and after it).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "qat/ops.h"
#include "qat/quantize.h"
#include "quantize/fake_quant_math.h"
#include "quantize_test_util.h"

using namespace qat;
using graph::Graph;
using graph::Node;
using graph::Output;
namespace q = qat::quantize;
namespace fq = qat::quantize::fq;

namespace {
using qat::quantize_test::rnd;

// Relative difference, worst element (1e-6 absolute floor).
double worst_rel(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double w = 0;
  for (int64_t i = 0; i < a.size(); ++i) w = std::max(w, std::fabs(a.at(i) - b.at(i)) / (1e-6 + std::fabs(b.at(i))));
  return w;
}

// x -> conv(w) -> BN -> act -> loss = mean(act * c), rewritten for QAT. 8x16x16x16 activations
// (32768 values: two threads' worth of work in the element-wise kernels).
struct Net {
  Graph g;
  Output x, c, loss, y;
  std::vector<Output> grads;
};
void build(Net& n, bool relu6, int64_t quant_delay) {
  Graph& g = n.g;
  n.x = ops::placeholder(g, DType::kFloat32, {-1, 16, 16, 3}, "input");
  Output w = ops::variable(g, "conv/kernel", rnd({3, 3, 3, 16}, 4, -0.5f, 0.5f));
  Output conv = ops::conv2d(g, n.x, w, {}, "conv/Conv2D");
  Output gm = ops::variable(g, "bn/gamma", rnd({16}, 5, 0.5f, 1.5f));
  Output bt = ops::variable(g, "bn/beta", rnd({16}, 6, -0.2f, 0.6f));
  Output mm = ops::variable(g, "bn/moving_mean", rnd({16}, 7, -0.1f, 0.1f), false);
  Output mv = ops::variable(g, "bn/moving_variance", rnd({16}, 8, 0.5f, 2.f), false);
  Output bn = ops::batch_norm(g, conv, gm, bt, mm, mv, true, 0.9, 1e-3, "bn/FusedBatchNorm").y;
  n.y = relu6 ? ops::relu6(g, bn, "relu/Relu6") : ops::relu(g, bn, "relu/Relu");
  n.c = ops::placeholder(g, DType::kFloat32, {-1, 16, 16, 16}, "c");
  n.loss = ops::mean(g, ops::mul(g, n.y, n.c), {0, 1, 2, 3}, false, "loss");
  q::QuantizeOptions opt;
  opt.quant_delay = quant_delay;
  q::create_training_graph(g, opt);
  std::vector<Output> xs{n.x, w, gm, bt};
  n.grads = graph::gradients(g, n.loss, xs);
}

struct Case {
  bool relu6;
  int64_t quant_delay;
  int64_t step;
};

class QatFusion : public testing::TestWithParam<Case> {};

TEST_P(QatFusion, FusedEqualsUnfused) {
  const Case k = GetParam();
  q::register_quantize_ops();
  Net n;
  build(n, k.relu6, k.quant_delay);
  // Also fetch the activation FakeQuant's range gradients (outputs 1, 2 of its gradient node).
  std::vector<Output> fetches{n.loss, n.y};
  fetches.insert(fetches.end(), n.grads.begin(), n.grads.end());
  for (Node* v : n.g.nodes())
    if (v->op() == "FakeQuantWithMinMaxVarsGradient" && v->input(1).node->op() == (k.relu6 ? "Relu6" : "Relu")) {
      fetches.push_back(v->output(1));
      fetches.push_back(v->output(2));
    }
  ASSERT_EQ(fetches.size(), 8u);
  graph::VariableStore vf, vp;
  vf.initialize(n.g);
  vp.initialize(n.g);
  const std::string step_name = graph::get_or_create_global_step(n.g).node->name();
  Tensor st = Tensor::from_span<int64_t>({}, std::span<const int64_t>(&k.step, 1));
  vf.set(step_name, st);
  vp.set(step_name, st);
  graph::Session fused(n.g, vf), plain(n.g, vp);
  plain.set_fusion(false);
  fused.set_profiling(true);
  // Two steps: the second runs with the ranges and statistics the first updated.
  for (int it = 0; it < 2; ++it) {
    graph::Session::Feeds feeds{{n.x, rnd({8, 16, 16, 3}, 11 + it, -1.f, 1.f)},
                                {n.c, rnd({8, 16, 16, 16}, 12 + it, -1.f, 1.f)}};
    auto rf = fused.run(feeds, fetches, n.g.collection(graph::kUpdateOps));
    auto rp = plain.run(feeds, fetches, n.g.collection(graph::kUpdateOps));
    for (size_t i = 0; i < rf.size(); ++i) {
      double w = worst_rel(rf[i], rp[i]);
      // Forward values are bit-identical (same float expressions); the gradients differ only
      // by the order of float sums.
      if (i < 2) EXPECT_EQ(w, 0.0) << fetches[i].str();
      else EXPECT_LT(w, 1e-4) << fetches[i].str();
      if (std::getenv("QAT_VERBOSE")) std::printf("%s worst rel diff %.3g\n", fetches[i].str().c_str(), w);
    }
  }
  for (const char* v : {"conv/act_quant/min", "conv/act_quant/max", "bn/moving_mean", "bn/moving_variance"})
    EXPECT_EQ(worst_rel(vf.get(v), vp.get(v)), 0.0) << v;
  const std::string prof = fused.profile_report();
  const std::string act = k.relu6 ? "Relu6" : "Relu";
  EXPECT_NE(prof.find("BnFoldApply+" + act), std::string::npos) << prof;
  EXPECT_NE(prof.find("FakeQuantWithMinMaxVarsGradient+" + act + "Grad"), std::string::npos) << prof;
}

INSTANTIATE_TEST_SUITE_P(ActAndDelay, QatFusion,
                         testing::Values(Case{false, 0, 0}, Case{true, 0, 0}, Case{false, 5, 3}, Case{false, 5, 7},
                                         Case{true, 5, 3}));

// The masked gradient equals FakeQuant's gradient followed by the ReLU / ReLU6 mask, element for
// element; dmin / dmax equal backward()'s (the mask does not enter them).
TEST(QatFusion, BackwardMaskedEqualsBackwardThenMask) {
  for (fq::ActMask m : {fq::ActMask::kRelu, fq::ActMask::kRelu6}) {
    fq::Nudged nd = fq::nudge(0.f, 4.3f, fq::quant_range(8, false));
    const int64_t N = 70001;
    Tensor x = rnd({N}, 31, -1.f, 8.f), dy = rnd({N}, 32, -1.f, 1.f);
    float* px = x.data<float>();
    px[0] = nd.max, px[1] = std::nextafter(nd.max, 9.f), px[2] = 0.f, px[3] = 6.f, px[4] = -0.f;
    std::vector<float> a(N), b(N);
    float amin, amax, bmin, bmax;
    fq::backward(px, dy.data<float>(), N, nd, a.data(), &amin, &amax);
    fq::backward_masked(px, dy.data<float>(), px, m, N, nd, b.data(), &bmin, &bmax);
    for (int64_t i = 0; i < N; ++i) {
      bool keep = m == fq::ActMask::kRelu ? px[i] > 0.f : (px[i] > 0.f && px[i] < 6.f);
      ASSERT_EQ(b[i], keep ? a[i] : 0.f) << i;
    }
    EXPECT_EQ(amin, bmin);
    EXPECT_EQ(amax, bmax);
    // mask_gradient: the mask alone.
    fq::mask_gradient(dy.data<float>(), px, m, N, b.data());
    for (int64_t i = 0; i < N; ++i) {
      bool keep = m == fq::ActMask::kRelu ? px[i] > 0.f : (px[i] > 0.f && px[i] < 6.f);
      ASSERT_EQ(b[i], keep ? dy.data<float>()[i] : 0.f) << i;
    }
  }
}

}  // namespace
