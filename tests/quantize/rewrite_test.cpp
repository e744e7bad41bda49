// Structure of the QAT rewrite: which edges get FakeQuant, BN folding, errors.
#include <gtest/gtest.h>

#include <set>

#include "qat/model.h"
#include "qat/ops.h"
#include "qat/optimizer.h"
#include "qat/quantize.h"
#include "qat/train.h"

using namespace qat;
using graph::Graph;
using graph::Node;
using graph::Output;
namespace q = qat::quantize;

namespace {

std::set<std::string> fq_names(const Graph& g) {
  std::set<std::string> s;
  for (Node* n : g.nodes())
    if (n->op().rfind("FakeQuantWithMinMaxVars", 0) == 0 && n->op().find("Gradient") == std::string::npos)
      s.insert(n->name().substr(0, n->name().rfind('/')));
  return s;
}
// The FakeQuant node of a rewrite site ("conv1/act_quant").
Node* fq(const Graph& g, const std::string& base) {
  if (Node* n = g.find(base + "/FakeQuantWithMinMaxVars")) return n;
  return g.get(base + "/FakeQuantWithMinMaxVarsPerChannel");
}
std::string site(const Node* n) { return n->name().substr(0, n->name().rfind('/')); }
int count_op(const Graph& g, const std::string& op) {
  int k = 0;
  for (Node* n : g.nodes()) k += n->op() == op;
  return k;
}
// The FakeQuant directly feeding input `i` of node `name`.
Node* fq_before(const Graph& g, const std::string& name, int i) {
  Node* n = g.get(name)->input(i).node;
  return n->op().rfind("FakeQuant", 0) == 0 ? n : nullptr;
}
Tensor random_tensor(const Shape& s, uint32_t seed, float lo = 0.f, float hi = 1.f) {
  Tensor t(DType::kFloat32, s);
  uint32_t x = seed * 2654435761u + 1;
  for (int64_t i = 0; i < t.size(); ++i) {
    x = x * 1664525u + 1013904223u;
    t.data<float>()[i] = lo + (hi - lo) * (float)((x >> 8) & 0xFFFF) / 65535.f;
  }
  return t;
}
Tensor labels(int64_t n) {
  Tensor t(DType::kInt32, {n});
  for (int64_t i = 0; i < n; ++i) t.data<int32_t>()[i] = (int32_t)(i % 10);
  return t;
}

}  // namespace

TEST(Rewrite, SmallCnnTrainingStructure) {
  auto tg = train::build_train_graph(train::small_cnn(), {}, 1, q::training_rewrite({}));
  Graph& g = *tg.graph;
  std::set<std::string> want = {"input/input_quant", "conv1/weights_quant", "conv1/act_quant",
                                "conv2/weights_quant", "conv2/act_quant", "conv3/weights_quant",
                                "conv3/act_quant",    "gap/pool_quant",    "fc/weights_quant",
                                "fc/act_quant"};
  EXPECT_EQ(fq_names(g), want);
  EXPECT_EQ(count_op(g, "FusedBatchNorm"), 0);
  EXPECT_EQ(count_op(g, "BnFoldApply"), 3);
  EXPECT_EQ(count_op(g, "AssignMovingAverage"), 0);
  // Weights: conv reads FQ(w * gamma / sigma); the act quant sits after the ReLU (fused), the
  // pool shares the ReLU's range, the dense output is quantized before the logits Identity.
  EXPECT_EQ(site(fq_before(g, "conv1/Conv2D", 1)), "conv1/weights_quant");
  EXPECT_EQ(fq_before(g, "conv1/Conv2D", 1)->input(0).node->op(), "Mul");
  EXPECT_TRUE(fq_before(g, "conv1/Conv2D", 1)->attr_bool("narrow_range"));
  EXPECT_EQ(site(fq_before(g, "conv1/Conv2D", 0)), "input/input_quant");
  EXPECT_EQ(fq(g, "conv1/act_quant")->input(0).node->name(), "relu1/Relu");
  EXPECT_EQ(g.get("pool1/MaxPool")->input(0).node->name().rfind("conv1/act_quant/", 0), 0u);
  Node* gq = fq(g, "gap/pool_quant");
  EXPECT_EQ(gq->input(1), fq(g, "conv3/act_quant")->input(1));  // same range
  EXPECT_EQ(g.get("logits")->input(0).node->name().rfind("fc/act_quant/", 0), 0u);
  EXPECT_EQ(fq(g, "fc/weights_quant")->op(), "FakeQuantWithMinMaxVars");
  EXPECT_EQ(g.get("fc/MatMul")->input(1).node->name().rfind("fc/weights_quant/", 0), 0u);
  // Biases are not fake-quantized.
  EXPECT_EQ(g.get("fc/BiasAdd")->input(1).node->op(), "Variable");
  // Range variables exist with TF's initial values.
  graph::VariableStore vars;
  vars.initialize(g);
  EXPECT_EQ(vars.get("conv1/act_quant/min").at(0), 0.0);
  EXPECT_EQ(vars.get("conv1/act_quant/max").at(0), 6.0);
  EXPECT_EQ(vars.get("fc/act_quant/min").at(0), -6.0);

  // One training step runs and the ranges move.
  graph::Session s(g, vars);
  auto r = s.run({{tg.input, random_tensor({8, 28, 28, 1}, 1)}, {tg.labels, labels(8)},
                  {tg.learning_rate, Tensor::scalar(0.01f)}},
                 {tg.loss}, {tg.train_op});
  EXPECT_TRUE(std::isfinite(r[0].at(0)));
  EXPECT_NE(vars.get("conv1/act_quant/max").at(0), 6.0);
  EXPECT_EQ(vars.get("global_step").at(0), 1.0);
}

