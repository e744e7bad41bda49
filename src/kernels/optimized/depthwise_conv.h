// Optimised DEPTHWISE_CONV_2D for int8 and uint8, bit-exact twin of
// kernels/reference/depthwise_conv.h in both requantization modes.
//
// Channels are the vector axis (NHWC keeps them contiguous in input, filter and output). The AVX2
// path takes 16 channels and two filter taps at a time: both taps' input bytes are widened to
// int16 and interleaved, so one vpmaddwd multiplies-and-adds the two taps for 8 channels exactly
// (|w| <= 255, |x| <= 255). The input offset is folded into the bias (bias + input_offset * sum(w)),
// and the input is first copied to int16 with its padding materialised as Z_in (whose contribution
// cancels the folded term, as in the GEMM of conv.h), so taps need no bounds checks and each input
// byte is widened once rather than once per tap. Depth multiplier > 1 and channel tails (< 16) use the portable code,
// which is the reference arithmetic on the packed int32 weights.
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
  int c_pad = 0;                   // output_c rounded up to 16
  int tap_pairs = 0;               // ceil(filter_h * filter_w / 2)
  AlignedVector<int32_t> weights;  // portable: [tap][c_pad], w - Z_w
  AlignedVector<int16_t> pairs;    // AVX2: [tap pair][16-channel block][lo 16, hi 16] (see .cpp)
  AlignedVector<int32_t> bias;     // [c_pad] bias (portable)
  AlignedVector<int32_t> folded_bias;  // [c_pad] bias + input_offset * sum over taps of w (AVX2)
  RequantArrays rq;                // [c_pad]
};

PackedDepthwise PackDepthwiseInt8(const reference::ConvParams& p, const Requant* requant, int requant_count,
                                  const int8_t* filter, const int32_t* bias);
PackedDepthwise PackDepthwiseUint8(const reference::ConvParams& p, const Requant& requant, const uint8_t* filter,
                                   const int32_t* bias);

// Scratch bytes one call needs (the padded int16 copy of the input used by the AVX2 path).
size_t DepthwiseScratchBytes(const PackedDepthwise& pd);

// scratch: DepthwiseScratchBytes bytes, or null (the call then uses a small internal buffer).
void DepthwiseConvInt8(const PackedDepthwise& pd, const int8_t* input, int8_t* output, void* scratch, ThreadPool* pool,
                       KernelPath path = ActiveKernelPath());
void DepthwiseConvUint8(const PackedDepthwise& pd, const uint8_t* input, uint8_t* output, void* scratch,
                        ThreadPool* pool, KernelPath path = ActiveKernelPath());

}  // namespace qat::kernels::optimized
