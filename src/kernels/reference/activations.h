// Element-wise activations: RELU (relu.cpp), RELU6 (relu6.cpp), LOGISTIC (logistic.cpp),
// TANH (tanh.cpp), HARD_SWISH (hard_swish.cpp). Float kernels are plain loops; 8-bit kernels are
// lookup tables (lookup_table.h) built by the Make*Table functions below at Prepare.
#pragma once
#include <cstdint>

#include "kernels/reference/lookup_table.h"
#include "kernels/reference/types.h"

namespace qat::kernels::reference {

// RELU family (float): out = min(max(x, lo), hi).
void ReluXFloat(int64_t n, const float* input, float* output, float lo, float hi);
// TFLite's quantized ReluX: q_out = clamp(MBQM(q_in - Z_in, s_in / s_out) + Z_out, lo_q, hi_q) with
// lo_q = Z_out + round(lo / s_out) (and hi_q likewise, none for RELU), intersected with the type.
LookupTable MakeReluXTable(bool is_int8, float input_scale, int32_t input_zp, float output_scale, int32_t output_zp,
                           float lo, float hi);

void LogisticFloat(int64_t n, const float* input, float* output);
LookupTable MakeLogisticTable(bool is_int8, float input_scale, int32_t input_zp, float output_scale,
                              int32_t output_zp, RequantMode mode);

void TanhFloat(int64_t n, const float* input, float* output);
LookupTable MakeTanhTable(bool is_int8, float input_scale, int32_t input_zp, float output_scale, int32_t output_zp,
                          RequantMode mode);

// x * relu6(x + 3) / 6. The 8-bit table is TFLite's int16 fixed-point algorithm in both modes.
void HardSwishFloat(int64_t n, const float* input, float* output);
LookupTable MakeHardSwishTable(bool is_int8, float input_scale, int32_t input_zp, float output_scale,
                               int32_t output_zp, RequantMode mode);

}  // namespace qat::kernels::reference
