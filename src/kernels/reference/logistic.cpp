// LOGISTIC. Float: 1 / (1 + exp(-x)). 8-bit: a table of the float function (lookup_table.h); the
// int8 spec fixes the output at (1/256, -128), uint8 at (1/256, 0).
#include "kernels/reference/activations.h"

namespace qat::kernels::reference {

void LogisticFloat(int64_t n, const float* input, float* output) {
  for (int64_t i = 0; i < n; ++i) output[i] = 1.f / (1.f + std::exp(-input[i]));
}

LookupTable MakeLogisticTable(bool is_int8, float input_scale, int32_t input_zp, float output_scale,
                              int32_t output_zp, RequantMode mode) {
  return MakeFloatFunctionTable(is_int8, input_scale, input_zp, output_scale, output_zp, mode,
                                [](float x) { return 1.f / (1.f + std::exp(-x)); });
}

}  // namespace qat::kernels::reference
