// Graph-level tests of the rewrite's ops: FakeQuant forward/gradient through Session and
// autodiff, quant_delay switching, EMA ranges, and BN folding equivalence (folded = unfolded
// before the freeze, = inference BN after it).
#include <gtest/gtest.h>

#include <cmath>

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
Tensor i64(int64_t v) { return Tensor::from_span<int64_t>({}, std::span<const int64_t>(&v, 1)); }
double max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double m = 0;
  for (int64_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a.at(i) - b.at(i)));
  return m;
}
double max_abs(const Tensor& a) {
  double m = 0;
  for (int64_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(a.at(i)));
  return m;
}
}  // namespace

TEST(QuantOps, FakeQuantOpMatchesMathAndGradient) {
  q::register_quantize_ops();
  Graph g;
  Output x = ops::placeholder(g, DType::kFloat32, {-1, 5}, "x");
  Output mn = ops::placeholder(g, DType::kFloat32, {}, "min");
  Output mx = ops::placeholder(g, DType::kFloat32, {}, "max");
  Output y = g.add_node("FakeQuantWithMinMaxVars", "fq", {x, mn, mx}, {{"num_bits", int64_t{8}}, {"narrow_range", false}})
                 ->output(0);
  Output w = ops::placeholder(g, DType::kFloat32, {-1, 5}, "w");
  Output loss = ops::mean(g, ops::mul(g, y, w), {0, 1});
  auto grads = graph::gradients(g, loss, {x, mn, mx});
  graph::VariableStore vars;
  graph::Session s(g, vars);
  Tensor xv = rnd({40, 5}, 1, -2.f, 3.f), wv = rnd({40, 5}, 2, -1.f, 1.f);
  auto r = s.run({{x, xv}, {w, wv}, {mn, Tensor::scalar(-0.7f)}, {mx, Tensor::scalar(1.9f)}}, {y, grads[0], grads[1], grads[2]});
  fq::Nudged nd = fq::nudge(-0.7f, 1.9f, fq::quant_range(8, false));
  double dmin = 0, dmax = 0;
  for (int64_t i = 0; i < xv.size(); ++i) {
    float xi = xv.data<float>()[i], gi = wv.data<float>()[i] / 200.f;
    EXPECT_EQ(r[0].data<float>()[i], fq::fake_quant_one(xi, nd));
    bool in = xi >= nd.min && xi <= nd.max;
    EXPECT_FLOAT_EQ(r[1].data<float>()[i], in ? gi : 0.f);
    if (xi < nd.min) dmin += gi;
    if (xi > nd.max) dmax += gi;
  }
  EXPECT_NEAR(r[2].at(0), dmin, 1e-6);
  EXPECT_NEAR(r[3].at(0), dmax, 1e-6);
}

TEST(QuantOps, QuantDelaySwitchesAtTheStep) {
  q::register_quantize_ops();
  Graph g;
  Output x = ops::placeholder(g, DType::kFloat32, {-1, 4}, "x");
  Output step = ops::placeholder(g, DType::kInt64, {}, "step");
  Output y = g.add_node("FakeQuantWithMinMaxVars", "fq", {x, ops::constant(g, Tensor::scalar(-1.f)),
                                                          ops::constant(g, Tensor::scalar(1.f)), step},
                        {{"num_bits", int64_t{4}}, {"narrow_range", false}, {"quant_delay", int64_t{10}}})
                 ->output(0);
  auto dx = graph::gradients(g, ops::mean(g, y, {0, 1}), {x});
  graph::VariableStore vars;
  graph::Session s(g, vars);
  Tensor xv = Tensor::from_vector({1, 4}, {0.1234f, -3.f, 0.5f, 2.f});
  auto before = s.run({{x, xv}, {step, i64(9)}}, {y, dx[0]});
  auto after = s.run({{x, xv}, {step, i64(10)}}, {y, dx[0]});
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(before[0].at(i), xv.at(i));  // identity before the delay
    EXPECT_EQ(before[1].at(i), 0.25);      // straight through everywhere
  }
  EXPECT_NE(after[0].at(0), xv.at(0));
  fq::Nudged nd = fq::nudge(-1.f, 1.f, fq::quant_range(4, false));
  EXPECT_EQ(after[0].at(1), nd.min);  // clamped to the nudged min
  EXPECT_EQ(after[1].at(1), 0.0);   // outside the range: no input gradient
}

