// Training on graphs: optimizer nodes against hand-computed steps, model graphs, exact resume,
// run folders + evaluation from files, and a short smoke training.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "qat/ops.h"
#include "qat/train.h"
#include "test_util.h"

namespace qat::train {
namespace {

using graph::Graph;
using graph::Output;
using graph::Session;
using graph::VariableStore;

// loss = mean(x W) over a [1,2] x [2,1] product: dL/dW = x^T.
struct Tiny {
  Graph g;
  Output x, w, loss;
  Tiny() {
    register_train_ops();
    x = ops::placeholder(g, DType::kFloat32, {1, 2}, "x");
    w = ops::variable(g, "w", Tensor::from_vector({2, 1}, {1.0f, -1.0f}));
    loss = ops::mean(g, ops::matmul(g, x, w), {0, 1}, false, "loss");
  }
};

TEST(Optimizer, MomentumGraphMatchesHandComputation) {
  Tiny t;
  OptimizerOptions o;
  o.type = "momentum";
  o.momentum = 0.9;
  Output lr = learning_rate_placeholder(t.g);
  EXPECT_FALSE(has_optimizer(t.g));
  graph::Node* train_op = Optimizer(o).minimize(t.g, t.loss, lr);
  EXPECT_TRUE(has_optimizer(t.g));
  ASSERT_NE(t.g.find("w/momentum"), nullptr);
  VariableStore vars;
  vars.initialize(t.g);
  Session s(t.g, vars);
  Tensor xv = Tensor::from_vector({1, 2}, {2.0f, 3.0f});
  s.run({{t.x, xv}, {lr, Tensor::scalar(0.1f)}}, {}, {train_op});
  // v = g = [2, 3]; w = [1 - 0.2, -1 - 0.3].
  EXPECT_FLOAT_EQ(vars.get("w").data<float>()[0], 0.8f);
  EXPECT_FLOAT_EQ(vars.get("w").data<float>()[1], -1.3f);
  s.run({{t.x, xv}, {lr, Tensor::scalar(0.1f)}}, {}, {train_op});
  // v = 0.9 * [2, 3] + [2, 3] = [3.8, 5.7]; w -= 0.1 v.
  EXPECT_FLOAT_EQ(vars.get("w").data<float>()[0], 0.8f - 0.38f);
  EXPECT_FLOAT_EQ(vars.get("w").data<float>()[1], -1.3f - 0.57f);
  EXPECT_EQ(vars.get("global_step").at(0), 2);
}

TEST(Optimizer, SgdAndAdamGraphs) {
  for (const char* type : {"sgd", "adam"}) {
    Tiny t;
    OptimizerOptions o;
    o.type = type;
    o.weight_decay = 0.5;
    Output lr = learning_rate_placeholder(t.g);
    graph::Node* train_op = Optimizer(o).minimize(t.g, t.loss, lr);
    VariableStore vars;
    vars.initialize(t.g);
    Session s(t.g, vars);
    s.run({{t.x, Tensor::from_vector({1, 2}, {2.0f, 3.0f})}, {lr, Tensor::scalar(0.1f)}}, {}, {train_op});
    float w0[2] = {1.0f, -1.0f}, m[2] = {0, 0}, v[2] = {0, 0};
    const float g[2] = {2.0f, 3.0f};
    if (std::string(type) == "sgd")
      sgd_update(w0, g, 2, 0.1f, 0.5f);
    else
      adam_update(w0, m, v, g, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 0.5f, 1);
    EXPECT_FLOAT_EQ(vars.get("w").data<float>()[0], w0[0]) << type;
    EXPECT_FLOAT_EQ(vars.get("w").data<float>()[1], w0[1]) << type;
  }
  EXPECT_THROW(Optimizer({.type = "rmsprop"}), UsageError);
}

TEST(ModelGraph, SmallCnnTrainableParameters) {
  TrainGraph tg = build_train_graph(small_cnn(), {}, 1);
  int64_t n = 0;
  for (graph::Node* v : graph::trainable_variables(*tg.graph)) n += num_elements(v->output_info(0).shape);
  EXPECT_EQ(n, 94186);
  EXPECT_NE(tg.graph->find("conv1/Conv2D"), nullptr);
  EXPECT_NE(tg.graph->find("bn1/moving_mean"), nullptr);
  EXPECT_FALSE(tg.graph->collection(graph::kUpdateOps).empty());
  EvalGraph eg = build_eval_graph(mobilenet_tiny(), 1);
  EXPECT_NE(eg.graph->find("block1_dw/DepthwiseConv2dNative"), nullptr);
  EXPECT_FALSE(has_optimizer(*eg.graph));
  EXPECT_EQ(eg.logits.node->output_info(0).shape, (Shape{-1, 10}));
}

TEST(ModelGraph, RewriteHookRunsBeforeTheOptimizer) {
  bool called = false;
  build_train_graph(small_cnn(), {}, 1, [&](Graph& g) {
    called = true;
    EXPECT_FALSE(has_optimizer(g));
    EXPECT_NE(g.find("loss"), nullptr);
  });
  EXPECT_TRUE(called);
}

ModelSpec tiny_cnn() {
  ModelSpec m;
  m.name = "tiny";
  m.height = m.width = 8;
  m.conv2d("conv1", 4, 3, 1, false).batch_norm("bn1").relu("relu1").max_pool("pool1");
  m.global_avg_pool("gap").dense("fc", 10);
  return m;
}

data::MnistSplits tiny_data(int64_t n_train = 256, int64_t n_test = 64) {
  return {testing::synthetic(n_train, 8, 8, 4, 11), testing::synthetic(n_test, 8, 8, 4, 12)};
}

TrainConfig tiny_config(const std::string& out) {
  TrainConfig c;
  c.model = tiny_cnn();
  c.epochs = 2;
  c.batch = 16;
  c.lr = 0.1;
  c.seed = 5;
  c.out_dir = out;
  c.progress = nullptr;
  c.crop_pad = 1;
  c.flip = true;
  return c;
}

TEST(Train, ResumeEqualsUninterrupted) {
  auto data = tiny_data();
  std::string dir = testing::temp_dir();
  // Uninterrupted: 2 epochs of 16 steps.
  VariableStore full;
  TrainConfig a = tiny_config(dir + "/full");
  TrainResult ra = train(a, data, &full);
  EXPECT_EQ(ra.steps, 32);
  // Interrupted mid-epoch 1 (step 10), then resumed in a fresh "process" (new store, graphs).
  TrainConfig b = tiny_config(dir + "/split");
  b.stop_after_steps = 10;
  TrainResult rb1 = train(b, data);
  EXPECT_TRUE(rb1.stopped_early);
  EXPECT_EQ(rb1.steps, 10);
  b.stop_after_steps = 0;
  b.resume = true;
  VariableStore resumed;
  TrainResult rb2 = train(b, data, &resumed);
  EXPECT_EQ(rb2.steps, 32);
  ASSERT_EQ(full.all().size(), resumed.all().size());
  for (const auto& [name, t] : full.all()) {
    const Tensor& u = resumed.get(name);
    ASSERT_EQ(t.nbytes(), u.nbytes()) << name;
    EXPECT_EQ(0, std::memcmp(t.raw(), u.raw(), t.nbytes())) << "variable " << name << " differs after resume";
  }
  EXPECT_DOUBLE_EQ(ra.test_acc, rb2.test_acc);
  ASSERT_EQ(rb2.epochs.size(), 2u);
  EXPECT_DOUBLE_EQ(ra.epochs.back().train_loss, rb2.epochs.back().train_loss);
}

TEST(Train, RunFolderAndEvalFromFiles) {
  auto data = tiny_data();
  std::string base = testing::temp_dir();
  std::string dir = base + "/run";
  TrainConfig c = tiny_config(dir);
  c.epochs = 4;
  c.crop_pad = 0;
  c.flip = false;
  TrainResult r = train(c, data);
  for (const char* f : {"model.json", "graph.json", "train_graph.json", "run.json", "metrics.jsonl", "latest"})
    EXPECT_TRUE(std::filesystem::exists(dir + "/" + f)) << f;
  std::ifstream m(dir + "/metrics.jsonl");
  int lines = 0;
  for (std::string line; std::getline(m, line);) {
    ++lines;
    EXPECT_NE(line.find("\"test_acc\""), std::string::npos) << line;
    EXPECT_NE(line.find("\"images_per_s\""), std::string::npos) << line;
  }
  EXPECT_EQ(lines, 4);
  // The synthetic task is easy: well above chance (0.25) after 4 short epochs.
  EXPECT_GT(r.test_acc, 0.45);
  EvalResult e = evaluate_files(dir + "/graph.json", latest_checkpoint(dir), data.test);
  EXPECT_DOUBLE_EQ(e.accuracy, r.test_acc);
  // A checkpoint of another model is a clear mismatch naming a variable.
  TrainConfig other = tiny_config(base + "/other");
  other.model.layers[0].filters = 6;
  other.epochs = 1;
  train(other, data);
  try {
    evaluate_files(dir + "/graph.json", latest_checkpoint(other.out_dir), data.test);
    FAIL();
  } catch (const FormatError& e) {
    // The first mismatching variable in name order (bn1/beta [6] vs [4]).
    EXPECT_NE(std::string(e.what()).find("variable 'bn1/beta' has shape [6]"), std::string::npos) << e.what();
  }
  // --restore: partial restore from the other run is allowed when names exist; shapes must match.
  TrainConfig re = tiny_config(base + "/re");
  re.epochs = 1;
  re.restore = latest_checkpoint(dir);
  EXPECT_NO_THROW(train(re, data));
}

TEST(Train, SmokeFashionMnist1k) {
  std::string dir = data::fashion_mnist_dir();
  if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz")) GTEST_SKIP() << "no Fashion-MNIST";
  data::MnistSplits s = data::load_mnist(dir);
  EXPECT_EQ(s.train.n, 60000);
  EXPECT_EQ(s.test.n, 10000);
  TrainConfig c;
  c.model = small_cnn();
  c.epochs = 1;
  c.batch = 32;
  c.lr = 0.05;
  c.train_limit = 1024;
  c.test_limit = 500;
  c.progress = nullptr;
  TrainResult r = train(c, s);
  EXPECT_EQ(r.steps, 32);
  EXPECT_LT(r.epochs[0].train_loss, 2.2);
  EXPECT_GT(r.test_acc, 0.3);
}

}  // namespace
}  // namespace qat::train
