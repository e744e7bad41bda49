// Optimised float32 DEPTHWISE_CONV_2D (NHWC, filter [1][fh][fw][C]), depth multiplier 1, the same
// values as reference::DepthwiseConvFloat: out[c] = clamp(bias[c] + sum over the in-bounds taps
// of w * x, column by column: fx outer, fy inner, XNNPACK's order), one float32 multiply and one
// add per tap (no FMA).
// Channels are the vector axis (AVX2: 32 channels in 4 ymm accumulators per pass, 8-channel and
// masked tails); the filter is packed once as [tap][C rounded up to 16] with the bias alongside.
// Threads: output rows (batch x height) split over the tasks, or, for fewer rows than threads,
// each task computing every row's pixels in its own range of columns.
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/optimized/elementwise_float.h"
#include "kernels/optimized/packing.h"
#include "kernels/reference/types.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

struct PackedDepthwiseFloat {
  reference::ConvParams p;    // p.depth_multiplier == 1
  int c_pad = 0;              // output_c rounded up to 16 (the AVX-512 vectors)
  AlignedVector<float> weights;  // [fy * fw + fx][c_pad]
  AlignedVector<float> bias;     // [c_pad]
};

// filter: [1][fh][fw][C]; bias: C floats or null. Requires p.depth_multiplier == 1.
PackedDepthwiseFloat PackDepthwiseFloat(const reference::ConvParams& p, const float* filter, const float* bias);

// residual: a fused ADD (FloatResidual, elementwise_float.h), added row by row, or null.
// path / math: as ConvFloat's (conv_float.h): kAvx512Vnni runs 16-channel zmm kernels, and kFused
// one FMA per tap.
void DepthwiseConvFloat(const PackedDepthwiseFloat& pd, const float* input, float* output, ThreadPool* pool,
                        KernelPath path = ActiveFloatPath(), const FloatResidual* residual = nullptr,
                        FloatMath math = FloatMath::kExact);

}  // namespace qat::kernels::optimized
