// Towers: K replicas sharing variables, each rewritten by its own create_training_graph call
// (the multi-GPU pattern that broke in TF, tensorflow#27844), compute what one replica does on
// the whole batch: same losses, same variables after training steps, up to float rounding.
// The Session runs the towers concurrently (one lane per tower), with results that do not
// depend on the schedule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>

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
  EXPECT_EQ(g.collection(graph::kTowers).size(), 2u);  // input and labels splits: concurrent Session
  EXPECT_FALSE(g.find("c1/Conv2D"));
  EXPECT_EQ(g.get("tower_1/c1/Conv2D")->input(1).node->input(0).node->input(0).node->name(), "c1/kernel");
}

namespace {
struct TrainRun {
  std::vector<float> losses;
  std::map<std::string, Tensor> vars;
  int lanes = 0;
};
// `steps` momentum steps on the same batch of N, towers 1 or K; `pool` null: default pool.
TrainRun train_steps(int towers, bool quantize, const q::QuantizeOptions& o, int steps, int64_t N,
                ThreadPool* pool = nullptr, int concurrent = -1) {
  train::OptimizerOptions opt;
  opt.type = "momentum";
  auto tg = train::build_train_graph(tiny(), opt, 1, q::towers_training_rewrite(o, towers, quantize));
  graph::VariableStore v;
  v.initialize(*tg.graph);
  graph::Session s(*tg.graph, v, pool ? *pool : default_pool());
  if (concurrent >= 0) s.set_concurrent_towers(concurrent == 1);
  Tensor x = images(N), y = labels(N);
  TrainRun r;
  for (int step = 0; step < steps; ++step) {
    auto out = s.run({{tg.input, x}, {tg.labels, y}, {tg.learning_rate, Tensor::scalar(0.05f)}}, {tg.loss},
                     {tg.train_op});
    r.losses.push_back(out[0].at(0));
  }
  r.vars = v.all();
  r.lanes = s.last_run_lanes();
  return r;
}
// Largest |a - b| / (1 + max |a|) over the float variables.
double worst_variable_diff(const TrainRun& a, const TrainRun& b, std::string* which = nullptr) {
  double worst = 0;
  EXPECT_EQ(a.vars.size(), b.vars.size());
  for (const auto& [name, t1] : a.vars) {
    const Tensor& t2 = b.vars.at(name);
    EXPECT_EQ(t1.shape(), t2.shape()) << name;
    if (t1.dtype() != DType::kFloat32 || t1.shape() != t2.shape()) continue;
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < t1.size(); ++i) {
      scale = std::max(scale, (double)std::fabs(t1.at(i)));
      diff = std::max(diff, (double)std::fabs(t1.at(i) - t2.at(i)));
    }
    if (diff / (1 + scale) > worst) {
      worst = diff / (1 + scale);
      if (which) *which = name;
    }
  }
  return worst;
}
double worst_loss_diff(const TrainRun& a, const TrainRun& b) {
  double w = 0;
  for (size_t i = 0; i < a.losses.size(); ++i)
    w = std::max(w, (double)std::fabs(a.losses[i] - b.losses[i]) / std::fabs(a.losses[i]));
  return w;
}
void print_diffs(const char* what, const TrainRun& a, const TrainRun& b) {
  std::string which;
  double v = worst_variable_diff(a, b, &which);
  std::printf("%s: loss %.2g relative, variables %.2g (%s)\n", what, worst_loss_diff(a, b), v, which.c_str());
}
}  // namespace

// Float towers: one set of batch-norm statistics over the towers (moving averages updated once);
// the towers' sums and the gradient average differ from one replica's only in summation order.
TEST(Towers, FloatEqualOneReplicaToRounding) {
  q::QuantizeOptions o;
  TrainRun one = train_steps(1, false, o, 4, 32), two = train_steps(2, false, o, 4, 32);
  print_diffs("float, 4 steps", one, two);
  std::string which;
  EXPECT_LE(worst_loss_diff(one, two), 1e-6);
  EXPECT_LE(worst_variable_diff(one, two, &which), 1e-5) << which;
}

