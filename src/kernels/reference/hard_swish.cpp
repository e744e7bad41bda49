// HARD_SWISH: x * relu6(x + 3) / 6 (MobileNet-v3).
#include "kernels/reference/activations.h"

namespace qat::kernels::reference {

namespace {
inline float HardSwish(float x) { return x * std::min(std::max(x + 3.f, 0.f), 6.f) / 6.f; }
}  // namespace

void HardSwishFloat(int64_t n, const float* input, float* output) {
  for (int64_t i = 0; i < n; ++i) output[i] = HardSwish(input[i]);
}

LookupTable MakeHardSwishTable(bool is_int8, float input_scale, int32_t input_zp, float output_scale,
                               int32_t output_zp, RequantMode mode) {
  return MakeFloatFunctionTable(is_int8, input_scale, input_zp, output_scale, output_zp, mode, HardSwish);
}

}  // namespace qat::kernels::reference
