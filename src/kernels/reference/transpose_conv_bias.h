// Transposed convolution with bias: MediaPipe's custom op Convolution2DTransposeBias (float).
// Weights OHWI. Every input pixel scatters into the output window it influences:
//   out[b, iy*sh - pad_top + fy, ix*sw - pad_left + fx, oc] += in[b, iy, ix, ic] * w[oc, fy, fx, ic]
// starting from out = bias; taps outside the output are dropped. Uses ConvParams with input_* the
// (small) input and output_* the upsampled output.
#pragma once

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

void TransposeConvBiasFloat(const ConvParams& p, const float* input, const float* filter, const float* bias,
                            float* output);

}  // namespace qat::kernels::reference