TEST(Rewrite, SmallCnnEvalStructureAndSharedVariables) {
  auto eg = train::build_eval_graph(train::small_cnn(), 1, q::eval_rewrite({.symmetric = true, .per_channel = true}));
  Graph& g = *eg.graph;
  EXPECT_EQ(count_op(g, "FusedBatchNorm"), 0);
  EXPECT_EQ(count_op(g, "BnFoldBias"), 3);
  EXPECT_EQ(count_op(g, "QuantRangeEma"), 0);
  Node* w = fq(g, "conv2/weights_quant");
  EXPECT_EQ(w->op(), "FakeQuantWithMinMaxVarsPerChannel");
  EXPECT_EQ(w->num_inputs(), 3);
  EXPECT_EQ(fq(g, "fc/weights_quant")->op(), "FakeQuantWithMinMaxVars");  // FC per tensor
  EXPECT_EQ(fq(g, "conv2/act_quant")->input(1).node->name(), "conv2/act_quant/min");
  EXPECT_EQ(fq(g, "conv2/act_quant")->input(1).node->op(), "Variable");
  // Eval and train graphs have the same variables (one store, one checkpoint).
  auto tg = train::build_train_graph(train::small_cnn(), {}, 1, q::training_rewrite({}));
  std::set<std::string> ev, tv;
  for (Node* n : g.nodes())
    if (n->op() == "Variable") ev.insert(n->name());
  for (Node* n : tg.graph->nodes())
    if (n->op() == "Variable" && n->name().find("/momentum") == std::string::npos && n->name() != "global_step")
      tv.insert(n->name());
  EXPECT_EQ(ev, tv);
  graph::VariableStore vars;
  vars.initialize(g);
  graph::Session s(g, vars);
  Tensor y = s.run({{eg.input, random_tensor({4, 28, 28, 1}, 2)}}, {eg.logits})[0];
  EXPECT_EQ(y.shape(), (Shape{4, 10}));
}