// QAT towers, with the fake quantization passing values through (quant_delay not reached) but
// everything else live: shared EMA ranges, folded batch norms with the towers' summed
// statistics, one moving-statistics update, gradient averaging. Equal to rounding.
TEST(Towers, QatEqualOneReplicaToRoundingBeforeQuantDelay) {
  q::QuantizeOptions o;
  o.quant_delay = 100;
  o.freeze_bn_delay = 2;  // exercise both BN phases
  TrainRun one = train_steps(1, true, o, 4, 32), two = train_steps(2, true, o, 4, 32);
  print_diffs("qat before quant_delay, 4 steps", one, two);
  std::string which;
  EXPECT_LE(worst_loss_diff(one, two), 1e-6);
  EXPECT_LE(worst_variable_diff(one, two, &which), 1e-5) << which;
  // Ranges are min of mins / max of maxes over towers: exact.
  for (const auto& [name, t] : one.vars)
    if (name.find("_quant/m") != std::string::npos)
      for (int64_t i = 0; i < t.size(); ++i) EXPECT_EQ(t.at(i), two.vars.at(name).at(i)) << name;
}

// With quantization on, a rounding-level difference (summation order) occasionally moves a
// value across a FakeQuant rounding boundary (or flips a MaxPool argmax): that value changes by
// one quantization step, and the training trajectory by ~1e-4 relative per step. The bound is
// that of such flips, not of a systematic difference (see the test above).
TEST(Towers, QatEqualOneReplicaUpToRoundingFlips) {
  q::QuantizeOptions o;
  o.freeze_bn_delay = 2;
  TrainRun one = train_steps(1, true, o, 4, 32), two = train_steps(2, true, o, 4, 32);
  print_diffs("qat, 4 steps", one, two);
  std::string which;
  EXPECT_LE(worst_loss_diff(one, two), 1e-4);
  EXPECT_LE(worst_variable_diff(one, two, &which), 1e-3) << which;
}

// The concurrent executor (one lane per tower, each with 1 of the pool's 2 threads) gives
// bit-identical results run to run and to a sequential run with 1 thread per kernel.
TEST(Towers, ConcurrentRunsAreDeterministicAndMatchSequential) {
  q::QuantizeOptions o;
  o.freeze_bn_delay = 2;
  for (bool quantize : {true, false}) {
    ThreadPool two_threads(2), one_thread(1);
    TrainRun a = train_steps(2, quantize, o, 3, 32, &two_threads);
    TrainRun b = train_steps(2, quantize, o, 3, 32, &two_threads);
    TrainRun c;
    {
      ScopedThreadLimit limit(1, 0);
      c = train_steps(2, quantize, o, 3, 32, &one_thread, 0);
    }
    EXPECT_EQ(a.lanes, 2);
    EXPECT_EQ(c.lanes, 1);
    for (const TrainRun* r : {&b, &c}) {
      EXPECT_EQ(a.losses, r->losses) << "quantize " << quantize;
      for (const auto& [name, t] : a.vars)
        for (int64_t i = 0; i < t.size(); ++i)
          ASSERT_EQ(std::memcmp((const char*)t.raw() + i * dtype_size(t.dtype()),
                                (const char*)r->vars.at(name).raw() + i * dtype_size(t.dtype()), dtype_size(t.dtype())),
                    0)
              << name << "[" << i << "] quantize " << quantize;
    }
  }
}

// A kernel error inside a tower names the node and leaves the Session usable.
TEST(Towers, ConcurrentErrorsNameTheNode) {
  q::QuantizeOptions o;
  train::OptimizerOptions opt;
  auto tg = train::build_train_graph(tiny(), opt, 1, q::towers_training_rewrite(o, 2, true));
  graph::VariableStore v;
  v.initialize(*tg.graph);
  ThreadPool two_threads(2);
  graph::Session s(*tg.graph, v, two_threads);
  auto feeds = [&](int64_t n) {
    return graph::Session::Feeds{{tg.input, images(n)}, {tg.labels, labels(n)}, {tg.learning_rate, Tensor::scalar(0.01f)}};
  };
  try {
    s.run(feeds(1), {tg.loss}, {tg.train_op});  // one example cannot be split into two towers
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tower_split"), std::string::npos) << e.what();
  }
  auto r = s.run(feeds(8), {tg.loss}, {tg.train_op});
  EXPECT_TRUE(std::isfinite(r[0].at(0)));
  EXPECT_EQ(s.last_run_lanes(), 2);
}
