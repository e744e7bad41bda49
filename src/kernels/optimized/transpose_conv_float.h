// Optimised MediaPipe Convolution2DTransposeBias (float32), the reference's values
// (kernels/reference/transpose_conv_bias.h). When the filter is no larger than the stride
// (MediaPipe's 2x2 stride-2 upsampling heads) every output pixel has at most one contributing
// input pixel and tap, so out = bias + in[0] * w[0] + in[1] * w[1] + ... in input-channel order,
// exactly the reference's sum. The kernel transposes each input row to [ic][x] and computes 8
// input pixels per vector step (lanes: pixels, so each lane keeps the sequential sum), per tap and
// output channel; rows split over the pool. Overlapping filters run the reference.
#pragma once

#include <cstddef>

#include "kernels/dispatch.h"
#include "kernels/reference/types.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

// filter OHWI, bias output_c floats or null. scratch: TransposeConvFloatScratchBytes bytes, or null
// (the call then allocates).
size_t TransposeConvFloatScratchBytes(const reference::ConvParams& p, const ThreadPool* pool);
void TransposeConvBiasFloat(const reference::ConvParams& p, const float* input, const float* filter,
                            const float* bias, float* output, void* scratch, ThreadPool* pool,
                            KernelPath path = ActiveKernelPath());

}  // namespace qat::kernels::optimized
