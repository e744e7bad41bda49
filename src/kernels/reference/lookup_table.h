// 8-bit element-wise ops as a 256-entry table. An int8/uint8 unary op has only 256 possible
// inputs, so Prepare evaluates the op's exact scalar definition once per input value and Eval is
// a table lookup: bit-exact with the scalar formula by construction, and no float math in Eval.
// Used by RELU, RELU6, LOGISTIC, TANH, HARD_SWISH (int8 and uint8).
#pragma once
#include <cstdint>
#include <functional>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

struct LookupTable {
  uint8_t table[256] = {};  // indexed by the input's raw byte (int8 values through uint8_t)
};

void LookupTableInt8(const LookupTable& t, int64_t n, const int8_t* input, int8_t* output);
void LookupTableUint8(const LookupTable& t, int64_t n, const uint8_t* input, uint8_t* output);

// Table of a real function f: q_out = clamp(rnd(f(s_in * (q_in - Z_in)) / s_out) + Z_out), with
// rnd = round half away from zero (kTflite: TFLite's PopulateLookupTable, std::round) or half to
// even (kXnnpack: XNNPACK's lrintf). The dequantized input and f are evaluated in float32.
LookupTable MakeFloatFunctionTable(bool is_int8, float input_scale, int32_t input_zp, float output_scale,
                                   int32_t output_zp, RequantMode mode, const std::function<float(float)>& f);

// Table of an integer function of the raw input value (e.g. TFLite's fixed-point ReLU).
LookupTable MakeIntegerFunctionTable(bool is_int8, const std::function<int32_t(int32_t)>& f);

}  // namespace qat::kernels::reference
