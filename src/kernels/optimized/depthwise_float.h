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

// Where a depthwise call reads input row iy of batch b: base + b * batch_floats + (iy % ring_rows) *
// row_floats. Tensor(): the NHWC input itself (ring_rows = input_h); a ring of rows (the expand +
// depthwise fusion, expand_depthwise_float.h) holds the last ring_rows rows of one image.
struct DwRowSource {
  const float* base;
  int64_t batch_floats;
  int ring_rows;
  int64_t row_floats;
  const float* Row(int b, int iy) const { return base + b * batch_floats + (int64_t)(iy % ring_rows) * row_floats; }
  static DwRowSource Tensor(const float* input, const reference::ConvParams& p) {
    const int64_t row = (int64_t)p.input_w * p.input_c;
    return {input, row * p.input_h, p.input_h, row};
  }
};

// residual: a fused ADD (FloatResidual, elementwise_float.h), added row by row, or null.
// path / math: as ConvFloat's (conv_float.h): kAvx512Vnni runs 16-channel zmm kernels, and kFused
// one FMA per tap.
void DepthwiseConvFloat(const PackedDepthwiseFloat& pd, const float* input, float* output, ThreadPool* pool,
                        KernelPath path = ActiveFloatPath(), const FloatResidual* residual = nullptr,
                        FloatMath math = FloatMath::kExact);

// Output rows [oy0, oy1) of batch b (all columns) at output (row oy0 first), on the calling
// thread, the input rows read through src: the same values as DepthwiseConvFloat's rows.
void DepthwiseConvFloatRows(const PackedDepthwiseFloat& pd, const DwRowSource& src, int b, int oy0, int oy1,
                            float* output, KernelPath path = ActiveFloatPath(), FloatMath math = FloatMath::kExact);

}  // namespace qat::kernels::optimized