TEST(Rewrite, MobileNetTinyStructure) {
  auto tg = train::build_train_graph(train::mobilenet_tiny(), {}, 1,
                                     q::training_rewrite({.symmetric = true, .per_channel = true}));
  Graph& g = *tg.graph;
  auto names = fq_names(g);
  // input + 11 layers x (weights + act) + gap pool + fc
  EXPECT_EQ(names.size(), 1u + 11 * 2 + 1 + 2);
  EXPECT_TRUE(names.count("block2_dw/weights_quant"));
  Node* dw = fq(g, "block2_dw/weights_quant");
  EXPECT_EQ(dw->op(), "FakeQuantWithMinMaxVarsPerChannel");
  EXPECT_EQ(dw->input(1).node->output_info(0).shape, (Shape{32}));  // C*M channels
  EXPECT_EQ(fq(g, "block2_dw/act_quant")->input(0).node->op(), "Relu6");
  EXPECT_EQ(count_op(g, "FusedBatchNorm"), 0);
  graph::VariableStore vars;
  vars.initialize(g);
  graph::Session s(g, vars);
  auto r = s.run({{tg.input, random_tensor({4, 28, 28, 1}, 3)}, {tg.labels, labels(4)},
                  {tg.learning_rate, Tensor::scalar(0.01f)}},
                 {tg.loss}, {tg.train_op});
  EXPECT_TRUE(std::isfinite(r[0].at(0)));
}

namespace {
// x -> conv1 + bn + relu -> conv2 + bn -> Add(shortcut) -> relu -> (optional) ...
struct Residual {
  Graph g;
  Output x, y;
};
Output conv_bn(Graph& g, Output x, const std::string& n, int64_t cin, int64_t cout, bool training) {
  Output w = ops::variable(g, n + "/kernel", random_tensor({3, 3, cin, cout}, 7, -0.3f, 0.3f));
  Output c = ops::conv2d(g, x, w, {}, n + "/Conv2D");
  Output gm = ops::variable(g, n + "_bn/gamma", Tensor::filled({cout}, 1.f));
  Output bt = ops::variable(g, n + "_bn/beta", Tensor::zeros({cout}));
  Output mm = ops::variable(g, n + "_bn/moving_mean", Tensor::zeros({cout}), false);
  Output mv = ops::variable(g, n + "_bn/moving_variance", Tensor::filled({cout}, 1.f), false);
  return ops::batch_norm(g, c, gm, bt, mm, mv, training, 0.9, 1e-5, n + "_bn/FusedBatchNorm").y;
}
}  // namespace

TEST(Rewrite, ResidualBlock) {
  q::register_quantize_ops();
  Graph g;
  Output x = ops::placeholder(g, DType::kFloat32, {-1, 8, 8, 4}, "input");
  Output a = ops::relu(g, conv_bn(g, x, "conv1", 4, 4, true), "relu1/Relu");
  Output b = conv_bn(g, a, "conv2", 4, 4, true);
  Output s = ops::add(g, b, a, "res/Add");
  Output y = ops::relu(g, s, "res/Relu");
  Output out = ops::identity(g, ops::mean(g, y, {1, 2}, false, "gap/Mean"), "logits");
  q::create_training_graph(g);
  auto names = fq_names(g);
  EXPECT_TRUE(names.count("conv2/conv_quant"));  // before the bypass Add
  EXPECT_TRUE(names.count("conv2/act_quant"));   // after the ReLU that fuses into the Add
  EXPECT_FALSE(names.count("conv2/add_quant"));  // skipped: the Add feeds an activation
  EXPECT_EQ(g.get("res/Add")->input(0).node->name().rfind("conv2/conv_quant/", 0), 0u);
  EXPECT_EQ(g.get("res/Add")->input(1).node->name().rfind("conv1/act_quant/", 0), 0u);  // the shortcut is quantized
  EXPECT_EQ(fq(g, "conv2/act_quant")->input(0).node->name(), "res/Relu");
  EXPECT_TRUE(names.count("gap/pool_quant"));
  (void)out;
}

TEST(Rewrite, ResidualBlockWithoutActivationGetsAddQuant) {
  q::register_quantize_ops();
  Graph g;
  Output x = ops::placeholder(g, DType::kFloat32, {-1, 8, 8, 4}, "input");
  Output a = ops::relu(g, conv_bn(g, x, "conv1", 4, 4, true), "relu1/Relu");
  Output s = ops::add(g, conv_bn(g, a, "conv2", 4, 4, true), a, "res/Add");
  ops::identity(g, s, "logits");
  q::create_training_graph(g);
  auto names = fq_names(g);
  EXPECT_TRUE(names.count("conv2/conv_quant"));
  EXPECT_TRUE(names.count("conv2/add_quant"));
  EXPECT_EQ(g.get("logits")->input(0).node->name().rfind("conv2/add_quant/", 0), 0u);
}

