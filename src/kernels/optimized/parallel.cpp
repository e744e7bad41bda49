// Spinning worker team behind ParallelTasks (see parallel.h).
//
// Protocol. `state_` packs (epoch:24 | tasks:20 | next:20) in one 64-bit atomic (jobs of at most
// 20 tasks: a mask of the claimed tasks instead of next, see Claim). Publishing a job stores the
// function pointer, resets `done_`, then stores a new state (release). A thread claims
// task `next` with a CAS that keeps epoch and tasks and increments next, so a late worker that
// still holds an older epoch can never claim a task of the new job, and the job's size travels
// with the claim. The caller also claims tasks, then waits until `done_` reaches `tasks`, so fn
// outlives every call made with it. Sleeping: under `sleep_mu_` a worker registers in `sleepers_`
// and waits on `sleep_cv_` until `seq_` moves; the caller bumps `seq_` and, when `sleepers_` is
// non-zero, notifies under the mutex (sequentially consistent on both sides, so no wake-up is
// lost). std::atomic::wait is not used: GCC 12's implementation was seen to miss notifications
// here (the worker slept through most jobs).
#include "kernels/optimized/parallel.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "qat/thread_pool.h"

namespace qat::kernels::optimized {

namespace {

constexpr int kMaxThreads = 256;
constexpr uint64_t kFieldBits = 20, kFieldMask = (1u << kFieldBits) - 1;
constexpr int kMaxTasksPerJob = (int)kFieldMask;

int64_t SpinNanos() {
  static const int64_t ns = [] {
    const char* e = std::getenv("QAT_SPIN_US");
    const long us = e ? std::strtol(e, nullptr, 10) : 300;
    return (int64_t)(us < 0 ? 0 : us) * 1000;
  }();
  return ns;
}

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

class SpinTeam {
 public:
  explicit SpinTeam(int threads) {
    for (int i = 1; i < threads; ++i) std::thread([this, i, threads] { WorkerLoop(i, threads); }).detach();
  }

  bool TryLock() { return !busy_.exchange(true, std::memory_order_acquire); }
  void Unlock() { busy_.store(false, std::memory_order_release); }

  // Caller holds the lock; 1 < tasks <= kMaxTasksPerJob.
  void Run(int tasks, const std::function<void(int)>& fn) {
    fn_ = &fn;
    done_.store(0, std::memory_order_relaxed);
    const uint64_t epoch = ((state_.load(std::memory_order_relaxed) >> (2 * kFieldBits)) + 1) & 0xFFFFFF;
    const uint64_t s = epoch << (2 * kFieldBits) | (uint64_t)tasks << kFieldBits;
    state_.store(s, std::memory_order_seq_cst);
    seq_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lk(sleep_mu_);
      sleep_cv_.notify_all();
    }
    int claimed = 0;
    while (Claim(s, 0, 1, &claimed)) {
      fn(claimed);
      done_.fetch_add(1, std::memory_order_release);
    }
    // A worker still running a task: spin, yielding now and then so that on an oversubscribed
    // machine the worker (possibly waiting for this core) gets to finish.
    for (int i = 1; done_.load(std::memory_order_acquire) < tasks; ++i) {
      CpuRelax();
      if ((i & 1023) == 0) std::this_thread::yield();
    }
    fn_ = nullptr;
  }

