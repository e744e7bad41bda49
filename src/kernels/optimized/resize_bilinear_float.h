// Optimised float32 RESIZE_BILINEAR, the reference's values (kernels/reference/resize_bilinear.h):
// the same source coordinates and weights, computed once per output row and column, and per
// channel the same expression in the same order,
//   ((v00 * (1 - wy)) * (1 - wx) + (v10 * wy) * (1 - wx)) + (v01 * (1 - wy)) * wx + (v11 * wy) * wx,
// multiply and add never fused, 8 channels per AVX2 step. Output rows split over the pool.
#pragma once

#include "kernels/dispatch.h"
#include "kernels/reference/resize_bilinear.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

void ResizeBilinearFloat(const reference::ResizeBilinearParams& p, const float* input, float* output,
                         ThreadPool* pool, KernelPath path = ActiveKernelPath());

}  // namespace qat::kernels::optimized
