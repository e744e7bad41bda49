// Helpers for kernels of the graph and ops layers: chunked parallel loops.
//
// Why OpenMP and not the ThreadPool: the float kernels (oneDNN and src/ops/kernels) run on
// OpenMP, whose idle workers spin for a while after each parallel region. An elementwise op run
// on a second set of threads right after a convolution competes with those spinning threads for
// the same cores (measured: ReluGrad 20x slower on 2 cores). So translation units compiled with
// OpenMP (the ops layer) split loops over OpenMP threads, qat::num_threads() of them; code
// compiled without it (the graph layer) falls back to the session's ThreadPool.
#pragma once
#include <algorithm>
#include <cstdint>

#include "qat/thread_pool.h"
#ifdef _OPENMP
#include <omp.h>
#endif

namespace qat::graph {

// Elementwise work below this many elements runs on the calling thread: waking workers costs
// more than a few microseconds of arithmetic.
inline constexpr int64_t kParallelGrain = 32768;

template <class Fn>
void parallel_range(ThreadPool& pool, int64_t n, Fn&& fn, int64_t grain = kParallelGrain) {
  int64_t chunks = std::min<int64_t>(pool.size(), grain > 0 ? n / grain : n);
  if (chunks <= 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
#ifdef _OPENMP
  int t = (int)std::min<int64_t>(chunks, qat::num_threads());
#pragma omp parallel num_threads(t)
  {
    int id = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t b = n * id / nt, e = n * (id + 1) / nt;
    if (b < e) fn(b, e);
  }
#else
  pool.parallel_for(n, [&](int64_t b, int64_t e) { fn(b, e); }, grain);
#endif
}

}  // namespace qat::graph
