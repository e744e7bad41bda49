#include "kernels/reference/lookup_table.h"

namespace qat::kernels::reference {

void LookupTableInt8(const LookupTable& t, int64_t n, const int8_t* input, int8_t* output) {
  for (int64_t i = 0; i < n; ++i) output[i] = (int8_t)t.table[(uint8_t)input[i]];
}
void LookupTableUint8(const LookupTable& t, int64_t n, const uint8_t* input, uint8_t* output) {
  for (int64_t i = 0; i < n; ++i) output[i] = t.table[input[i]];
}

LookupTable MakeIntegerFunctionTable(bool is_int8, const std::function<int32_t(int32_t)>& f) {
  LookupTable t;
  const int32_t qmin = is_int8 ? -128 : 0, qmax = is_int8 ? 127 : 255;
  for (int32_t q = qmin; q <= qmax; ++q) t.table[(uint8_t)q] = (uint8_t)Clamp(f(q), qmin, qmax);
  return t;
}

LookupTable MakeFloatFunctionTable(bool is_int8, float input_scale, int32_t input_zp, float output_scale,
                                   int32_t output_zp, RequantMode mode, const std::function<float(float)>& f) {
  const float inverse_scale = 1.f / output_scale;
  return MakeIntegerFunctionTable(is_int8, [&](int32_t q) {
    const float x = input_scale * (float)(q - input_zp);
    const float y = f(x) * inverse_scale;
    const float r = mode == RequantMode::kTflite ? std::round(y) : std::nearbyint(y);
    // Saturate in float before converting (f may be large, e.g. hard-swish of a wide range).
    return (int32_t)std::min(std::max(r, -1e6f), 1e6f) + output_zp;
  });
}

}  // namespace qat::kernels::reference
