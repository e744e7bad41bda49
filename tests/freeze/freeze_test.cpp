// Freeze: the frozen graph computes what the eval graph computed (float and QAT), with no
// variables, identities, training nodes or unfolded batch norms left.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "qat/freeze.h"
#include "qat/model.h"
#include "qat/ops.h"
#include "qat/quantize.h"

namespace qat {
namespace {

using graph::Graph;
using graph::VariableStore;

train::ModelSpec tiny_spec() {
  train::ModelSpec s;
  s.name = "tiny";
  s.height = 8;
  s.width = 8;
  s.channels = 1;
  s.conv2d("c1", 4, 3, 1, false).batch_norm("bn1").relu("r1").max_pool("p1");
  s.depthwise_conv2d("dw", 3, 1, false).batch_norm("bn2").relu6("r2");
  s.global_avg_pool("gap").dense("fc", 5);
  s.num_classes = 5;
  return s;
}

Tensor random_tensor(Shape shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  Tensor t(DType::kFloat32, shape);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

// Non-trivial batch-norm statistics so that folding is really exercised.
void randomize_batch_norms(VariableStore& vars) {
  uint32_t seed = 7;
  for (auto& [name, t] : vars.all()) {
    bool var = name.ends_with("moving_variance");
    if (name.ends_with("gamma") || name.ends_with("beta") || name.ends_with("moving_mean") || var)
      t = random_tensor(t.shape(), seed++, var ? 0.2f : -0.5f, var ? 2.f : 1.5f);
  }
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  float d = 0;
  for (int64_t i = 0; i < a.size(); ++i) d = std::max(d, std::fabs(a.data<float>()[i] - b.data<float>()[i]));
  return d;
}

class FreezeTest : public ::testing::Test {
 protected:
  void SetUp() override { freeze::register_all_ops(); }
};

TEST_F(FreezeTest, FloatGraphMatchesEvalGraph) {
  Graph g;
  auto mg = train::build_model(g, tiny_spec(), train::Mode::kEval, 3);
  VariableStore vars;
  vars.initialize(g);
  randomize_batch_norms(vars);
  freeze::FreezeStats st;
  auto f = freeze::freeze_graph(g, vars, {.output_nodes = {"logits"}}, &st);
  EXPECT_EQ(st.batch_norms_folded, 2);
  for (auto* n : f->nodes()) {
    EXPECT_NE(n->op(), "Variable") << n->name();
    EXPECT_NE(n->op(), "FusedBatchNorm") << n->name();
    if (n->op() == "Identity") EXPECT_EQ(n->name(), "logits");
  }
  Tensor x = random_tensor({3, 8, 8, 1}, 11, 0.f, 1.f);
  graph::Session se(g, vars);
  Tensor ref = se.run({{mg.input, x}}, {mg.logits})[0];
  VariableStore none;
  graph::Session sf(*f, none);
  Tensor got = sf.run({{f->get("input")->output(0), x}}, {f->get("logits")->output(0)})[0];
  EXPECT_LT(max_abs_diff(ref, got), 1e-5f);
  // The file round trip keeps it.
  auto back = Graph::from_json(f->to_json());
  graph::Session sb(*back, none);
  Tensor got2 = sb.run({{back->get("input")->output(0), x}}, {back->get("logits")->output(0)})[0];
  EXPECT_EQ(max_abs_diff(got, got2), 0.f);
}

TEST_F(FreezeTest, QatEvalGraphKeepsFakeQuantWithFinalRanges) {
  Graph g;
  auto mg = train::build_model(g, tiny_spec(), train::Mode::kEval, 5);
  quantize::QuantizeOptions qo;
  qo.symmetric = true;
  qo.per_channel = true;
  quantize::create_eval_graph(g, qo);
  VariableStore vars;
  vars.initialize(g);
  randomize_batch_norms(vars);
  freeze::FreezeStats st;
  auto f = freeze::freeze_graph(g, vars, {.output_nodes = {"logits"}}, &st);
  EXPECT_GT(st.fake_quant_kept, 3);
  int fq = 0;
  for (auto* n : f->nodes()) {
    EXPECT_NE(n->op(), "Variable") << n->name();
    if (freeze::is_fake_quant_op(n->op())) {
      ++fq;
      EXPECT_EQ(n->input(1).node->op(), "Const") << n->name();
      EXPECT_EQ(n->input(2).node->op(), "Const") << n->name();
    }
  }
  EXPECT_EQ(fq, st.fake_quant_kept);
  Tensor x = random_tensor({4, 8, 8, 1}, 12, 0.f, 1.f);
  graph::Session se(g, vars);
  Tensor ref = se.run({{mg.input, x}}, {mg.logits})[0];
  VariableStore none;
  graph::Session sf(*f, none);
  Tensor got = sf.run({{f->get("input")->output(0), x}}, {f->get("logits")->output(0)})[0];
  EXPECT_LT(max_abs_diff(ref, got), 1e-5f);
}

TEST_F(FreezeTest, DropsTrainingNodesAndControlDependencies) {
  Graph g;
  auto x = ops::placeholder(g, DType::kFloat32, {-1, 3}, "x");
  auto w = ops::variable(g, "w", random_tensor({3, 2}, 1));
  auto y = ops::matmul(g, ops::identity(g, x), ops::identity(g, w, "w/read"), false, false, "mm");
  auto loss = ops::mean(g, y, {0, 1}, false, "loss");
  auto acc = ops::variable(g, "acc", Tensor::zeros({}), false);
  auto upd = g.add_node("AssignAdd", "acc/update", {acc, loss});
  auto out = ops::identity(g, y, "out");
  g.add_control_input(out.node, upd);
  VariableStore vars;
  vars.initialize(g);
  auto f = freeze::freeze_graph(g, vars, {.output_nodes = {"out"}});
  EXPECT_EQ(f->find("loss"), nullptr);
  EXPECT_EQ(f->find("acc/update"), nullptr);
  EXPECT_EQ(f->find("w/read"), nullptr);
  EXPECT_TRUE(f->get("out")->control_inputs().empty());
  EXPECT_EQ(f->get("w")->op(), "Const");
  EXPECT_EQ(f->num_nodes(), 4);  // x, w, mm, out
}

TEST_F(FreezeTest, FoldsConstantSubgraphs) {
  Graph g;
  auto x = ops::placeholder(g, DType::kFloat32, {-1, 2}, "x");
  auto a = ops::variable(g, "a", Tensor::from_vector({2}, {1.f, 2.f}));
  auto b = ops::constant(g, Tensor::from_vector({2}, {3.f, 4.f}), "b");
  auto ab = ops::mul(g, a, b, "ab");            // constant after freezing
  auto y = ops::add(g, x, ops::add(g, ab, b, "abb"), "y");
  VariableStore vars;
  vars.initialize(g);
  freeze::FreezeStats st;
  auto f = freeze::freeze_graph(g, vars, {.output_nodes = {"y"}}, &st);
  EXPECT_EQ(st.constants_folded, 2);
  ASSERT_NE(f->find("abb"), nullptr);
  EXPECT_EQ(f->get("abb")->op(), "Const");
  const Tensor& v = f->get("abb")->attr_tensor("value");
  EXPECT_FLOAT_EQ(v.data<float>()[0], 6.f);
  EXPECT_FLOAT_EQ(v.data<float>()[1], 12.f);
  EXPECT_EQ(f->num_nodes(), 3);
  (void)y;
}

TEST_F(FreezeTest, ErrorsNameTheNodeOrVariable) {
  Graph g;
  auto x = ops::placeholder(g, DType::kFloat32, {-1, 3}, "x");
  auto w = ops::variable(g, "dense/kernel", random_tensor({3, 2}, 1));
  ops::matmul(g, x, w, false, false, "mm");
  VariableStore empty;
  try {
    freeze::freeze_graph(g, empty, {.output_nodes = {"mm"}});
    FAIL() << "expected an error";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("dense/kernel"), std::string::npos) << e.what();
  }
  VariableStore vars;
  vars.initialize(g);
  EXPECT_THROW(freeze::freeze_graph(g, vars, {.output_nodes = {"nope"}}), UsageError);
  EXPECT_THROW(freeze::freeze_graph(g, vars, {}), UsageError);
}

}  // namespace
}  // namespace qat
