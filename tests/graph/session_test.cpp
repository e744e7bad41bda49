// Executor and autodiff: feeds/fetches/targets, variable updates, plan reuse, ordering of
// state updates, gradient accumulation over several consumers.
#include <gtest/gtest.h>

#include <cmath>

#include "qat/graph.h"
#include "qat/ops.h"

namespace qat::graph {
namespace {

namespace o = qat::ops;

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override { o::register_standard_ops(); }
};

TEST_F(SessionTest, FeedFetchByHandleAndName) {
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {-1, 2}, "x");
  Output w = o::variable(g, "w", Tensor::from_vector({2, 2}, {1, 2, 3, 4}));
  Output y = o::matmul(g, x, w, false, false, "y");
  VariableStore vars;
  vars.initialize(g);
  Session s(g, vars);
  auto r = s.run({{x, Tensor::from_vector({1, 2}, {1, 1})}}, {y});
  ASSERT_EQ(r[0].shape(), (Shape{1, 2}));
  EXPECT_EQ(r[0].data<float>()[0], 4);
  EXPECT_EQ(r[0].data<float>()[1], 6);
  auto r2 = s.run(std::map<std::string, Tensor>{{"x", Tensor::from_vector({2, 2}, {1, 0, 0, 1})}}, {"y"});
  EXPECT_EQ(r2[0].data<float>()[3], 4);
  // Missing feed and wrong feed shape are errors naming the placeholder.
  try {
    s.run({}, {y});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("'x'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(s.run({{x, Tensor::zeros({1, 3})}}, {y}), ShapeError);
  // Feeding an intermediate value skips its producers.
  auto r3 = s.run({{y, Tensor::zeros({1, 2})}}, {y});
  EXPECT_EQ(r3[0].data<float>()[0], 0);
}

TEST_F(SessionTest, AssignTargetsAndGlobalStep) {
  Graph g;
  Output v = o::variable(g, "v", Tensor::from_vector({2}, {1, 2}));
  Output inc = o::constant(g, Tensor::from_vector({2}, {10, 20}));
  Node* add = g.add_node("AssignAdd", "v/add", {v, inc});
  Output gs = get_or_create_global_step(g);
  Tensor one(DType::kInt64, {});
  one.data<int64_t>()[0] = 1;
  Node* step = g.add_node("AssignAdd", "step", {gs, o::constant(g, one)});
  VariableStore vars;
  vars.initialize(g);
  Session s(g, vars);
  std::vector<Node*> targets = {add, step};
  for (int i = 0; i < 3; ++i) s.run({}, std::vector<Output>{}, targets);
  EXPECT_EQ(vars.get("v").data<float>()[1], 62);
  EXPECT_EQ(vars.get("global_step").data<int64_t>()[0], 3);
  // A fetched variable is a snapshot, not an alias of the live value.
  auto snap = s.run({}, {v});
  s.run({}, std::vector<Output>{}, targets);
  EXPECT_EQ(snap[0].data<float>()[0], 31);
  EXPECT_EQ(vars.get("v").data<float>()[0], 41);
}

TEST_F(SessionTest, BatchNormMovingAverages) {
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {4, 1}, "x");
  Output mm = o::variable(g, "mm", Tensor::zeros({1}), false);
  Output mv = o::variable(g, "mv", Tensor::filled({1}, 1), false);
  auto bn = o::batch_norm(g, x, o::constant(g, Tensor::filled({1}, 1)), o::constant(g, Tensor::zeros({1})), mm, mv,
                          true, 0.5, 1e-3);
  VariableStore vars;
  vars.initialize(g);
  Session s(g, vars);
  auto updates = g.collection(kUpdateOps);
  auto r = s.run({{x, Tensor::from_vector({4, 1}, {1, 2, 3, 4})}}, {bn.y}, updates);
  // batch mean 2.5, unbiased var 5/3: moving = 0.5*old + 0.5*batch.
  EXPECT_NEAR(vars.get("mm").data<float>()[0], 1.25, 1e-6);
  EXPECT_NEAR(vars.get("mv").data<float>()[0], 0.5 + 0.5 * 5.0 / 3.0, 1e-5);
  EXPECT_NEAR(r[0].data<float>()[0], (1 - 2.5) / std::sqrt(1.25 + 1e-3), 1e-4);
}

TEST_F(SessionTest, StateUpdatesRunAfterEarlierReads) {
  // y reads w; the SGD-style update of w is created later and shares no data edge with y's
  // consumer, so creation order must place it after every read.
  Graph g;
  Output w = o::variable(g, "w", Tensor::from_vector({1}, {5}));
  Output y = o::mul(g, w, o::constant(g, Tensor::from_vector({1}, {2})), "y");
  Node* upd = g.add_node("Assign", "w/set", {w, o::constant(g, Tensor::from_vector({1}, {100}))});
  VariableStore vars;
  vars.initialize(g);
  Session s(g, vars);
  auto r = s.run({}, {y}, {upd});
  EXPECT_EQ(r[0].data<float>()[0], 10);
  EXPECT_EQ(vars.get("w").data<float>()[0], 100);
}

TEST_F(SessionTest, GradientsSumOverConsumers) {
  // L = sum(x*x + x) -> dL/dx = 2x + 1; x feeds three consumers.
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {3}, "x");
  Output l = o::mean(g, o::add(g, o::mul(g, x, x), x), {0});
  auto dx = gradients(g, l, {x});
  ASSERT_TRUE(dx[0]);
  EXPECT_EQ(dx[0].node->name().rfind("gradients/", 0), 0u) << dx[0].node->name();
  VariableStore vars;
  Session s(g, vars);
  auto r = s.run({{x, Tensor::from_vector({3}, {1, 2, 3})}}, {dx[0]});
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(r[0].data<float>()[i], (2 * (i + 1) + 1) / 3.0, 1e-6);
  // Unconnected x gets a null gradient; a node without a gradient function is an error.
  Output z = o::placeholder(g, DType::kFloat32, {3}, "z");
  EXPECT_FALSE(gradients(g, l, {z})[0]);
}

