// FULLY_CONNECTED reference kernels. Weights [output_depth, input_depth] (TFLite's DEFAULT format):
//   output[b, o] = act( bias[o] + sum_i weights[o, i] * input[b, i] )
#pragma once
#include <cstdint>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

void FullyConnectedFloat(const FullyConnectedParams& p, const float* input, const float* weights, const float* bias,
                         float* output);

// int8 activations and symmetric int8 weights. requant[o] is output channel o's multiplier; a
// per-tensor layer (TFLite 2.2's only int8 FC) passes the same Requant repeated
// (requant_count == 1 means "use requant[0] for every channel").
void FullyConnectedInt8(const FullyConnectedParams& p, const Requant* requant, int requant_count, const int8_t* input,
                        const int8_t* weights, const int32_t* bias, int8_t* output);

// Legacy uint8 with a weight zero point (-p.filter_offset).
void FullyConnectedUint8(const FullyConnectedParams& p, const Requant& requant, const uint8_t* input,
                         const uint8_t* weights, const int32_t* bias, uint8_t* output);

// Hybrid: float input/output, int8 weights dequantized with weight_scales (count 1: per-tensor).
void FullyConnectedHybridInt8(const FullyConnectedParams& p, const float* weight_scales, int weight_scale_count,
                              const float* input, const int8_t* weights, const float* bias, float* output);

}  // namespace qat::kernels::reference
