// Transposed convolution with bias: MediaPipe's custom op Convolution2DTransposeBias (float).
// Weights OHWI. Every input pixel scatters into the output window it influences:
//   out[b, iy*sh - pad_top + fy, ix*sw - pad_left + fx, oc] += in[b, iy, ix, ic] * w[oc, fy, fx, ic]
// starting from out = bias; taps outside the output are dropped. Uses ConvParams with input_* the
// (small) input and output_* the upsampled output.
#pragma once

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

// Accumulation order as MediaPipe's kernel: out = bias, then contributions in (iy, ix, ic) order.
void TransposeConvBiasFloat(const ConvParams& p, const float* input, const float* filter, const float* bias,
                            float* output);
// Same bits from HWIO-packed weights (PackConvFilterHWIO in conv.h): contiguous output channels.
void TransposeConvBiasFloatHWIO(const ConvParams& p, const float* input, const float* filter_hwio,
                                const float* bias, float* output);

}  // namespace qat::kernels::reference
