// CONV_2D reference kernels. Filter layout OHWI: filter[oc][fy][fx][ic].
//   output[b, oy, ox, oc] = act( bias[oc] + sum_{fy, fx, ic} filter[oc, fy, fx, ic] *
//                                input[b, oy*stride_h - pad_top + fy*dilation_h,
//                                         ox*stride_w - pad_left + fx*dilation_w, ic] )
// Taps that fall in the padding contribute nothing (the real value 0, i.e. the zero point).
#pragma once
#include <cstdint>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

// Float accumulation order (normative, chosen to match XNNPACK's f32 IGEMM bit for bit without
// FMA, i.e. LiteRT's default CPU path): acc = bias[oc], then for fy, for fx, for ic:
// acc += filter * input, one float32 multiply and one float32 add per tap (taps in the padding
// are skipped, which equals XNNPACK adding the products with its zero buffer), then the clamp.
void ConvFloat(const ConvParams& p, const float* input, const float* filter, const float* bias, float* output);
// The same computation (identical bits) from weights repacked as HWIO: [fy][fx][ic][oc], which
// makes the inner loop run over contiguous output channels. PackConvFilterHWIO does the repack.
void PackConvFilterHWIO(const ConvParams& p, const float* filter_ohwi, float* filter_hwio);
void ConvFloatHWIO(const ConvParams& p, const float* input, const float* filter_hwio, const float* bias,
                   float* output);

// int8 activations, int8 symmetric per-channel weights (TFLite's int8 spec), int32 bias.
// per_channel[oc] requantizes output channel oc in p.requant mode. bias may be null.
void ConvPerChannelInt8(const ConvParams& p, const Requant* per_channel, const int8_t* input, const int8_t* filter,
                        const int32_t* bias, int8_t* output);

// Legacy uint8: per-tensor asymmetric weights with zero point -p.filter_offset, one multiplier.
void ConvUint8(const ConvParams& p, const Requant& requant, const uint8_t* input, const uint8_t* filter,
               const int32_t* bias, uint8_t* output);

// Hybrid (weight-only quantized): float input and output, int8 symmetric weights with a scale per
// output channel (filter_scales[oc]; pass the same pointer repeated semantics via
// filter_scale_count == 1 for per-tensor). Weights are dequantized on the fly, so the result is
// the float convolution with the dequantized weights (what XNNPACK's qc8w path computes).
void ConvHybridInt8(const ConvParams& p, const float* filter_scales, int filter_scale_count, const float* input,
                    const int8_t* filter, const float* bias, float* output);

}  // namespace qat::kernels::reference