TEST(QuantOps, EmaRangeCombinesTowersAndWidensToZero) {
  q::register_quantize_ops();
  Graph g;
  Output a = ops::placeholder(g, DType::kFloat32, {-1}, "a");
  Output b = ops::placeholder(g, DType::kFloat32, {-1}, "b");
  Output vmin = ops::variable(g, "r/min", Tensor::scalar(0.f), false);
  Output vmax = ops::variable(g, "r/max", Tensor::scalar(6.f), false);
  Node* ma = g.add_node("QuantMinMax", "ma", {a}, {{"channels", int64_t{0}}});
  Node* mb = g.add_node("QuantMinMax", "mb", {b}, {{"channels", int64_t{0}}});
  Node* r = g.add_node("QuantRangeEma", "r/range", {vmin, vmax, ma->output(0), ma->output(1), mb->output(0), mb->output(1)},
                       {{"ema_decay", 0.9}});
  graph::VariableStore vars;
  vars.initialize(g);
  graph::Session s(g, vars);
  auto o = s.run({{a, Tensor::from_vector({2}, {1.f, 2.f})}, {b, Tensor::from_vector({2}, {3.f, 4.f})}},
                 {r->output(0), r->output(1)});
  // Combined batch range [1, 4] widened to [0, 4]; EMA with decay 0.9 (rate computed in double).
  float rate = (float)(1.0 - 0.9);
  EXPECT_EQ(o[0].at(0), 0.0);
  EXPECT_EQ(o[1].at(0), 6.f - (6.f - 4.f) * rate);
  EXPECT_EQ(vars.get("r/max").at(0), o[1].at(0));
}

namespace {
// x -> conv(w) -> BN -> relu -> loss = mean(relu * c)
struct BnNet {
  Graph g;
  Output x, c, loss;
  std::vector<Output> params;  // w, gamma, beta
  Output y;
};
void build_bn_net(BnNet& n, bool depthwise, bool training) {
  Graph& g = n.g;
  n.x = ops::placeholder(g, DType::kFloat32, {-1, 6, 6, 3}, "input");
  Output w = depthwise ? ops::variable(g, "conv/kernel", rnd({3, 3, 3, 2}, 4, -0.5f, 0.5f))
                       : ops::variable(g, "conv/kernel", rnd({3, 3, 3, 5}, 4, -0.5f, 0.5f));
  int64_t C = depthwise ? 6 : 5;
  Output conv = depthwise ? ops::depthwise_conv2d(g, n.x, w, {}, "conv/DepthwiseConv2dNative")
                          : ops::conv2d(g, n.x, w, {}, "conv/Conv2D");
  Output gm = ops::variable(g, "bn/gamma", rnd({C}, 5, 0.5f, 1.5f));
  Output bt = ops::variable(g, "bn/beta", rnd({C}, 6, -0.2f, 0.2f));
  Output mm = ops::variable(g, "bn/moving_mean", rnd({C}, 7, -0.1f, 0.1f), false);
  Output mv = ops::variable(g, "bn/moving_variance", rnd({C}, 8, 0.5f, 2.f), false);
  n.y = ops::relu(g, ops::batch_norm(g, conv, gm, bt, mm, mv, training, 0.9, 1e-3, "bn/FusedBatchNorm").y, "relu/Relu");
  n.c = ops::placeholder(g, DType::kFloat32, {-1, 6, 6, C}, "c");
  n.loss = ops::mean(g, ops::mul(g, n.y, n.c), {0, 1, 2, 3}, false, "loss");
  n.params = {w, gm, bt};
}
}  // namespace

class BnFold : public testing::TestWithParam<bool> {};

