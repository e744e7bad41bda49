// TANH. 8-bit: table of std::tanh; the int8 spec fixes the output at (1/128, 0).
#include "kernels/reference/activations.h"

namespace qat::kernels::reference {

void TanhFloat(int64_t n, const float* input, float* output) {
  for (int64_t i = 0; i < n; ++i) output[i] = std::tanh(input[i]);
}

LookupTable MakeTanhTable(bool is_int8, float input_scale, int32_t input_zp, float output_scale, int32_t output_zp,
                          RequantMode mode) {
  return MakeFloatFunctionTable(is_int8, input_scale, input_zp, output_scale, output_zp, mode,
                                [](float x) { return std::tanh(x); });
}

}  // namespace qat::kernels::reference
