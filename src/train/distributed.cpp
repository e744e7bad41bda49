// MPI data parallelism (include/qat/distributed.h, docs/distributed.md). Everything MPI is behind
// QAT_WITH_MPI; without it the collectives are single-process no-ops.
#include "qat/distributed.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <set>

#include "qat/optimizer.h"
#include "qat/train.h"

#if defined(QAT_WITH_MPI)
#include <mpi.h>
#endif

namespace qat::distributed {
namespace {

bool g_init = false;
int g_rank = 0, g_size = 1;

#if defined(QAT_WITH_MPI)
// A failed MPI call (a peer died, a socket closed) becomes an exception naming the call; the
// caller (the CLI) then ends the job with abort_job so no rank is left waiting.
void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  fail<Error>("MPI: {} failed on rank {} of {}: {}", what, g_rank, g_size, std::string(msg, (size_t)len));
}
void finalize_at_exit() {
  int fin = 0;
  MPI_Finalized(&fin);
  if (!fin) MPI_Finalize();
}
#endif

}  // namespace

bool available() {
#if defined(QAT_WITH_MPI)
  return true;
#else
  return false;
#endif
}

bool launched_by_mpirun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(v)) return true;
  return false;
}

int launched_world_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MPI_LOCALNRANKS"})
    if (const char* s = std::getenv(v)) return std::max(1, std::atoi(s));
  return launched_by_mpirun() ? 2 : 1;  // a launcher that does not say: assume several
}

