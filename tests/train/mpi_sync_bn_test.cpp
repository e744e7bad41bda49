// Sync BN and the collective graph ops of data parallelism (include/qat/distributed.h) in ONE
// process, where every collective is the identity: the rewritten graph must train exactly like
// the plain one (FusedBatchNorm), so what mpirun adds is only the allreduce. Runs with and without
// QAT_WITH_MPI. The model has a ReLU and a ReLU6 after its batch norms, so the executor fusions
// (SyncBnApply+Relu/Relu6 and their gradients) are exercised; QAT_NO_FUSION=1 runs the plain
// ops. The multi-process behaviour is tests/train/mpi_data_parallel_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "qat/distributed.h"
#include "qat/ops.h"
#include "qat/train.h"
#include "test_util.h"

namespace qat::train {
namespace {

using graph::Graph;
using graph::Node;

ModelSpec bn_cnn() {
  ModelSpec m;
  m.name = "bn_cnn";
  m.height = m.width = 8;
  m.conv2d("conv1", 4, 3, 1, false).batch_norm("bn1").relu("relu1").max_pool("pool1");
  m.conv2d("conv2", 6, 3, 1, false).batch_norm("bn2").relu6("relu2");
  m.global_avg_pool("gap").dense("fc", 10);
  return m;
}

int count_op(const Graph& g, const std::string& op) {
  int n = 0;
  for (Node* x : g.nodes()) n += x->op() == op;
  return n;
}

TEST(SyncBn, RewriteReplacesTrainingBatchNormsAndChainsCollectives) {
  TrainGraph tg = build_train_graph(bn_cnn(), {}, 1, distributed::with_synced_statistics({}, 0.5));
  Graph& g = *tg.graph;
  EXPECT_EQ(count_op(g, "FusedBatchNorm"), 0);
  EXPECT_EQ(count_op(g, "AssignMovingAverage"), 0);
  EXPECT_EQ(count_op(g, "SyncBnSums"), 2);
  EXPECT_EQ(count_op(g, "SyncBnApply"), 2);
  // Forward: one allreduce of the statistics per batch norm; backward (autodiff): one more each.
  EXPECT_EQ(count_op(g, "MpiAllreduceSum"), 4);
  int updates = 0;
  for (Node* u : g.collection(graph::kUpdateOps)) updates += u->op() == "SyncBnMovingUpdate";
  EXPECT_EQ(updates, 2);
  EXPECT_EQ(distributed::insert_gradient_allreduce(g, 0.5), (int)graph::trainable_variables(g).size());
  // Every collective waits for the previous one (control edge): one order on every rank.
  std::vector<Node*> coll;
  for (Node* n : g.topo_order())
    if (n->op().rfind("Mpi", 0) == 0) coll.push_back(n);
  ASSERT_EQ(coll.size(), 5u);
  EXPECT_EQ(coll.back()->op(), "MpiAllreduceGrads");
  for (size_t i = 1; i < coll.size(); ++i) {
    const auto& ci = coll[i]->control_inputs();
    EXPECT_NE(std::find(ci.begin(), ci.end(), coll[i - 1]), ci.end()) << coll[i]->name();
  }
  // Moving statistics are updated from global statistics: nothing left to sync after a step.
  distributed::SyncedState s = distributed::synced_state(g);
  EXPECT_TRUE(s.mean_vars.empty() && s.min_vars.empty() && s.max_vars.empty());
}

// The sync-BN graph (SyncBnSums -> MpiAllreduceSum -> SyncBnApply, SyncBnMovingUpdate; weight
// 0.5 so the backward allreduce scales by 0.5 and 2) trains like FusedBatchNorm: same weights,
// moving statistics and momentum after 32 steps, up to float rounding.
TEST(SyncBn, TrainsLikeFusedBatchNormOnOneProcess) {
  data::MnistSplits d{testing::synthetic(256, 8, 8, 4, 11), testing::synthetic(64, 8, 8, 4, 12)};
  auto run = [&](bool sync, graph::VariableStore& vars) {
    TrainConfig c;
    c.model = bn_cnn();
    c.epochs = 2;
    c.batch = 16;
    c.lr = 0.1;
    c.seed = 5;
    c.progress = nullptr;
    c.optimizer.type = "momentum";
    if (sync) c.train_rewrite = distributed::with_synced_statistics({}, 0.5);
    return train(c, d, &vars);
  };
  graph::VariableStore plain, sync;
  TrainResult a = run(false, plain), b = run(true, sync);
  EXPECT_EQ(a.steps, 32);
  EXPECT_EQ(b.steps, 32);
  double worst = 0;
  int compared = 0;
  for (auto& [name, t] : plain.all()) {
    if (t.dtype() != DType::kFloat32) continue;
    ASSERT_TRUE(sync.has(name)) << name;
    const Tensor& u = sync.get(name);
    ASSERT_EQ(u.size(), t.size()) << name;
    for (int64_t i = 0; i < t.size(); ++i)
      worst = std::max(worst, std::fabs((double)t.data<float>()[i] - u.data<float>()[i]) /
                                  (1.0 + std::fabs((double)t.data<float>()[i])));
    ++compared;
  }
  EXPECT_GT(compared, 10);
  std::printf("[ measured ] sync BN vs FusedBatchNorm after 32 steps: max rel diff %.2g\n", worst);
  // Only float summation order differs (shifted sums in double against FusedBatchNorm's kernel).
  EXPECT_LT(worst, 1e-5);
  // The moving statistics did move (compared values are not untouched initial values).
  EXPECT_GT(std::fabs(plain.get("bn1/moving_mean").data<float>()[0]), 1e-4);
  EXPECT_NEAR(a.epochs.back().train_loss, b.epochs.back().train_loss, 1e-5);
}

TEST(SyncBn, CollectivesAreTheIdentityOnOneProcess) {
  register_train_ops();  // Const (ctest runs each test in its own process)
  distributed::register_ops();
  Graph g;
  auto c = [&](std::vector<float> v) {
    return ops::constant(g, Tensor::from_vector({(int64_t)v.size()}, v));
  };
  Node* r = g.add_node("MpiAllreduceRange", "range", {c({-1, 2}), c({3, 4}), c({-2, 5}), c({1, 3})});
  Node* s = g.add_node("MpiAllreduceSum", "sum", {c({1, 2}), c({3})}, {{"pre_scale", 4.0}, {"post_scale", 0.5}});
  graph::VariableStore vars;
  graph::Session sess(g, vars);
  auto out = sess.run(graph::Session::Feeds{}, {r->output(0), r->output(1), s->output(0), s->output(1)});
  EXPECT_EQ(out[0].data<float>()[0], -2.f);  // min of the pairs' minima
  EXPECT_EQ(out[0].data<float>()[1], 2.f);
  EXPECT_EQ(out[1].data<float>()[0], 3.f);  // max of the maxima
  EXPECT_EQ(out[1].data<float>()[1], 4.f);
  EXPECT_EQ(out[2].data<float>()[1], 4.f);  // 2 * 4 * 0.5
  EXPECT_EQ(out[3].data<float>()[0], 6.f);
}

}  // namespace
}  // namespace qat::train