TEST(Rewrite, ConcatAndAvgPool) {
  q::register_quantize_ops();
  Graph g;
  Output x = ops::placeholder(g, DType::kFloat32, {-1, 8, 8, 4}, "input");
  Output a = ops::relu(g, conv_bn(g, x, "left", 4, 4, true), "left/Relu");
  Output b = ops::relu6(g, conv_bn(g, x, "right", 4, 6, true), "right/Relu6");
  Output c = ops::concat(g, {a, b}, 3, "cat/ConcatV2");
  Output p = ops::avg_pool(g, c, {}, "pool/AvgPool");
  Output d = conv_bn(g, p, "head", 10, 3, true);
  ops::identity(g, d, "logits");
  q::create_training_graph(g);
  auto names = fq_names(g);
  EXPECT_TRUE(names.count("left/act_quant"));
  EXPECT_TRUE(names.count("right/act_quant"));
  EXPECT_TRUE(names.count("cat/concat_quant"));
  EXPECT_TRUE(names.count("pool/pool_quant"));
  EXPECT_EQ(g.get("cat/ConcatV2")->input(0).node->name().rfind("left/act_quant/", 0), 0u);
  EXPECT_EQ(g.get("pool/AvgPool")->input(0).node->name().rfind("cat/concat_quant/", 0), 0u);
  EXPECT_EQ(fq(g, "pool/pool_quant")->input(1), fq(g, "cat/concat_quant")->input(1));
  EXPECT_EQ(g.get("head/Conv2D")->input(0).node->name().rfind("pool/pool_quant/", 0), 0u);
  graph::VariableStore vars;
  vars.initialize(g);
  graph::Session s(g, vars);
  Tensor y = s.run({{x, random_tensor({2, 8, 8, 4}, 9)}}, {g.get("logits")->output(0)})[0];
  EXPECT_EQ(y.shape(), (Shape{2, 4, 4, 3}));
}

TEST(Rewrite, ErrorsNameTheNode) {
  q::register_quantize_ops();
  {  // after the optimizer: as TF, an error
    auto tg = train::build_train_graph(train::small_cnn(), {}, 1);
    try {
      q::create_training_graph(*tg.graph);
      FAIL() << "no error";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("before adding the optimizer"), std::string::npos) << e.what();
    }
  }
  {  // a batch norm with no layer before it cannot be folded
    Graph g;
    Output x = ops::placeholder(g, DType::kFloat32, {-1, 8, 8, 4}, "input");
    Output c = conv_bn(g, x, "conv1", 4, 4, true);
    Output gm = ops::variable(g, "bn2/gamma", Tensor::filled({4}, 1.f));
    Output bt = ops::variable(g, "bn2/beta", Tensor::zeros({4}));
    Output mm = ops::variable(g, "bn2/mm", Tensor::zeros({4}), false);
    Output mv = ops::variable(g, "bn2/mv", Tensor::filled({4}, 1.f), false);
    Output y = ops::batch_norm(g, ops::max_pool(g, c, {}, "pool/MaxPool"), gm, bt, mm, mv, true, 0.9, 1e-5,
                               "bn2/FusedBatchNorm")
                   .y;
    ops::identity(g, y, "logits");
    try {
      q::create_training_graph(g);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("bn2/FusedBatchNorm"), std::string::npos) << e.what();
    }
  }
  {  // an op with no quantized form reading a quantized activation
    Graph g;
    Output x = ops::placeholder(g, DType::kFloat32, {-1, 8, 8, 4}, "input");
    Output c = ops::relu(g, conv_bn(g, x, "conv1", 4, 4, true), "relu/Relu");
    Output m = ops::mul(g, c, c, "sq/Mul");
    Output w2 = ops::variable(g, "conv2/kernel", random_tensor({1, 1, 4, 2}, 3));
    ops::identity(g, ops::conv2d(g, m, w2, {}, "conv2/Conv2D"), "logits");
    try {
      q::create_training_graph(g);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("sq/Mul"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(q::create_training_graph(*train::build_eval_graph(train::small_cnn(), 1).graph, {.weight_bits = 1}),
               UsageError);
}