void init() {
  if (g_init || !launched_by_mpirun()) return;
#if defined(QAT_WITH_MPI)
  int already = 0;
  MPI_Initialized(&already);
  if (!already) {
    // SERIALIZED: the gradient allreduce runs inside a graph kernel, possibly on a pool thread,
    // but never concurrently with another MPI call.
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
      fail<Error>("MPI: MPI_Init_thread failed");
    std::atexit(finalize_at_exit);
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  g_init = true;
#else
  // One process under mpirun (-np 1) is just a process; several would each train alone.
  if (launched_world_size() > 1)
    fail<UsageError>("launched by mpirun with {} processes, but this qat was built without MPI (configure with "
                     "-DQAT_WITH_MPI=ON and libopenmpi-dev installed); run it without mpirun",
                     launched_world_size());
#endif
}

bool initialized() { return g_init; }
int world_rank() { return g_rank; }
int world_size() { return g_size; }

void abort_job(const std::string& message, int code) {
  std::fprintf(stderr, "qat: rank %d of %d: %s\n", g_rank, g_size, message.c_str());
  std::fflush(stderr);
#if defined(QAT_WITH_MPI)
  if (g_init && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
  std::_Exit(code);
}

void allreduce_sum(std::vector<double>& v) {
#if defined(QAT_WITH_MPI)
  if (g_size <= 1 || v.empty()) return;
  check(MPI_Allreduce(MPI_IN_PLACE, v.data(), (int)v.size(), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
#endif
}

void allreduce_sum(float* data, int64_t n) {
#if defined(QAT_WITH_MPI)
  if (g_size <= 1 || n == 0) return;
  QAT_CHECK(n <= INT32_MAX, "MPI: allreduce of {} floats exceeds one call's count", n);
  check(MPI_Allreduce(MPI_IN_PLACE, data, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
#endif
}

void allreduce_max(float* data, int64_t n) {
#if defined(QAT_WITH_MPI)
  if (g_size <= 1 || n == 0) return;
  QAT_CHECK(n <= INT32_MAX, "MPI: allreduce of {} floats exceeds one call's count", n);
  check(MPI_Allreduce(MPI_IN_PLACE, data, (int)n, MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce (max)");
#endif
}

void broadcast_bytes(std::string& bytes) {
#if defined(QAT_WITH_MPI)
  if (g_size <= 1) return;
  int64_t n = (int64_t)bytes.size();
  check(MPI_Bcast(&n, 1, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  QAT_CHECK(n <= INT32_MAX, "MPI: broadcast of {} bytes exceeds one call's count", n);
  bytes.resize((size_t)n);
  if (n) check(MPI_Bcast(bytes.data(), (int)n, MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
#endif
}

void barrier() {
#if defined(QAT_WITH_MPI)
  if (g_size > 1) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

void shard_rows(int64_t global_batch, int rank, int size, int64_t* first, int64_t* count) {
  int64_t a = global_batch * rank / size, b = global_batch * (rank + 1) / size;
  *first = a;
  *count = b - a;
}

void maybe_inject_failure(int64_t step) {
  static const char* r = std::getenv("QAT_TEST_KILL_RANK");
  static const char* st = std::getenv("QAT_TEST_KILL_AT_STEP");
  if (!r || !st || std::atoi(r) != g_rank || std::atoll(st) != step) return;
  std::fprintf(stderr, "qat: rank %d: QAT_TEST_KILL_AT_STEP=%lld: killing myself\n", g_rank, (long long)step);
  std::fflush(stderr);
  ::raise(SIGKILL);
}

void maybe_dump_rank_state(const graph::Graph& g, const graph::VariableStore& vars) {
  const char* dir = std::getenv("QAT_TEST_RANK_DUMP_DIR");
  if (!dir || !*dir) return;
  train::Checkpoint c = train::checkpoint_from_store(g, vars);
  train::save_checkpoint(std::string(dir) + "/rank-" + std::to_string(g_rank) + ".qatckpt", c);
}

// ---- graph hooks ------------------------------------------------------------------------------

namespace {

using graph::Node;
using graph::Output;

bool is_training_bn(const Node* n) { return n->op() == "FusedBatchNorm" && n->attr_bool("is_training", true); }

// Float batch norms of one moving-mean variable (one per tower) -> sync BN over towers and ranks.
void convert_batch_norm_group(graph::Graph& g, const std::vector<Node*>& bns, double weight) {
  Node* first = bns[0];
  Output mmean = first->input(3), mvar = first->input(4);
  if (!graph::input_node(first, 3, "Variable") || !graph::input_node(first, 4, "Variable"))
    fail<Error>("{}: cannot synchronise across ranks: its moving statistics are not variables", first->describe());
  const double eps = first->attr_float("epsilon", 1e-3);
  double decay = -1;
  std::vector<Node*> old_updates;
  for (Node* bn : bns)
    for (int k = 1; k < bn->num_outputs(); ++k)
      for (auto [n, i] : g.consumers(bn->output(k))) {
        if (k <= 2 && n->op() == "AssignMovingAverage" && i == 1) {
          double d = n->attr_float("decay");
          if (decay >= 0 && d != decay)
            fail<Error>("{}: moving averages with decays {} and {}", bn->describe(), decay, d);
          decay = d;
          old_updates.push_back(n);
        } else {
          fail<Error>("{}: cannot synchronise across ranks: its statistics output {} is read by {}", bn->describe(), k,
                      n->describe());
        }
      }
  const std::string base = mmean.node->name();  // ".../moving_mean": one name per batch norm
  std::vector<Node*> sums;
  std::vector<Output> parts;
  for (Node* bn : bns) {
    sums.push_back(g.add_node("SyncBnSums", g.unique_name(bn->name() + "/sync_sums"), {bn->input(0), mmean}));
    parts.push_back(sums.back()->output(1));
  }
  Output stats = parts[0];
  if (parts.size() > 1) stats = g.add_node("AddN", g.unique_name(base + "/tower_stats"), parts)->output(0);
  Output global = g.add_node("MpiAllreduceSum", g.unique_name(base + "/allreduce_stats"), {stats},
                             {{"grad_weight", weight}})
                      ->output(0);
  for (size_t k = 0; k < bns.size(); ++k) {
    Node* bn = bns[k];
    Node* y = g.add_node("SyncBnApply", g.unique_name(bn->name() + "/sync_apply"),
                         {sums[k]->output(0), global, sums[k]->output(2), bn->input(1), bn->input(2)},
                         {{"epsilon", eps}});
    g.replace_uses(bn->output(0), y->output(0));
  }
  if (decay >= 0) {
    Node* u = g.add_node("SyncBnMovingUpdate", g.unique_name(base + "/sync_update"),
                         {mmean, mvar, global, sums[0]->output(2)}, {{"decay", decay}});
    g.add_to_collection(graph::kUpdateOps, u);
  }
  for (Node* u : old_updates) g.remove_node(u, /*force=*/true);  // kUpdateOps skips removed nodes
  for (Node* bn : bns) g.remove_node(bn);
}

bool from_op(Output o, const char* op) { return o.node && o.node->op() == op; }

}  // namespace

SyncSummary sync_batch_statistics(graph::Graph& g, double weight) {
  register_ops();
  QAT_CHECK(weight > 0 && weight <= 1, "sync_batch_statistics: weight {} outside (0, 1]", weight);
  SyncSummary sum;
  // Float batch norms, grouped by their moving mean (towers share it), in graph order.
  std::vector<std::pair<Node*, std::vector<Node*>>> groups;
  for (Node* n : g.nodes()) {
    if (!is_training_bn(n)) continue;
    Node* mm = n->input(3).node;
    auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& p) { return p.first == mm; });
    if (it == groups.end()) groups.push_back({mm, {n}});
    else it->second.push_back(n);
  }
  for (auto& [mm, bns] : groups) convert_batch_norm_group(g, bns, weight);
  sum.batch_norms_converted = (int)groups.size();
  sum.statistics_synced = sum.batch_norms_converted;
  // Folded batch norms of the QAT rewrite: their (tower-added) statistics, once each.
  std::vector<Output> stats;
  for (Node* n : g.nodes()) {
    Output s;
    if (n->op() == "BnFoldApply") s = n->input(1);
    else if (n->op() == "BnFoldMovingUpdate") s = n->input(2);
    else continue;
    if (!from_op(s, "MpiAllreduceSum") && std::find(stats.begin(), stats.end(), s) == stats.end()) stats.push_back(s);
  }
  for (Output s : stats) {
    Node* ar = g.add_node("MpiAllreduceSum", g.unique_name(s.node->name() + "/allreduce_stats"), {s},
                          {{"grad_weight", weight}});
    g.replace_uses(s, ar->output(0), std::vector<Node*>{ar});
    ++sum.statistics_synced;
  }
  // Fake-quant EMA ranges: the global batch range (min of mins / max of maxes over towers and
  // ranks) for every tower's pair, so the update and the quantization agree on every rank.
  for (Node* q : g.nodes()) {
    if (q->op() != "QuantRangeEma" || q->num_inputs() < 4 || from_op(q->input(2), "MpiAllreduceRange")) continue;
    std::vector<Output> pairs(q->inputs().begin() + 2, q->inputs().end());
    Node* r = g.add_node("MpiAllreduceRange", g.unique_name(q->name() + "/allreduce_range"), pairs);
    for (int i = 2; i + 1 < q->num_inputs(); i += 2) {
      g.set_input(q, i, r->output(0));
      g.set_input(q, i + 1, r->output(1));
    }
    ++sum.ranges_synced;
  }
  g.infer_shapes();
  return sum;
}

std::function<void(graph::Graph&)> with_synced_statistics(std::function<void(graph::Graph&)> inner, double weight) {
  return [inner = std::move(inner), weight](graph::Graph& g) {
    if (inner) inner(g);
    sync_batch_statistics(g, weight);
  };
}

int insert_gradient_allreduce(graph::Graph& g, double weight) {
  register_ops();
  // Every Apply* op (optimizer.cpp) takes (var, slots..., learning_rate, grad, ...): the gradient
  // is the input right after the learning-rate placeholder.
  std::vector<std::pair<Node*, int>> edges;
  std::vector<Output> grads;
  for (Node* n : g.nodes()) {
    if (n->op().rfind("Apply", 0) != 0) continue;
    for (int i = 0; i + 1 < n->num_inputs(); ++i) {
      if (n->input(i).node->op() != "Placeholder") continue;
      edges.push_back({n, i + 1});
      grads.push_back(n->input(i + 1));
      break;
    }
  }
  if (!grads.empty()) {
    Node* ar = g.add_node("MpiAllreduceGrads", g.unique_name("mpi/allreduce_grads"), grads, {{"weight", weight}});
    for (size_t k = 0; k < edges.size(); ++k) g.set_input(edges[k].first, edges[k].second, ar->output((int)k));
  }
  // Collectives must be called in the same order on every rank, one at a time: chain them in a
  // topological order (the same on every rank: every rank built the same graph).
  Node* prev = nullptr;
  for (Node* n : g.topo_order()) {
    if (n->op().rfind("Mpi", 0) != 0) continue;
    if (prev) g.add_control_input(n, prev);
    prev = n;
  }
  return (int)edges.size();
}

SyncedState synced_state(const graph::Graph& g) {
  std::set<std::string> skip;
  for (graph::Node* n : g.collection(train::kOptimizerSlots)) skip.insert(n->name());
  for (graph::Node* n : graph::trainable_variables(g)) skip.insert(n->name());
  skip.insert("global_step");
  // Updated from global statistics (sync_batch_statistics): identical on every rank already.
  for (graph::Node* n : g.nodes()) {
    bool synced = (n->op() == "QuantRangeEma" && n->num_inputs() > 2 && from_op(n->input(2), "MpiAllreduceRange")) ||
                  ((n->op() == "BnFoldMovingUpdate" || n->op() == "SyncBnMovingUpdate") && n->num_inputs() > 2 &&
                   from_op(n->input(2), "MpiAllreduceSum"));
    if (synced)
      for (int i = 0; i < 2; ++i) skip.insert(n->input(i).node->name());
  }
  std::set<std::string> mins, maxs;
  for (graph::Node* n : g.nodes()) {
    if (n->op().rfind("QuantRange", 0) != 0 || n->num_inputs() < 2) continue;
    if (n->input(0).node->op() == "Variable") mins.insert(n->input(0).node->name());
    if (n->input(1).node->op() == "Variable") maxs.insert(n->input(1).node->name());
  }
  SyncedState s;
  for (graph::Node* n : g.nodes()) {
    if (n->op() != "Variable" || skip.count(n->name())) continue;
    if (n->output_info(0).dtype != DType::kFloat32) continue;
    if (mins.count(n->name())) s.min_vars.push_back(n->name());
    else if (maxs.count(n->name())) s.max_vars.push_back(n->name());
    else s.mean_vars.push_back(n->name());
  }
  return s;
}

void sync_state(const SyncedState& s, graph::VariableStore& vars) {
#if defined(QAT_WITH_MPI)
  if (g_size <= 1) return;
  auto pack = [&](const std::vector<std::string>& names, float sign, std::vector<float>& buf) {
    for (const auto& n : names) {
      const Tensor& t = vars.get(n);
      const float* p = t.data<float>();
      for (int64_t i = 0; i < t.size(); ++i) buf.push_back(sign * p[i]);
    }
  };
  auto unpack = [&](const std::vector<std::string>& names, float scale, const float* buf) {
    for (const auto& n : names) {
      Tensor& t = vars.get(n);
      float* p = t.data<float>();
      for (int64_t i = 0; i < t.size(); ++i) p[i] = scale * *buf++;
    }
    return buf;
  };
  std::vector<float> mean, ext;
  pack(s.mean_vars, 1.f, mean);
  // min of mins == -(max of -mins): one MPI_MAX call covers both kinds of range variables.
  pack(s.min_vars, -1.f, ext);
  pack(s.max_vars, 1.f, ext);
  if (!mean.empty()) {
    check(MPI_Allreduce(MPI_IN_PLACE, mean.data(), (int)mean.size(), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD),
          "MPI_Allreduce (moving statistics)");
    unpack(s.mean_vars, 1.f / (float)g_size, mean.data());
  }
  if (!ext.empty()) {
    check(MPI_Allreduce(MPI_IN_PLACE, ext.data(), (int)ext.size(), MPI_FLOAT, MPI_MAX, MPI_COMM_WORLD),
          "MPI_Allreduce (quantization ranges)");
    const float* p = unpack(s.min_vars, -1.f, ext.data());
    unpack(s.max_vars, 1.f, p);
  }
#endif
}

void broadcast_variables(graph::VariableStore& vars) {
#if defined(QAT_WITH_MPI)
  if (g_size <= 1) return;
  // Every rank built the same graphs, so the store holds the same names, dtypes and shapes in
  // the same (map) order: only the bytes travel. A size mismatch means the ranks disagree about
  // the model (different command lines) and is reported instead of corrupting memory.
  std::string buf;
  int64_t mine = 0;
  for (auto& [name, t] : vars.all()) mine += (int64_t)t.nbytes();
  if (g_rank == 0) {
    buf.reserve((size_t)mine);
    for (auto& [name, t] : vars.all()) buf.append((const char*)t.raw(), t.nbytes());
  }
  broadcast_bytes(buf);
  if ((int64_t)buf.size() != mine)
    fail<UsageError>("MPI: rank 0 has {} bytes of variables, rank {} has {}: every rank must run the same command",
                     buf.size(), g_rank, mine);
  if (g_rank != 0) {
    size_t at = 0;
    for (auto& [name, t] : vars.all()) {
      std::memcpy(t.raw(), buf.data() + at, t.nbytes());
      at += t.nbytes();
    }
  }
#endif
}

}  // namespace qat::distributed
