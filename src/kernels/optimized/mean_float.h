// Optimised float32 MEAN, the reference's values (kernels/reference/mean.h: per output, 0 plus the
// inputs in row-major order, then one division by the count). Where the reduced axes are one
// contiguous block (after dropping size-1 axes: kept outer axes, reduced axes, kept inner axes),
// each output vector of the inner axes adds the reduced rows in that same order, 8 lanes per AVX2
// step; other layouts run the reference.
#pragma once

#include "kernels/dispatch.h"
#include "kernels/reference/mean.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

void MeanFloat(const reference::MeanParams& p, const float* input, float* output, ThreadPool* pool,
               KernelPath path = ActiveKernelPath());

}  // namespace qat::kernels::optimized
