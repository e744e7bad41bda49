// Per-channel batch statistics of [rows, C] buffers (channels last), shared by the float sync
// batch norm (train/distributed_ops.cpp: SyncBnSums, SyncBnApply...) and the QAT batch-norm
// folding (quantize/bn_fold_ops.cpp: BnChannelSums, BnFoldApply...).
//
// The statistics travel as one additive tensor stats = [S1(C), S2(C), n], S1 = sum (y - K),
// S2 = sum (y - K)^2 over the n rows, with a per-channel shift K (against cancellation), so that
// towers add them (AddN) and ranks allreduce them; decode_batch_stats() gives the mean and the
// biased variance. Reductions are float partial sums per block of 64 rows, added into double per
// thread, then the threads' parts in thread order: deterministic for a given thread count.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "graph/parallel.h"
#include "qat/graph.h"

namespace qat::ops {

// The channel count (last dimension) of a rank >= 1 input.
int64_t channels_of(const graph::KernelContext& c, const Tensor& y);
// Fails unless `t` has C values.
void check_vec(const graph::KernelContext& c, const Tensor& t, int64_t C, const char* what);
// Rows per parallel_range task for rows of C values.
inline int64_t grain_rows(int64_t C) {
  return std::max<int64_t>(1, graph::kParallelGrain / std::max<int64_t>(C, 1));
}

// Which threads channel_reduce() splits the rows over: qat's ThreadPool tasks, or OpenMP
// threads (as the ops layer's kernels: the pool's threads woken right after an OpenMP region
// would compete with its spinning workers). Both split the rows the same way.
enum class ReduceThreads { kPool, kOpenMP };

// Per-thread partial sums over the rows of a [rows, C] buffer, reduced in double:
// fn(r0, r1, acc) adds rows [r0, r1) into acc[nacc * C]; out = the sum of the threads' acc.
template <class Fn>
void channel_reduce(graph::KernelContext& c, int64_t rows, int64_t C, int nacc, Fn&& fn, std::vector<double>& out,
                    ReduceThreads threads) {
  int T = (int)std::min<int64_t>(c.pool().size(), std::max<int64_t>(1, rows * C / graph::kParallelGrain));
  T = (int)std::max<int64_t>(1, std::min<int64_t>(T, rows));
  std::vector<double> part((size_t)T * nacc * C, 0.0);
  int used = T;
  if (T == 1) {
    fn(int64_t{0}, rows, part.data());
  } else if (threads == ReduceThreads::kOpenMP) {
#ifdef _OPENMP
#pragma omp parallel num_threads(T)
    {
      int t = omp_get_thread_num(), nt = omp_get_num_threads();
      if (t == 0) used = nt;
      fn(rows * t / nt, rows * (t + 1) / nt, part.data() + (size_t)t * nacc * C);
    }
#else
    c.pool().run_tasks(T, [&](int t) { fn(rows * t / T, rows * (t + 1) / T, part.data() + (size_t)t * nacc * C); });
#endif
  } else {
    c.pool().run_tasks(T, [&](int t) { fn(rows * t / T, rows * (t + 1) / T, part.data() + (size_t)t * nacc * C); });
  }
  out.assign((size_t)nacc * C, 0.0);
  for (int t = 0; t < used; ++t)
    for (size_t j = 0; j < out.size(); ++j) out[j] += part[(size_t)t * nacc * C + j];
}

// Two per-channel sums (out = [sum1(C), sum2(C)]) over the rows: row(r, f1, f2) adds row r's
// terms into the float partials f1[C], f2[C] of its block of 64 rows; blocks go into double.
template <class Row>
void channel_sums2(graph::KernelContext& c, int64_t rows, int64_t C, Row&& row, std::vector<double>& out,
                   ReduceThreads threads) {
  channel_reduce(
      c, rows, C, 2,
      [&](int64_t r0, int64_t r1, double* a) {
        std::vector<float> f1(C), f2(C);
        for (int64_t b0 = r0; b0 < r1; b0 += 64) {
          int64_t b1 = std::min(r1, b0 + 64);
          std::fill(f1.begin(), f1.end(), 0.f);
          std::fill(f2.begin(), f2.end(), 0.f);
          for (int64_t r = b0; r < b1; ++r) row(r, f1.data(), f2.data());
          for (int64_t j = 0; j < C; ++j) a[j] += f1[j], a[C + j] += f2[j];
        }
      },
      out, threads);
}

// stats = [S1(C), S2(C), n = rows] of y [rows, C] shifted by k[C] (written to stats[2C + 1]).
void shifted_sums(graph::KernelContext& c, const float* y, const float* k, int64_t rows, int64_t C, float* stats,
                  ReduceThreads threads);

// The gradient of shifted_sums() plus a pass-through gradient, in one pass:
// out = dpass + dS1 + 2 (y - k) dS2 (dstats = [dS1(C), dS2(C), dn]).
void shifted_sums_grad(graph::KernelContext& c, const float* dpass, const float* dstats, const float* y,
                       const float* k, int64_t rows, int64_t C, float* out);

// Shape function of a sums op (x [..., C], num_inputs - 1 more inputs) -> (x, stats[2C + 1], shift[C]).
void shifted_sums_shape(graph::InferContext& c, int num_inputs);

// Graph glue of a sums op with outputs (x pass-through, stats, shift) and x as input 0 (SyncBnSums,
// BnChannelSums): its gradient is grad_op(dpass, dstats, x, shift) into x (dpass: zeros when x's
// pass-through gets none; dpass alone when the stats get none); its other inputs get none.
std::vector<graph::Output> shifted_sums_gradient(graph::GradContext& g, int num_inputs, const char* grad_op,
                                                 const char* zeros_name);
// grad_op's shape function and kernel: (dpass, dstats, x, shift) -> dx = shifted_sums_grad().
void shifted_sums_grad_shape(graph::InferContext& c);
void shifted_sums_grad_kernel(graph::KernelContext& c);

// Shape function of a moving-statistics update op (SyncBnMovingUpdate, BnFoldMovingUpdate): inputs
// 0 and 1 the moving mean and variance Variables, attr decay in [0, 1]; output the moving mean.
void moving_update_shape(graph::InferContext& c, int num_inputs);

// Mean and biased variance decoded from stats [S1, S2, n] and the shift (checks both sizes).
struct BatchStats {
  std::vector<double> mean, var;
  double n = 0;
};
BatchStats decode_batch_stats(const graph::KernelContext& c, const Tensor& stats, const Tensor& shift, int64_t C);

}  // namespace qat::ops
