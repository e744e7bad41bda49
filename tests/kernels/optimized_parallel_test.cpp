// ParallelTasks / ParallelFor (kernels/optimized/parallel.h): every task runs exactly once, the
// call returns only when all are done, concurrent callers on the same team and nested calls fall
// back to inline execution, and the spinning team survives many back-to-back jobs and sleep cycles.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "kernels/optimized/parallel.h"
#include "qat/thread_pool.h"

namespace qat::kernels::optimized {
namespace {

TEST(OptimizedParallel, EveryTaskRunsOnceAndCallReturnsAfterAll) {
  ThreadPool pool(3);
  EXPECT_EQ(ParallelThreads(&pool), 3);
  EXPECT_EQ(ParallelThreads(nullptr), 1);
  for (int tasks : {0, 1, 2, 3, 7, 19, 20, 21, 64, 1000}) {  // <= 20: claimed-task mask, else a counter
    for (int rep = 0; rep < 200; ++rep) {
      std::vector<std::atomic<int>> hits(tasks);
      ParallelTasks(&pool, tasks, [&](int t) { hits[t].fetch_add(1, std::memory_order_relaxed); });
      for (int t = 0; t < tasks; ++t) ASSERT_EQ(hits[t].load(), 1) << "tasks " << tasks << " task " << t;
    }
  }
}

TEST(OptimizedParallel, MoreTasksThanOneJobHolds) {
  ThreadPool pool(2);
  const int tasks = (1 << 20) + 5;  // larger than the 20-bit task field: split into several jobs
  std::vector<uint8_t> hits(tasks, 0);
  ParallelTasks(&pool, tasks, [&](int t) { hits[t]++; });
  int bad = 0;
  for (int t = 0; t < tasks; ++t) bad += hits[t] != 1;
  EXPECT_EQ(bad, 0);
}

TEST(OptimizedParallel, ParallelForCoversTheRangeInDisjointPieces) {
  ThreadPool pool(2);
  for (int64_t n : {1, 5, 100, 4097}) {
    for (int64_t grain : {1, 3, 64, 10000}) {
      std::vector<int> hits(n, 0);
      ParallelFor(&pool, n, grain, [&](int64_t b, int64_t e) {
        EXPECT_LT(b, e);
        for (int64_t i = b; i < e; ++i) hits[i]++;
      });
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i], 1) << n << " " << grain << " " << i;
    }
  }
}

TEST(OptimizedParallel, ConcurrentAndNestedCallersRunEverything) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  auto caller = [&] {
    for (int rep = 0; rep < 300; ++rep)
      ParallelTasks(&pool, 4, [&](int t) {
        ParallelTasks(&pool, 3, [&](int u) { sum.fetch_add(10 * t + u + 1, std::memory_order_relaxed); });
      });
  };
  std::thread a(caller), b(caller);
  a.join();
  b.join();
  // Per outer call: sum over t<4, u<3 of (10t + u + 1) = 3*10*6 + 4*6 = 204.
  EXPECT_EQ(sum.load(), 2 * 300 * 204);
}

TEST(OptimizedParallel, WakesSleepingWorkers) {
  ThreadPool pool(2);
  for (int rep = 0; rep < 3; ++rep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // longer than the default spin
    std::vector<std::atomic<int>> hits(16);
    ParallelTasks(&pool, 16, [&](int t) { hits[t]++; });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

// Two tasks that can only finish together: whichever runs first waits for the other to start, so
// the job completes only if a worker really picks up a task. The worker is asleep when each job is
// posted (the 5 ms pause is longer than the spin), so this checks the wake-up path; the 10 s bound
// is a liveness limit, not a speed assertion.
TEST(OptimizedParallel, SleepingWorkerIsWokenAndRunsATask) {
  ThreadPool pool(2);
  for (int rep = 0; rep < 5; ++rep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::atomic<int> started{0};
    std::atomic<bool> timed_out{false};
    ParallelTasks(&pool, 2, [&](int) {
      started.fetch_add(1);
      const auto t0 = std::chrono::steady_clock::now();
      while (started.load() < 2) {
        if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(10)) {
          timed_out = true;
          started.fetch_add(1);  // release the other task (if it ever runs) and fail
          break;
        }
        std::this_thread::yield();
      }
    });
    ASSERT_FALSE(timed_out.load()) << "rep " << rep << ": no worker ran the second task";
  }
}

}  // namespace
}  // namespace qat::kernels::optimized
