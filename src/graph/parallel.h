// Helpers for kernels of the graph and ops layers: chunked parallel loops on the session's pool.
#pragma once
#include <cstdint>

#include "qat/thread_pool.h"

namespace qat::graph {

// Elementwise work below this many elements runs on the calling thread: waking workers costs
// more than a few microseconds of arithmetic.
inline constexpr int64_t kParallelGrain = 32768;

template <class Fn>
void parallel_range(ThreadPool& pool, int64_t n, Fn&& fn, int64_t grain = kParallelGrain) {
  if (n <= grain || pool.size() == 1) {
    if (n > 0) fn(int64_t{0}, n);
    return;
  }
  pool.parallel_for(n, [&](int64_t b, int64_t e) { fn(b, e); }, grain);
}

}  // namespace qat::graph
