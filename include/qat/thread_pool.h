// A small fixed-size thread pool with a blocking parallel_for. The process-wide pool honours
// --threads (set_num_threads); oneDNN's OpenMP runtime is set to the same count.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace qat {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return (int)workers_.size() + 1; }  // the calling thread takes part
  // Splits [0, n) into at most size() contiguous chunks of at least `grain` items and runs
  // fn(begin, end) on each, the caller included; returns when all are done. Exceptions thrown
  // by fn are rethrown in the caller (the first one).
  void parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain = 1);
  // Runs fn(i) for i in [0, tasks) with one task per thread slot.
  void run_tasks(int tasks, const std::function<void(int)>& fn);

 private:
  void worker_loop(int index);
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  const std::function<void(int)>* job_ = nullptr;
  int job_tasks_ = 0, next_task_ = 0, pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

// Process-wide pool; its size is set by set_num_threads (default: hardware concurrency).
ThreadPool& default_pool();
void set_num_threads(int n);  // also sets OpenMP's thread count (oneDNN)
// Threads a kernel started on the calling thread may use: the process-wide count, or the limit
// of a ScopedThreadLimit alive on this thread.
int num_threads();

// While alive, num_threads() on this thread returns `threads` and OpenMP regions started here
// (oneDNN included) default to that many threads; thread_lane() returns `lane`. The executor
// gives each concurrently running tower its share of the threads this way (Session, towers);
// kernels that keep per-shape state behind a lock (conv plans) keep one copy per lane so that
// towers do not serialise on it.
class ScopedThreadLimit {
 public:
  ScopedThreadLimit(int threads, int lane);
  ~ScopedThreadLimit();
  ScopedThreadLimit(const ScopedThreadLimit&) = delete;
  ScopedThreadLimit& operator=(const ScopedThreadLimit&) = delete;

 private:
  int saved_threads_, saved_lane_, saved_omp_;
};
int thread_lane();  // 0 outside a ScopedThreadLimit

}  // namespace qat
