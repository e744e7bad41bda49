// Towers: K replicas sharing variables, each rewritten by its own create_training_graph call
// (the multi-GPU pattern that broke in TF, tensorflow#27844), compute what one replica does on
// the whole batch: same losses, same variables after training steps, up to float rounding.
#include <gtest/gtest.h>

#include <cmath>

#include "qat/model.h"
#include "qat/quantize.h"
#include "qat/train.h"

using namespace qat;
using graph::Node;
namespace q = qat::quantize;

namespace {
train::ModelSpec tiny() {
  train::ModelSpec m;
  m.name = "tiny";
  m.conv2d("c1", 8, 3, 1, false).batch_norm("b1").relu("r1").max_pool("p1");
  m.conv2d("c2", 8, 3, 1, true).relu6("r2").global_avg_pool("gap").dense("fc", 10);
  return m;
}
Tensor images(int64_t n) {
  Tensor t(DType::kFloat32, {n, 28, 28, 1});
  uint32_t x = 12345;
  for (int64_t i = 0; i < t.size(); ++i) {
    x = x * 1664525u + 1013904223u;
    t.data<float>()[i] = (float)((x >> 8) & 0xFF) / 255.f;
  }
  return t;
}
Tensor labels(int64_t n) {
  Tensor t(DType::kInt32, {n});
  for (int64_t i = 0; i < n; ++i) t.data<int32_t>()[i] = (int32_t)((i * 7) % 10);
  return t;
}
int count_op(const graph::Graph& g, const std::string& op) {
  int k = 0;
  for (Node* n : g.nodes()) k += n->op() == op;
  return k;
}
}  // namespace

TEST(Towers, RewritePerTowerSharesRangesAndStatistics) {
  q::QuantizeOptions o;
  auto tg = train::build_train_graph(tiny(), {}, 1, q::towers_training_rewrite(o, 3, true));
  graph::Graph& g = *tg.graph;
  // One range update per activation site and one moving-statistics update per batch norm,
  // each fed by all three towers.
  EXPECT_EQ(count_op(g, "BnFoldMovingUpdate"), 1);
  EXPECT_EQ(count_op(g, "BnFoldApply"), 3);
  for (Node* n : g.nodes())
    if (n->op() == "QuantRangeEma" && n->name().find("input_quant") == std::string::npos)
      EXPECT_EQ(n->num_inputs(), 2 + 2 * 3) << n->name();
  EXPECT_TRUE(g.find("tower_2/c1/Conv2D"));
  EXPECT_FALSE(g.find("c1/Conv2D"));
  EXPECT_EQ(g.get("tower_1/c1/Conv2D")->input(1).node->input(0).node->input(0).node->name(), "c1/kernel");
}

TEST(Towers, EqualOneReplicaOnTheWholeBatch) {
  q::QuantizeOptions o;
  o.freeze_bn_delay = 2;  // exercise both BN phases
  train::OptimizerOptions opt;
  opt.type = "momentum";
  auto one = train::build_train_graph(tiny(), opt, 1, q::towers_training_rewrite(o, 1, true));
  auto two = train::build_train_graph(tiny(), opt, 1, q::towers_training_rewrite(o, 2, true));
  graph::VariableStore v1, v2;
  v1.initialize(*one.graph);
  v2.initialize(*two.graph);
  graph::Session s1(*one.graph, v1), s2(*two.graph, v2);
  const int64_t N = 32;
  Tensor x = images(N), y = labels(N);
  for (int step = 0; step < 4; ++step) {
    auto r1 = s1.run({{one.input, x}, {one.labels, y}, {one.learning_rate, Tensor::scalar(0.05f)}},
                     {one.loss, one.logits}, {one.train_op});
    auto r2 = s2.run({{two.input, x}, {two.labels, y}, {two.learning_rate, Tensor::scalar(0.05f)}},
                     {two.loss, two.logits}, {two.train_op});
    EXPECT_NEAR(r1[0].at(0), r2[0].at(0), 1e-4 * (1 + std::fabs(r1[0].at(0)))) << "step " << step;
    ASSERT_EQ(r1[1].shape(), r2[1].shape());
  }
  ASSERT_EQ(v1.all().size(), v2.all().size());
  for (const auto& [name, t1] : v1.all()) {
    const Tensor& t2 = v2.get(name);
    ASSERT_EQ(t1.shape(), t2.shape()) << name;
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < t1.size(); ++i) {
      scale = std::max(scale, std::fabs(t1.at(i)));
      diff = std::max(diff, std::fabs(t1.at(i) - t2.at(i)));
    }
    // 1e-3: a FakeQuant rounding flip (one input a float ulp either side of a half step) moves a
    // value by one quantization step; everything else agrees to ~1e-6.
    EXPECT_LE(diff, 1e-3 * (1 + scale)) << name;
  }
}
