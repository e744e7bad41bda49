// DEPTHWISE_CONV_2D reference kernels. Filter layout 1HWC with C = input_c * depth_multiplier:
// output channel oc = ic * depth_multiplier + m reads input channel ic only.
//   output[b, oy, ox, oc] = act( bias[oc] + sum_{fy, fx} filter[0, fy, fx, oc] *
//                                input[b, oy*sh - pad_top + fy*dh, ox*sw - pad_left + fx*dw, oc / M] )
#pragma once
#include <cstdint>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

void DepthwiseConvFloat(const ConvParams& p, const float* input, const float* filter, const float* bias,
                        float* output);

// int8 activations, int8 symmetric weights with one Requant per output channel.
void DepthwiseConvPerChannelInt8(const ConvParams& p, const Requant* per_channel, const int8_t* input,
                                 const int8_t* filter, const int32_t* bias, int8_t* output);

// Legacy uint8, per-tensor weights with zero point -p.filter_offset.
void DepthwiseConvUint8(const ConvParams& p, const Requant& requant, const uint8_t* input, const uint8_t* filter,
                        const int32_t* bias, uint8_t* output);

// Hybrid: float activations, int8 weights dequantized with filter_scales[oc] (count 1: per-tensor).
void DepthwiseConvHybridInt8(const ConvParams& p, const float* filter_scales, int filter_scale_count,
                             const float* input, const int8_t* filter, const float* bias, float* output);

}  // namespace qat::kernels::reference