 private:
  // Claims a task of the job whose state (epoch and size) is `job`; false when the job is fully
  // claimed or over. Jobs of at most kFieldBits tasks keep a bit mask of the claimed tasks in the
  // low field, and thread `self` of `threads` (the caller is 0) takes the first free task from
  // tasks * self / threads on, cyclically: with one task per thread each thread runs its own task
  // unless it is late, so a kernel that splits every layer the same way finds in its core's cache
  // what it wrote there in the previous layer. Larger jobs count the claimed tasks.
  bool Claim(uint64_t job, int self, int threads, int* task) {
    const uint64_t id = job >> kFieldBits;  // epoch and tasks
    const uint64_t tasks = id & kFieldMask;
    uint64_t s = state_.load(std::memory_order_acquire);
    if (tasks <= kFieldBits) {
      const uint64_t all = (uint64_t(1) << tasks) - 1;
      const int start = (int)(tasks * (uint64_t)self / (uint64_t)threads);
      for (;;) {
        if ((s >> kFieldBits) != id || (s & all) == all) return false;
        int t = start;
        while (s >> t & 1) t = t + 1 == (int)tasks ? 0 : t + 1;
        if (state_.compare_exchange_weak(s, s | uint64_t(1) << t, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
          *task = t;
          return true;
        }
      }
    }
    for (;;) {
      if ((s >> kFieldBits) != id || (s & kFieldMask) >= tasks) return false;
      if (state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
        *task = (int)(s & kFieldMask);
        return true;
      }
    }
  }

  void WorkerLoop(int self, int threads) {
    // 0, not seq_'s value when this thread gets to run: a job published before the thread started
    // (a fresh team's first job) must not be missed.
    uint32_t seen = 0;
    for (;;) {
      uint32_t now = seq_.load(std::memory_order_acquire);
      if (now == seen) {
        const auto t0 = std::chrono::steady_clock::now();
        const int64_t budget = SpinNanos();
        for (int i = 0;; ++i) {
          CpuRelax();
          now = seq_.load(std::memory_order_acquire);
          if (now != seen) break;
          if ((i & 63) == 63 &&
              std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count() >=
                  budget) {
            {
              std::unique_lock<std::mutex> lk(sleep_mu_);
              sleepers_.fetch_add(1, std::memory_order_seq_cst);
              sleep_cv_.wait(lk, [&] { return seq_.load(std::memory_order_seq_cst) != seen; });
              sleepers_.fetch_sub(1, std::memory_order_seq_cst);
            }
            now = seq_.load(std::memory_order_acquire);
            if (now != seen) break;
            i = 0;
          }
        }
      }
      seen = now;
      const uint64_t job = state_.load(std::memory_order_acquire);
      int task;
      while (Claim(job, self, threads, &task)) {
        (*fn_)(task);  // fn_ is the job's: the job cannot end while this task is unfinished
        done_.fetch_add(1, std::memory_order_release);
      }
    }
  }

  alignas(64) std::atomic<uint64_t> state_{0};
  alignas(64) std::atomic<int> done_{0};
  alignas(64) std::atomic<uint32_t> seq_{0};
  std::atomic<int> sleepers_{0};
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;
  const std::function<void(int)>* fn_ = nullptr;
  alignas(64) std::atomic<bool> busy_{false};
};

// Teams live for the whole process (their threads are detached and never joined, which also keeps
// them valid during static destruction).
SpinTeam* TeamFor(int threads) {
  static std::mutex mu;
  static std::array<std::atomic<SpinTeam*>, kMaxThreads + 1> teams{};
  SpinTeam* t = teams[threads].load(std::memory_order_acquire);
  if (t) return t;
  std::lock_guard<std::mutex> lk(mu);
  t = teams[threads].load(std::memory_order_relaxed);
  if (!t) {
    t = new SpinTeam(threads);
    teams[threads].store(t, std::memory_order_release);
  }
  return t;
}

}  // namespace

int ParallelThreads(const ThreadPool* pool) {
  const int n = pool ? pool->size() : 1;
  return n < 1 ? 1 : (n > kMaxThreads ? kMaxThreads : n);
}

void ParallelTasks(const ThreadPool* pool, int tasks, const std::function<void(int)>& fn) {
  const int threads = ParallelThreads(pool);
  if (threads <= 1 || tasks <= 1) {
    for (int i = 0; i < tasks; ++i) fn(i);
    return;
  }
  SpinTeam* team = TeamFor(threads);
  if (!team->TryLock()) {  // another caller (or a nested call) owns the team: run inline
    for (int i = 0; i < tasks; ++i) fn(i);
    return;
  }
  for (int base = 0; base < tasks; base += kMaxTasksPerJob) {
    const int n = tasks - base < kMaxTasksPerJob ? tasks - base : kMaxTasksPerJob;
    if (base == 0 && n == tasks) {
      team->Run(n, fn);
    } else {
      const std::function<void(int)> shifted = [&](int i) { fn(base + i); };
      team->Run(n, shifted);
    }
  }
  team->Unlock();
}

void ParallelFor(const ThreadPool* pool, int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t ranges = std::min<int64_t>(ParallelThreads(pool), (n + grain - 1) / grain);
  if (ranges <= 1) {
    fn(0, n);
    return;
  }
  const int64_t per = (n + ranges - 1) / ranges;
  ParallelTasks(pool, (int)ranges, [&](int r) {
    const int64_t b = r * per, e = std::min(n, b + per);
    if (b < e) fn(b, e);
  });
}

}  // namespace qat::kernels::optimized
