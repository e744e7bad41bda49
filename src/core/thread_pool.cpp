#include "qat/thread_pool.h"

#include <algorithm>
#include <memory>

#include "qat/error.h"

namespace qat {

ThreadPool::ThreadPool(int num_threads) {
  QAT_CHECK_T(UsageError, num_threads >= 1, "thread count must be >= 1 (got {})", num_threads);
  for (int i = 1; i < num_threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker_loop(int) {
  uint64_t seen = 0;
  for (;;) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return stop_ || (generation_ != seen && next_task_ < job_tasks_); });
    if (stop_) return;
    seen = generation_;
    while (next_task_ < job_tasks_) {
      int task = next_task_++;
      const auto* job = job_;
      lk.unlock();
      try {
        (*job)(task);
      } catch (...) {
        std::lock_guard<std::mutex> g(mu_);
        if (!error_) error_ = std::current_exception();
      }
      lk.lock();
      if (--pending_ == 0) done_cv_.notify_all();
    }
  }
}

void ThreadPool::run_tasks(int tasks, const std::function<void(int)>& fn) {
  if (tasks <= 0) return;
  if (tasks == 1 || workers_.empty()) {
    for (int i = 0; i < tasks; ++i) fn(i);
    return;
  }
  std::unique_lock<std::mutex> lk(mu_);
  job_ = &fn;
  job_tasks_ = tasks;
  next_task_ = 0;
  pending_ = tasks;
  error_ = nullptr;
  ++generation_;
  cv_.notify_all();
  while (next_task_ < job_tasks_) {
    int task = next_task_++;
    lk.unlock();
    try {
      fn(task);
    } catch (...) {
      std::lock_guard<std::mutex> g(mu_);
      if (!error_) error_ = std::current_exception();
    }
    lk.lock();
    --pending_;
  }
  done_cv_.wait(lk, [&] { return pending_ == 0; });
  job_ = nullptr;
  job_tasks_ = 0;
  auto err = error_;
  error_ = nullptr;
  lk.unlock();
  if (err) std::rethrow_exception(err);
}

void ThreadPool::parallel_for(int64_t n, const std::function<void(int64_t, int64_t)>& fn, int64_t grain) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t chunks = std::min<int64_t>(size(), (n + grain - 1) / grain);
  if (chunks <= 1) {
    fn(0, n);
    return;
  }
  int64_t per = (n + chunks - 1) / chunks;
  run_tasks((int)chunks, [&](int c) {
    int64_t b = c * per, e = std::min(n, b + per);
    if (b < e) fn(b, e);
  });
}

namespace {
std::mutex g_pool_mu;
std::unique_ptr<ThreadPool> g_pool;
int g_threads = 0;
}  // namespace

}  // namespace qat

extern "C" void omp_set_num_threads(int) __attribute__((weak));
extern "C" int omp_get_max_threads() __attribute__((weak));

namespace qat {

void set_num_threads(int n) {
  QAT_CHECK_T(UsageError, n >= 1, "--threads must be >= 1 (got {})", n);
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (g_pool && g_threads == n) return;
  g_pool = std::make_unique<ThreadPool>(n);
  g_threads = n;
  if (omp_set_num_threads) omp_set_num_threads(n);
}

ThreadPool& default_pool() {
  std::lock_guard<std::mutex> lk(g_pool_mu);
  if (!g_pool) {
    g_threads = std::max(1u, std::thread::hardware_concurrency());
    g_pool = std::make_unique<ThreadPool>(g_threads);
  }
  return *g_pool;
}

namespace {
thread_local int t_limit = 0;
thread_local int t_lane = 0;
}  // namespace

int num_threads() { return t_limit > 0 ? t_limit : default_pool().size(); }
int thread_lane() { return t_lane; }

ScopedThreadLimit::ScopedThreadLimit(int threads, int lane)
    : saved_threads_(t_limit), saved_lane_(t_lane), saved_omp_(omp_get_max_threads ? omp_get_max_threads() : 0) {
  QAT_CHECK_T(UsageError, threads >= 1, "thread limit must be >= 1 (got {})", threads);
  t_limit = threads;
  t_lane = lane;
  if (omp_set_num_threads) omp_set_num_threads(threads);  // this thread's ICV only
}
ScopedThreadLimit::~ScopedThreadLimit() {
  t_limit = saved_threads_;
  t_lane = saved_lane_;
  if (omp_set_num_threads && saved_omp_ > 0) omp_set_num_threads(saved_omp_);
}

}  // namespace qat