TEST_F(SessionTest, PlansAreReusedAndRebuiltAfterRewrite) {
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {2}, "x");
  Output y = o::relu(g, x, "y");
  Output out = o::identity(g, y, "out");
  VariableStore vars;
  Session s(g, vars);
  Tensor in = Tensor::from_vector({2}, {-1, 2});
  auto r1 = s.run({{x, in}}, {out});
  EXPECT_EQ(r1[0].data<float>()[0], 0);
  // Rewrite: out reads x directly; the session notices the new graph version.
  g.set_input(out.node, 0, x);
  auto r2 = s.run({{x, in}}, {out});
  EXPECT_EQ(r2[0].data<float>()[0], -1);
  // Recycled buffers: results stay valid after later steps.
  Output y2 = o::relu(g, x, "y2");
  auto a = s.run({{x, in}}, {y2});
  auto b = s.run({{x, Tensor::from_vector({2}, {5, 6})}}, {y2});
  EXPECT_EQ(a[0].data<float>()[1], 2);
  EXPECT_EQ(b[0].data<float>()[1], 6);
}

TEST_F(SessionTest, BufferReuseRespectsAliases) {
  // Reshape outputs alias their input's buffer: the buffer must stay live while any alias is
  // read, and be reused only after; the values prove no live buffer was handed out twice.
  Graph g;
  Output x = o::placeholder(g, DType::kFloat32, {4, 6}, "x");
  Output a = o::relu(g, x);                       // buffer A
  Output r = o::reshape(g, a, {6, 4});            // aliases A
  Output b = o::mul(g, r, o::constant(g, Tensor::scalar(2)));  // buffer B (A still live via r)
  Output c = o::add(g, o::reshape(g, b, {4, 6}), a);           // reads A again
  Output d = o::relu(g, o::sub(g, c, x));
  Output e = o::add(g, d, o::reshape(g, r, {4, 6}));
  VariableStore vars;
  Session s(g, vars);
  Tensor in = Tensor::zeros({4, 6});
  for (int i = 0; i < 24; ++i) in.data<float>()[i] = (float)(i % 7) - 3;
  for (int step = 0; step < 3; ++step) {
    auto out = s.run({{x, in}}, {e, c});
    for (int i = 0; i < 24; ++i) {
      float xv = in.data<float>()[i], av = std::max(xv, 0.f), cv = 3 * av;
      EXPECT_EQ(out[1].data<float>()[i], cv);
      EXPECT_EQ(out[0].data<float>()[i], std::max(cv - xv, 0.f) + av) << i;
    }
  }
}

TEST_F(SessionTest, TowersShareVariablesAndKeepGradientsApart) {
  // Two towers on halves of a batch share w; each tower's gradient lives under its own scope and
  // the average equals the gradient of the whole batch.
  Graph g;
  Output w = o::variable(g, "w", Tensor::from_vector({2, 1}, {0.5f, -1.f}));
  std::vector<Output> xs, grads;
  for (int t = 0; t < 2; ++t) {
    Graph::NameScope s(g, "tower_" + std::to_string(t));
    Output x = o::placeholder(g, DType::kFloat32, {-1, 2}, "x");
    Output l = o::mean(g, o::relu(g, o::matmul(g, x, w)), {0, 1});
    xs.push_back(x);
    grads.push_back(gradients(g, l, {w})[0]);
    EXPECT_EQ(grads.back().node->name().rfind("tower_" + std::to_string(t) + "/gradients/", 0), 0u)
        << grads.back().node->name();
  }
  Output avg = o::mul(g, o::add_n(g, grads), o::constant(g, Tensor::scalar(0.5f)));
  Graph whole;
  Output wx = o::placeholder(whole, DType::kFloat32, {-1, 2}, "x");
  Output ww = o::variable(whole, "w", Tensor::from_vector({2, 1}, {0.5f, -1.f}));
  Output wl = o::mean(whole, o::relu(whole, o::matmul(whole, wx, ww)), {0, 1});
  Output wg = gradients(whole, wl, {ww})[0];
  VariableStore vars;
  vars.initialize(g);
  Session s(g, vars), sw(whole, vars);  // the same store serves both graphs
  Tensor a = Tensor::from_vector({2, 2}, {1, 0, 2, -1}), b = Tensor::from_vector({2, 2}, {-1, -3, 3, 1});
  auto r = s.run({{xs[0], a}, {xs[1], b}}, {avg});
  auto q = sw.run({{wx, Tensor::from_vector({4, 2}, {1, 0, 2, -1, -1, -3, 3, 1})}}, {wg});
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(r[0].data<float>()[i], q[0].data<float>()[i], 1e-6);
  // A second gradients() call in the same scope gets fresh names.
  Output again = gradients(whole, wl, {ww})[0];
  EXPECT_NE(again.node->name(), wg.node->name());
}

