// Private: splitting loops over qat::num_threads() OpenMP threads. The kernels of this folder use
// OpenMP (not qat's ThreadPool) on purpose: oneDNN runs on OpenMP, whose idle workers spin for a
// while after each parallel region; a second pool of threads started right after a oneDNN call
// would compete with them for the same cores.
#pragma once
#include <algorithm>
#include <cstdint>

#include <omp.h>

#include "qat/thread_pool.h"

namespace qat::ops::kernels::detail {

// Threads worth using for `work` element-operations (tiny loops stay on the calling thread).
inline int threads_for(int64_t work) {
  int t = qat::num_threads();
  if (work < (1 << 15)) return 1;
  return (int)std::max<int64_t>(1, std::min<int64_t>(t, work >> 14));
}

// fn(tid, nthreads, begin, end) on contiguous chunks of [0, n); one chunk per thread.
template <class Fn>
void parallel_chunks(int64_t n, int64_t work_per_item, Fn&& fn) {
  int t = (int)std::min<int64_t>(threads_for(n * work_per_item), std::max<int64_t>(n, 1));
  if (t <= 1) {
    fn(0, 1, (int64_t)0, n);
    return;
  }
#pragma omp parallel num_threads(t)
  {
    int id = omp_get_thread_num(), nt = omp_get_num_threads();
    int64_t b = n * id / nt, e = n * (id + 1) / nt;
    fn(id, nt, b, e);
  }
}

}  // namespace qat::ops::kernels::detail
