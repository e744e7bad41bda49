// MPI data parallelism (include/qat/distributed.h, docs/distributed.md). Everything MPI is behind
// QAT_WITH_MPI; without it the collectives are single-process no-ops.
#include "qat/distributed.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
  fail<UsageError>("launched by mpirun, but this qat was built without MPI (cmake -DQAT_WITH_MPI=ON with "
                   "libopenmpi-dev installed)");
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

void register_allreduce_op() {
  if (graph::find_op("MpiAllreduceGrads")) return;
  graph::OpDef d;
  d.name = "MpiAllreduceGrads";
  d.shape_fn = [](graph::InferContext& c) {
    for (int i = 0; i < c.num_inputs(); ++i) {
      c.expect_dtype(i, DType::kFloat32);
      c.set_output(i, DType::kFloat32, c.shape(i));
    }
  };
  d.kernel = [](graph::KernelContext& c) {
    // One fused buffer, one MPI call per step (not one per tensor): latency is paid once.
    const float w = (float)c.node().attr_float("weight");
    int64_t total = 0;
    for (int i = 0; i < c.num_inputs(); ++i) total += c.input(i).size();
    std::vector<float> buf((size_t)total);
    int64_t at = 0;
    for (int i = 0; i < c.num_inputs(); ++i) {
      const float* p = c.input(i).data<float>();
      for (int64_t j = 0, n = c.input(i).size(); j < n; ++j) buf[(size_t)(at + j)] = p[j] * w;
      at += c.input(i).size();
    }
    allreduce_sum(buf.data(), total);
    at = 0;
    for (int i = 0; i < c.num_inputs(); ++i) {
      Tensor& o = c.allocate_output(i, DType::kFloat32, c.input(i).shape());
      std::memcpy(o.data<float>(), buf.data() + at, (size_t)o.size() * sizeof(float));
      at += o.size();
    }
  };
  d.stateful = true;  // never constant-folded or deduplicated: it communicates
  graph::register_op(std::move(d));
}

}  // namespace

int insert_gradient_allreduce(graph::Graph& g, double weight) {
  register_allreduce_op();
  // Every Apply* op (optimizer.cpp) takes (var, slots..., learning_rate, grad, ...): the gradient
  // is the input right after the learning-rate placeholder.
  std::vector<std::pair<graph::Node*, int>> edges;
  std::vector<graph::Output> grads;
  for (graph::Node* n : g.nodes()) {
    if (n->op().rfind("Apply", 0) != 0) continue;
    for (int i = 0; i + 1 < n->num_inputs(); ++i) {
      if (n->input(i).node->op() != "Placeholder") continue;
      edges.push_back({n, i + 1});
      grads.push_back(n->input(i + 1));
      break;
    }
  }
  if (grads.empty()) return 0;
  graph::Node* ar = g.add_node("MpiAllreduceGrads", g.unique_name("mpi/allreduce_grads"), grads, {{"weight", weight}});
  for (size_t k = 0; k < edges.size(); ++k) g.set_input(edges[k].first, edges[k].second, ar->output((int)k));
  return (int)edges.size();
}

SyncedState synced_state(const graph::Graph& g) {
  std::set<std::string> skip;
  for (graph::Node* n : g.collection(train::kOptimizerSlots)) skip.insert(n->name());
  for (graph::Node* n : graph::trainable_variables(g)) skip.insert(n->name());
  skip.insert("global_step");
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
