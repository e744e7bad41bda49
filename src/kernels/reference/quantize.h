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

//  In xnnpack mode, when s_in / s_out is within XNNPACK's [2^-8, 2^7] (else LiteRT does not
//  delegate and TFLite's formula applies): m = lrintf(256 * float32(s_in / s_out)),
//  q_out = clamp(((q_in - Z_in) * m + 128) >> 8 + Z_out) (XNNPACK's qs8/qu8 vcvt: Q8 multiplier).
struct RequantizeParams {
  int32_t input_zp = 0, output_zp = 0;
  Requant requant;  // s_in / s_out
  int32_t qmin = -128, qmax = 127;  // of the output type
  RequantMode mode = RequantMode::kTflite;
  int32_t xnn_multiplier = 0;  // 0: not representable, use the kTflite formula
};
void PrepareRequantize(float input_scale, int32_t input_zp, float output_scale, int32_t output_zp, bool output_is_int8,
                       RequantMode mode, RequantizeParams* p);
// Input and output are each int8 or uint8 (is_int8 flags select the raw interpretation).
void Requantize8(const RequantizeParams& p, int64_t n, const void* input, bool input_is_int8, void* output,
                 bool output_is_int8);

}  // namespace qat::kernels::reference
