// qat::distributed — data-parallel training across processes with MPI (Open MPI), issue 7.
//
//   mpirun -np N qat train ...     (docs/distributed.md has the flags that work as root / on loopback)
//
// Every rank builds the same graphs; rank 0 initialises (or restores) the variables and
// broadcasts them; each global step every rank reads its own rows of the global batch
// (rows [B*r/N, B*(r+1)/N) of the seeded shuffled epoch order, like towers), runs forward and
// backward, and the gradients of all trainable variables are averaged with ONE allreduce of one
// fused float buffer (op "MpiAllreduceGrads", inserted before the optimizer's Apply* nodes).
// Batch norm is synchronised across ranks inside the graph (sync BN): the per-channel batch
// sums are allreduced in the forward pass and their gradients in the backward pass, so every
// rank normalises with the global batch's statistics and N ranks compute what one process does
// on the whole batch; fake-quant EMA ranges are updated with the global batch min/max. Moving
// statistics and ranges thus stay identical on every rank without a separate sync. Only rank 0
// writes checkpoints, metrics and logs.
//
// Without QAT_WITH_MPI (CMake option off, or Open MPI not found) everything here is a
// single-process no-op: world_size() == 1, and init() fails when launched by mpirun with more
// than one process.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "qat/graph.h"

namespace qat::distributed {

// True when this build has MPI support (QAT_WITH_MPI).
bool available();
// True when the process was started by mpirun/orterun/prterun (environment variables).
bool launched_by_mpirun();
// The number of processes mpirun started (its environment variables; 1 when not launched by it).
int launched_world_size();
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
void allreduce_max(float* data, int64_t n);
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
// Registers the graph ops of this file's features (MpiAllreduceGrads, MpiAllreduceSum,
// MpiAllreduceRange, SyncBn*: src/train/distributed_ops.cpp). Idempotent. On one process every
// collective op is the identity, so such graphs also run without mpirun.
void register_ops();

// Sync BN and global fake-quant ranges, as a rewrite of the training graph BEFORE the
// optimizer builds the gradients (autodiff then adds the backward collectives):
//  - every training-mode FusedBatchNorm becomes SyncBnSums -> MpiAllreduceSum -> SyncBnApply
//    (normalise with the global batch's mean / variance; exact gradient through them) and its two
//    AssignMovingAverage updates one SyncBnMovingUpdate fed by the global statistics. Towers'
//    copies of one batch norm (same moving-mean variable) add their sums first (AddN), so
//    N ranks x K towers normalise over the whole global batch;
//  - the QAT rewrite's folded batch norms (BnChannelSums, already added over the towers) get an
//    MpiAllreduceSum between their statistics and BnFoldApply / BnFoldMovingUpdate;
//  - every QuantRangeEma reads the global min / max (MpiAllreduceRange) instead of its towers'.
// Backward: MpiAllreduceSum's gradient is an allreduce of `weight`-scaled gradients divided by
// `weight` (this rank's n_r/B, the same weight as insert_gradient_allreduce), so each rank's
// sums receive the whole batch loss's gradient. One collective per batch norm and range in the
// forward pass, one per batch norm in the backward pass.
struct SyncSummary {
  int batch_norms_converted = 0;  // float FusedBatchNorm groups turned into sync BN
  int statistics_synced = 0;      // allreduces of batch statistics (float and folded BN)
  int ranges_synced = 0;          // QuantRangeEma nodes reading the global range
};
SyncSummary sync_batch_statistics(graph::Graph& g, double weight);
// `inner` (may be empty) followed by sync_batch_statistics(g, weight).
std::function<void(graph::Graph&)> with_synced_statistics(std::function<void(graph::Graph&)> inner, double weight);

// Inserts one "MpiAllreduceGrads" node between the gradients and every optimizer Apply* node:
// it packs all gradients into one buffer, scales by `weight` (this rank's shard fraction n_r/B),
// allreduce-sums and unpacks, so each rank applies sum_r (n_r/B) * g_r, the whole batch's
// gradient. Returns the number of gradients rewired. Call after Optimizer::minimize. Then chains
// every collective node of the graph (Mpi*) with control edges in one topological order, so
// all ranks call them in the same order and never two at once, whatever the executor's
// scheduling (MPI_THREAD_SERIALIZED).
int insert_gradient_allreduce(graph::Graph& g, double weight);

// Variables to keep identical after each step: every non-trainable variable of `g` except the
// optimizer slots, global_step and the variables whose updates already read global statistics
// (sync_batch_statistics: moving statistics and ranges). `min_vars` / `max_vars` are fake-quant
// range minima/maxima (inputs 0/1 of QuantRangeEma), `mean_vars` everything else. Empty for the
// models qat builds (then sync_state makes no call); kept for state that a future op updates
// from per-rank values.
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
