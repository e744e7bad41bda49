// Optimised DEPTHWISE_CONV_2D for int8 and uint8, bit-exact twin of
// kernels/reference/depthwise_conv.h in both requantization modes.
//
// Channels are the vector axis (NHWC keeps them contiguous in input, filter and output). Weights
// are packed once as int32 (uint8: w - Z_w) per tap, padded to a multiple of 8 channels; the AVX2
// path widens 8 input bytes to int32, adds the input offset and multiplies with vpmulld, skipping
// taps in the padding exactly as the reference does, then runs the shared vector output stage.
// Depth multiplier > 1 and channel tails (< 8) use the portable code.
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/optimized/packing.h"
#include "kernels/reference/types.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

struct PackedDepthwise {
  reference::ConvParams p;
  bool is_uint8 = false;
  int c_pad = 0;                   // output_c rounded up to 8
  AlignedVector<int32_t> weights;  // [tap][c_pad]
  AlignedVector<int32_t> bias;     // [c_pad]
  RequantArrays rq;                // [c_pad]
};

PackedDepthwise PackDepthwiseInt8(const reference::ConvParams& p, const Requant* requant, int requant_count,
                                  const int8_t* filter, const int32_t* bias);
PackedDepthwise PackDepthwiseUint8(const reference::ConvParams& p, const Requant& requant, const uint8_t* filter,
                                   const int32_t* bias);

void DepthwiseConvInt8(const PackedDepthwise& pd, const int8_t* input, int8_t* output, ThreadPool* pool,
                       KernelPath path = ActiveKernelPath());
void DepthwiseConvUint8(const PackedDepthwise& pd, const uint8_t* input, uint8_t* output, ThreadPool* pool,
                        KernelPath path = ActiveKernelPath());

}  // namespace qat::kernels::optimized
