// QUANTIZE reference kernels.
//  float -> int8/uint8: q = clamp(rnd(x / s) + Z). kTflite: TFLite divides in float32 and rounds
//  half away from zero; kXnnpack: XNNPACK multiplies by the float32 reciprocal 1/s and rounds half
//  to even.
//  int8/uint8 -> int8/uint8 (requantize): q_out = clamp(MBQM(q_in - Z_in, s_in / s_out) + Z_out).
#pragma once
#include <cstdint>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

void QuantizeFloatToInt8(int64_t n, const float* input, float scale, int32_t zero_point, RequantMode mode,
                         int8_t* output);
void QuantizeFloatToUint8(int64_t n, const float* input, float scale, int32_t zero_point, RequantMode mode,
                          uint8_t* output);

struct RequantizeParams {
  int32_t input_zp = 0, output_zp = 0;
  Requant requant;  // s_in / s_out
  int32_t qmin = -128, qmax = 127;  // of the output type
};
// Input and output are each int8 or uint8 (is_int8 flags select the raw interpretation).
void Requantize8(const RequantizeParams& p, int64_t n, const void* input, bool input_is_int8, void* output,
                 bool output_is_int8);

}  // namespace qat::kernels::reference
