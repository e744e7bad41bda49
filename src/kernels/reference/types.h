// Parameter structs shared by qat's reference kernels (src/kernels/reference/<op>.h).
//
// A reference kernel is a plain function in the style of TFLite's reference_ops: a params struct
// that the op's Prepare fills once (shapes, strides, padding, zero-point offsets, clamps, the
// requantization mode), the per-channel multipliers (kernels/quant_math.h Requant), and raw
// pointers. Kernels never allocate and never throw: Prepare has checked everything.
// Layouts are TFLite's: activations NHWC, CONV_2D filters OHWI, DEPTHWISE_CONV_2D filters 1HWC
// (C = input_c * depth_multiplier), FULLY_CONNECTED weights [out, in].
// These functions are normative: optimised twins (src/kernels/x86/) must match them bit for bit.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/quant_math.h"

namespace qat::kernels::reference {

// TFLite's fused activation functions (schema ActivationFunctionType, same values).
enum class Activation : uint8_t { kNone = 0, kRelu = 1, kReluN1To1 = 2, kRelu6 = 3, kTanh = 4, kSignBit = 5 };
enum class Padding : uint8_t { kSame = 0, kValid = 1 };

struct FloatRange {
  float min = -std::numeric_limits<float>::infinity();
  float max = std::numeric_limits<float>::infinity();
};

inline FloatRange ActivationRangeFloat(Activation a) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  switch (a) {
    case Activation::kRelu: return {0.f, inf};
    case Activation::kRelu6: return {0.f, 6.f};
    case Activation::kReluN1To1: return {-1.f, 1.f};
    default: return {-inf, inf};
  }
}

// TFLite's CalculateActivationRangeQuantized: the real bounds of the activation are quantized
// with round-half-away-from-zero of a float32 division (f / scale in float, then std::round),
// intersected with [qmin, qmax] of the output type.
inline void ActivationRangeQuantized(Activation a, float scale, int32_t zero_point, int32_t qmin, int32_t qmax,
                                     int32_t* act_min, int32_t* act_max) {
  auto quantize = [&](float f) { return zero_point + (int32_t)std::round(f / scale); };
  *act_min = qmin;
  *act_max = qmax;
  if (a == Activation::kRelu) {
    *act_min = std::max(qmin, quantize(0.f));
  } else if (a == Activation::kRelu6) {
    *act_min = std::max(qmin, quantize(0.f));
    *act_max = std::min(qmax, quantize(6.f));
  } else if (a == Activation::kReluN1To1) {
    *act_min = std::max(qmin, quantize(-1.f));
    *act_max = std::min(qmax, quantize(1.f));
  }
}

// Output size and leading padding of one spatial dimension, as TFLite (and XNNPACK's TF SAME
// mode) compute them: SAME pads so that out = ceil(in / stride), with the odd pixel at the end.
inline void ComputePadding(Padding p, int in, int filter, int stride, int dilation, int* out, int* pad_before) {
  const int effective = (filter - 1) * dilation + 1;
  if (p == Padding::kSame) {
    *out = (in + stride - 1) / stride;
  } else {
    *out = in >= effective ? (in - effective + stride) / stride : 0;
  }
  const int total = std::max((*out - 1) * stride + effective - in, 0);
  *pad_before = total / 2;
}

// CONV_2D and DEPTHWISE_CONV_2D (and the custom transposed convolution).
struct ConvParams {
  int batches = 1;
  int input_h = 0, input_w = 0, input_c = 0;
  int output_h = 0, output_w = 0, output_c = 0;
  int filter_h = 1, filter_w = 1;
  int stride_h = 1, stride_w = 1;
  int dilation_h = 1, dilation_w = 1;
  int pad_top = 0, pad_left = 0;
  int depth_multiplier = 1;  // depthwise only: output_c == input_c * depth_multiplier
  // Quantized paths. Offsets are *added*: input_offset = -Z_in, filter_offset = -Z_w (uint8 only;
  // int8 weights are symmetric), output_offset = +Z_out.
  int32_t input_offset = 0;
  int32_t filter_offset = 0;
  int32_t output_offset = 0;
  int32_t act_min = -128, act_max = 127;  // clamp in the output type, fused activation included
  RequantMode requant = RequantMode::kTflite;
  FloatRange float_act;  // float path
};

// FULLY_CONNECTED: output[b, o] = sum_i input[b, i] * weights[o, i] + bias[o].
struct FullyConnectedParams {
  int batches = 1;
  int input_depth = 0;   // K, the accumulation depth
  int output_depth = 0;  // N
  int32_t input_offset = 0;
  int32_t filter_offset = 0;
  int32_t output_offset = 0;
  int32_t act_min = -128, act_max = 127;
  RequantMode requant = RequantMode::kTflite;
  FloatRange float_act;
};

// AVERAGE_POOL_2D and MAX_POOL_2D. Quantized pooling keeps the input's scale and zero point.
struct PoolParams {
  int batches = 1;
  int input_h = 0, input_w = 0, channels = 0;
  int output_h = 0, output_w = 0;
  int filter_h = 1, filter_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0;
  int32_t act_min = -128, act_max = 127;
  FloatRange float_act;
};

// Up to 6-D broadcasting of two inputs (ADD, SUB, MUL): each input is described by its strides
// over the output's dims, with stride 0 along a broadcast dimension.
inline constexpr int kMaxBroadcastRank = 6;
struct BroadcastShape {
  int rank = 0;
  int dims[kMaxBroadcastRank] = {};        // output dims
  int64_t stride1[kMaxBroadcastRank] = {}; // element strides of input 1 (0 where broadcast)
  int64_t stride2[kMaxBroadcastRank] = {};
  int64_t size() const {
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[i];
    return n;
  }
};

// Calls f(out_index, in1_index, in2_index) for every output element, in row-major order.
template <class F>
inline void ForEachBroadcast(const BroadcastShape& s, F&& f) {
  int64_t n = s.size();
  int idx[kMaxBroadcastRank] = {};
  int64_t i1 = 0, i2 = 0;
  for (int64_t o = 0; o < n; ++o) {
    f(o, i1, i2);
    for (int d = s.rank - 1; d >= 0; --d) {
      i1 += s.stride1[d];
      i2 += s.stride2[d];
      if (++idx[d] < s.dims[d]) break;
      i1 -= s.stride1[d] * s.dims[d];
      i2 -= s.stride2[d] * s.dims[d];
      idx[d] = 0;
    }
  }
}

// Sum of a[i] * b[i] in float32 with eight independent partial sums: the compiler keeps them
// in vector registers (no -ffast-math needed), which makes the float convolutions usable.
inline float DotF32(const float* a, const float* b, int n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += a[i + j] * b[i + j];
  float r = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}

inline int32_t Clamp(int32_t v, int32_t lo, int32_t hi) { return std::min(std::max(v, lo), hi); }
inline float ClampF(float v, const FloatRange& r) { return std::min(std::max(v, r.min), r.max); }

}  // namespace qat::kernels::reference
