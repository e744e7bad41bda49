// RELU (and the shared ReluX used by RELU6 and RELU_N1_TO_1).
#include "kernels/reference/activations.h"

namespace qat::kernels::reference {

void ReluXFloat(int64_t n, const float* input, float* output, float lo, float hi) {
  for (int64_t i = 0; i < n; ++i) output[i] = std::min(std::max(input[i], lo), hi);
}

LookupTable MakeReluXTable(bool is_int8, float input_scale, int32_t input_zp, float output_scale, int32_t output_zp,
                           float lo, float hi) {
  int32_t multiplier = 0;
  int shift = 0;
  QuantizeMultiplier((double)input_scale / (double)output_scale, &multiplier, &shift);
  const int32_t qmin = is_int8 ? -128 : 0, qmax = is_int8 ? 127 : 255;
  auto quantize = [&](float f) { return output_zp + (int32_t)std::round(f / output_scale); };
  const int32_t lo_q = std::max(qmin, quantize(lo));
  const int32_t hi_q = std::isinf(hi) ? qmax : std::min(qmax, quantize(hi));
  return MakeIntegerFunctionTable(is_int8, [&](int32_t q) {
    const int32_t v = MultiplyByQuantizedMultiplier(q - input_zp, multiplier, shift) + output_zp;
    return Clamp(v, lo_q, hi_q);
  });
}

}  // namespace qat::kernels::reference
