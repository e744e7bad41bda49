// Shared by the Google Benchmark programs in bench/: the timing loop that reports the process CPU
// time of each iteration divided by the thread count (manual time). The machine these were written
// on is shared with other jobs, and CPU time is what an idle machine's wall time would be (minus
// lost parallelism, which shows up as extra CPU time in the pool's hand-offs).
#pragma once
#include <benchmark/benchmark.h>

#include <time.h>

namespace qat::bench {

inline double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

// Runs fn once per iteration and reports CPU seconds / threads as the iteration's time.
template <class F>
void TimedLoop(benchmark::State& state, int threads, F&& fn) {
  for (auto _ : state) {
    const double t0 = ProcessCpuSeconds();
    fn();
    benchmark::ClobberMemory();
    state.SetIterationTime((ProcessCpuSeconds() - t0) / threads);
  }
}

}  // namespace qat::bench
