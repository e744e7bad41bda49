// qat::distributed — data-parallel training across processes with MPI (Open MPI), issue 7.
//
//   mpirun -np N qat train ...     (docs/distributed.md has the flags that work as root / on loopback)
//
// Every rank builds the same graphs; rank 0 initialises (or restores) the variables and
// broadcasts them; each global step every rank reads its own rows of the global batch
// (rows [B*r/N, B*(r+1)/N) of the seeded shuffled epoch order, like towers), runs forward and
// backward, and the gradients of all trainable variables are averaged with ONE allreduce of one
// fused float buffer (op "MpiAllreduceGrads", inserted before the optimizer's Apply* nodes).
// After each step the moving statistics are made identical on every rank with one more fused
// allreduce: batch-norm moving mean/variance are averaged, fake-quant EMA ranges take the min of
// the mins and the max of the maxes (the towers' rule; exact because EMA is monotonic in its
// batch input). Only rank 0 writes checkpoints, metrics and logs.
//
// Without QAT_WITH_MPI (CMake option off, or Open MPI not found) everything here is a
// single-process no-op: world_size() == 1, and init() fails only when launched by mpirun.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "qat/graph.h"

namespace qat::distributed {

// True when this build has MPI support (QAT_WITH_MPI).
bool available();
// True when the process was started by mpirun/orterun/prterun (environment variables).
bool launched_by_mpirun();
// Initialises MPI once (idempotent; no-op when not launched by mpirun). Errors on the world
// communicator return codes (MPI_ERRORS_RETURN) so a failed collective becomes a qat::Error
// naming the call instead of a silent hang. Registers finalize() with atexit.
void init();
bool initialized();
int world_rank();  // 0 when not initialised
int world_size();  // 1 when not initialised
inline bool is_root() { return world_rank() == 0; }
// Ends the whole job (MPI_Abort) after printing "qat: rank R of N: <message>" to stderr. Use on
// any error while other ranks may be blocked in a collective.
[[noreturn]] void abort_job(const std::string& message, int code = 1);

// Collectives on MPI_COMM_WORLD (no-ops on one process). Each is one MPI call.
void allreduce_sum(std::vector<double>& v);
void allreduce_sum(float* data, int64_t n);
// Broadcasts rank 0's bytes; other ranks' `bytes` are resized to rank 0's size.
void broadcast_bytes(std::string& bytes);
void barrier();

// Rows [first, first + count) of a global batch of `global_batch` examples that rank r of n
// reads (B*r/n .. B*(r+1)/n: shard sizes differ by at most one).
void shard_rows(int64_t global_batch, int rank, int size, int64_t* first, int64_t* count);

// Fault injection for the failure test: when QAT_TEST_KILL_RANK == this rank and
// QAT_TEST_KILL_AT_STEP == `step`, the process kills itself with SIGKILL (no cleanup, like a
// crashed host). No-op otherwise.
void maybe_inject_failure(int64_t step);

// For tests: when QAT_TEST_RANK_DUMP_DIR is set, every rank writes its variables (a checkpoint)
// to DIR/rank-R.qatckpt at the end of training, so a test can check the ranks agree.
void maybe_dump_rank_state(const graph::Graph& g, const graph::VariableStore& vars);

// ---- Graph / variable hooks used by the trainer ----------------------------------------------
// Inserts one "MpiAllreduceGrads" node between the gradients and every optimizer Apply* node:
// it packs all gradients into one buffer, scales by `weight` (this rank's shard fraction n_r/B),
// allreduce-sums and unpacks, so each rank applies sum_r (n_r/B) * g_r, the whole batch's
// gradient. Returns the number of gradients rewired. Call after Optimizer::minimize.
int insert_gradient_allreduce(graph::Graph& g, double weight);
// Variables to keep identical after each step: every non-trainable variable of `g` except the
// optimizer slots and global_step. `min_vars` / `max_vars` are fake-quant range minima/maxima
// (inputs 0/1 of QuantRangeEma), `mean_vars` everything else (BN moving statistics).
struct SyncedState {
  std::vector<std::string> mean_vars, min_vars, max_vars;
  int64_t elements = 0;
};
SyncedState synced_state(const graph::Graph& g);
// One fused allreduce (MPI_SUM of the means and of the negated minima / maxima packed in one
// buffer would mix ops, so: one MPI_SUM call for the means and one MPI_MAX call for
// [-min..., max...]). No-op on one process.
void sync_state(const SyncedState& s, graph::VariableStore& vars);
// Rank 0's value of every variable in `vars` goes to all ranks (one broadcast of a packed buffer).
void broadcast_variables(graph::VariableStore& vars);

}  // namespace qat::distributed