// Concurrent towers: steps of "tower_k/..." nodes run on lane k. Reads made before a state
// update (in plan order) see the old value and reads after it the new one, whatever the
// schedule; results equal the sequential run's; a kernel error in a tower names its node.
TEST_F(SessionTest, ConcurrentTowerLanes) {
  Graph g;
  std::vector<float> w0(64 * 64);
  for (size_t i = 0; i < w0.size(); ++i) w0[i] = (float)((i * 37) % 17) / 17.f - 0.5f;
  Output w = o::variable(g, "w", Tensor::from_vector({64, 64}, w0));
  std::vector<Output> xs, before, grads;
  for (int t = 0; t < 2; ++t) {
    Graph::NameScope s(g, "tower_" + std::to_string(t));
    Output x = o::placeholder(g, DType::kFloat32, {-1, -1}, "x");
    Output h = o::relu(g, o::matmul(g, x, w));
    for (int k = 0; k < 4; ++k) h = o::relu(g, o::matmul(g, h, w));
    Output l = o::mean(g, h, {0, 1});
    xs.push_back(x);
    before.push_back(o::identity(g, l, "loss"));
    grads.push_back(gradients(g, l, {w})[0]);
  }
  Output avg = o::mul(g, o::add_n(g, grads), o::constant(g, Tensor::scalar(0.5f)), "avg");
  Node* upd = g.add_node("AssignSub", "w/update", {w, avg});
  Output after;
  {
    Graph::NameScope s(g, "tower_1");
    after = o::mean(g, o::mul(g, w, w), {0, 1}, false, "after");  // planned after the update
  }
  g.add_to_collection(kTowers, xs[0].node);
  auto run = [&](bool concurrent, ThreadPool& pool, int* lanes) {
    VariableStore vars;
    vars.initialize(g);
    Session s(g, vars, pool);
    if (!concurrent) s.set_concurrent_towers(false);
    std::vector<float> out;
    for (int step = 0; step < 3; ++step) {
      Tensor a(DType::kFloat32, {8, 64}), b(DType::kFloat32, {8, 64});
      for (int64_t i = 0; i < a.size(); ++i) {
        a.data<float>()[i] = (float)((i * 13 + step) % 11) / 11.f;
        b.data<float>()[i] = (float)((i * 7 + step) % 5) / 5.f - 0.3f;
      }
      auto r = s.run({{xs[0], a}, {xs[1], b}}, {before[0], before[1], after}, {upd});
      for (auto& t : r) out.push_back(t.at(0));
    }
    for (int64_t i = 0; i < vars.get("w").size(); ++i) out.push_back(vars.get("w").at(i));
    *lanes = s.last_run_lanes();
    return out;
  };
  ThreadPool two(2), one(1);
  int lanes_c = 0, lanes_s = 0;
  std::vector<float> c1 = run(true, two, &lanes_c), c2 = run(true, two, &lanes_c), seq;
  {
    ScopedThreadLimit limit(1, 0);  // the lanes' per-kernel thread count
    seq = run(false, one, &lanes_s);
  }
  EXPECT_EQ(lanes_c, 2);
  EXPECT_EQ(lanes_s, 1);
  EXPECT_EQ(c1, c2);
  EXPECT_EQ(c1, seq);
  // "after" saw the updated w: it differs from mean(w0^2).
  double m0 = 0;
  for (float v : w0) m0 += (double)v * v;
  EXPECT_NE((float)(m0 / w0.size()), c1[2]);

  // A kernel error on lane 1 names the node; the Session stays usable.
  VariableStore vars;
  vars.initialize(g);
  Session s(g, vars, two);
  try {
    s.run({{xs[0], Tensor::zeros({8, 64})}, {xs[1], Tensor::zeros({8, 3})}}, {before[0], before[1]});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tower_1/"), std::string::npos) << e.what();
  }
  auto r = s.run({{xs[0], Tensor::zeros({8, 64})}, {xs[1], Tensor::zeros({8, 64})}}, {before[0], before[1]});
  EXPECT_EQ(r[1].at(0), 0.f);
  EXPECT_EQ(s.last_run_lanes(), 2);
  // Profiling works on lanes (per-op times of both lanes are added).
  s.set_profiling(true);
  s.run({{xs[0], Tensor::zeros({8, 64})}, {xs[1], Tensor::zeros({8, 64})}}, {before[0], before[1]});
  EXPECT_GE(s.profile().at("MatMul").calls, 10);
}

}  // namespace
}  // namespace qat::graph
