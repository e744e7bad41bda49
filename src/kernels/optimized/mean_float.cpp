// Optimised float32 MEAN (see mean_float.h).
#include "kernels/optimized/mean_float.h"

#include <algorithm>
#include <cstdint>

#include "kernels/optimized/parallel.h"
#include "kernels/x86/float_x86.h"

namespace qat::kernels::optimized {

void MeanFloat(const reference::MeanParams& p, const float* input, float* output, ThreadPool* pool,
               KernelPath path) {
  // outer x reduced x inner, over the axes of size > 1; -1 in state: not that layout.
  int64_t outer = 1, reduced = 1, inner = 1;
  int state = 0;  // 0: outer kept axes, 1: reduced axes, 2: inner kept axes
  bool ok = true;
  for (int d = 0; d < p.rank && ok; ++d) {
    if (p.dims[d] == 1) continue;
    if (p.reduce[d]) {
      if (state == 2) ok = false;
      state = 1;
      reduced *= p.dims[d];
    } else if (state == 0) {
      outer *= p.dims[d];
    } else {
      state = 2;
      inner *= p.dims[d];
    }
  }
#if defined(__x86_64__) || defined(_M_X64)
  if (ok && path != KernelPath::kPortable) {
    const float n = (float)p.reduced_count();
    ParallelFor(pool, outer, 1, [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o)
        x86::MeanRowsAvx2(input + o * reduced * inner, reduced, inner, n, output + o * inner);
    });
    return;
  }
#endif
  (void)pool;
  (void)ok;
  reference::MeanFloat(p, input, output);
}

}  // namespace qat::kernels::optimized
