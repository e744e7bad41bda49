// Low-latency task split for the optimised kernels: ParallelTasks(pool, tasks, fn) runs fn(0..tasks-1)
// on pool->size() threads, the caller included, like ThreadPool::run_tasks, but on a persistent
// team of workers that spin for a short while after each job instead of sleeping on a condition
// variable. Handing a job to a spinning worker costs a cache-line transfer (well under a
// microsecond) instead of a futex wake-up (tens of microseconds under KVM), which is what makes a
// second thread pay off on the small layers of a batch-1 network: during Invoke the ops follow each
// other closely, so the workers are still spinning when the next op arrives.
//
// - One team per thread count, shared by every interpreter of the process; the pool argument only
//   gives the count (null or size 1: fn runs inline on the caller). A team is used by one caller at
//   a time; a second concurrent caller (another interpreter on another thread, or a nested call)
//   runs its tasks inline, which gives the same results.
// - Workers spin QAT_SPIN_US microseconds (default 300) after their last task, then sleep on a
//   futex (std::atomic::wait) until the next job.
// - Jobs of up to 20 tasks: thread i of n (the caller is 0) first tries task tasks * i / n, then
//   the next free ones, so with one task per thread each thread normally runs the same part of
//   every layer (its core's cache holds what it wrote in the previous layer); a late worker's
//   task is taken by whoever is free. Larger jobs hand out tasks in order.
// - fn must not throw (the kernels do not); tasks are claimed dynamically, so results must not
//   depend on which thread runs a task (every kernel writes disjoint outputs per task).
#pragma once
#include <cstdint>
#include <functional>

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

// Threads that ParallelTasks would use for `pool` (1 for null).
int ParallelThreads(const ThreadPool* pool);

void ParallelTasks(const ThreadPool* pool, int tasks, const std::function<void(int)>& fn);

// Splits [0, n) into at most ParallelThreads(pool) contiguous ranges of at least `grain` items and
// runs fn(begin, end) on each through ParallelTasks (one range: inline on the caller).
// Elements per task of the element-wise ops (float ADD / SUB / MUL, HARD_SWISH, clamps, the
// unary activations): small enough that a layer of 16K values (64 KB) uses both threads of a
// 2-thread pool. Besides the compute, that keeps each half of a tensor on the core whose previous
// op (split the same way, by rows) wrote it: run on one thread, an element-wise op after a
// 2-thread conv read half its input from the other core's L2 and ran up to 3x slower than with
// one thread in all (selfie_segmentation's HARD_SWISH / MUL on 16x16x128: 4.6 -> 14.7 us).
inline constexpr int64_t kElementwiseGrain = 4096;

void ParallelFor(const ThreadPool* pool, int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace qat::kernels::optimized