TEST_P(BnFold, FoldedEqualsUnfoldedBeforeFreeze) {
  const bool dw = GetParam();
  q::register_quantize_ops();
  BnNet a, b;
  build_bn_net(a, dw, true);
  build_bn_net(b, dw, true);
  // Quantization delayed past this test: FakeQuant passes through, only the folding acts.
  q::create_training_graph(b.g, {.quant_delay = 1000000});
  auto ga = graph::gradients(a.g, a.loss, a.params);
  auto gb = graph::gradients(b.g, b.loss, b.params);
  graph::VariableStore va, vb;
  va.initialize(a.g);
  vb.initialize(b.g);
  graph::Session sa(a.g, va), sb(b.g, vb);
  Tensor xv = rnd({4, 6, 6, 3}, 11, -1.f, 1.f), cv = rnd({4, 6, 6, dw ? 6 : 5}, 12, -1.f, 1.f);
  std::vector<Output> fa{a.loss, a.y, ga[0], ga[1], ga[2]}, fb{b.loss, b.y, gb[0], gb[1], gb[2]};
  auto ra = sa.run({{a.x, xv}, {a.c, cv}}, fa, a.g.collection(graph::kUpdateOps));
  auto rb = sb.run({{b.x, xv}, {b.c, cv}}, fb, b.g.collection(graph::kUpdateOps));
  EXPECT_NEAR(ra[0].at(0), rb[0].at(0), 1e-5);
  EXPECT_LT(max_abs_diff(ra[1], rb[1]), 1e-4 * (1 + max_abs(ra[1])));
  for (int i = 2; i < 5; ++i)
    EXPECT_LT(max_abs_diff(ra[i], rb[i]), 2e-4 * (1 + max_abs(ra[i]))) << "gradient " << i - 2;
  // Moving statistics follow the same update.
  EXPECT_LT(max_abs_diff(va.get("bn/moving_mean"), vb.get("bn/moving_mean")), 1e-5);
  EXPECT_LT(max_abs_diff(va.get("bn/moving_variance"), vb.get("bn/moving_variance")), 1e-4);
}

TEST_P(BnFold, AfterFreezeEqualsInferenceBatchNorm) {
  const bool dw = GetParam();
  q::register_quantize_ops();
  BnNet inf, b, e;
  build_bn_net(inf, dw, false);  // float inference BN (moving statistics)
  build_bn_net(b, dw, true);
  build_bn_net(e, dw, false);
  q::create_training_graph(b.g, {.quant_delay = 1000000, .freeze_bn_delay = 0});
  q::create_eval_graph(e.g, {});
  graph::VariableStore v0, vb, ve;
  v0.initialize(inf.g);
  vb.initialize(b.g);
  ve.initialize(e.g);
  graph::Session s0(inf.g, v0), sb(b.g, vb), se(e.g, ve);
  Tensor xv = rnd({3, 6, 6, 3}, 21, -1.f, 1.f);
  Tensor y0 = s0.run({{inf.x, xv}}, {inf.y})[0];
  Tensor yb = sb.run({{b.x, xv}}, {b.y}, b.g.collection(graph::kUpdateOps))[0];
  EXPECT_LT(max_abs_diff(y0, yb), 1e-5 * (1 + max_abs(y0)));
  // Frozen: the moving statistics did not move.
  EXPECT_EQ(max_abs_diff(v0.get("bn/moving_mean"), vb.get("bn/moving_mean")), 0.0);
  // The eval rewrite quantizes: equal to the inference BN up to the quantization error.
  ve.set("input/input_quant/min", Tensor::scalar(-1.f));  // trained ranges (never run here)
  ve.set("input/input_quant/max", Tensor::scalar(1.f));
  Tensor ye = se.run({{e.x, xv}}, {e.y})[0];
  EXPECT_LT(max_abs_diff(y0, ye), 0.1 * (1 + max_abs(y0)));
}

INSTANTIATE_TEST_SUITE_P(ConvAndDepthwise, BnFold, testing::Values(false, true));
