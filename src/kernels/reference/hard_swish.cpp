// HARD_SWISH: x * relu6(x + 3) / 6 (MobileNet-v3).
// 8-bit: TFLite's fixed-point algorithm (reference_ops::HardSwish, int16 arithmetic), tabulated.
// LiteRT runs the same builtin kernel for int8 HARD_SWISH (measured: identical bytes to TFLite
// 2.2 on all 256 inputs), so both requantization modes use it.
#include <limits>

#include "kernels/reference/activations.h"

namespace qat::kernels::reference {

namespace {
inline float HardSwish(float x) { return x * std::min(std::max(x + 3.f, 0.f), 6.f) / 6.f; }

// gemmlowp's SaturatingRoundingDoublingHighMul on int16 (VQRDMULH.S16).
int16_t RoundingHighMul16(int16_t a, int16_t b) {
  if (a == b && a == std::numeric_limits<int16_t>::min()) return std::numeric_limits<int16_t>::max();
  const int32_t ab = (int32_t)a * (int32_t)b;
  const int32_t nudge = ab >= 0 ? (1 << 14) : (1 - (1 << 14));
  return (int16_t)((ab + nudge) / (1 << 15));
}
// The same without rounding (TFLite's SaturatingDoublingHighMul): truncates toward zero.
int16_t HighMul16(int16_t a, int16_t b) {
  if (a == b && a == std::numeric_limits<int16_t>::min()) return std::numeric_limits<int16_t>::max();
  return (int16_t)(((int32_t)a * (int32_t)b) / (1 << 15));
}
int16_t SaturatingLeftShift16(int16_t v, int amount) {
  const int32_t r = (int32_t)v * (1 << amount);
  return (int16_t)std::min<int32_t>(std::max<int32_t>(r, -32768), 32767);
}
int16_t RoundingDivideByPOT16(int16_t x, int e) {
  const int16_t mask = (int16_t)((1 << e) - 1);
  const int16_t remainder = (int16_t)(x & mask);
  const int16_t threshold = (int16_t)((mask >> 1) + (x < 0 ? 1 : 0));
  return (int16_t)((x >> e) + (remainder > threshold ? 1 : 0));
}
// TFLite's DownScaleInt32ToInt16Multiplier: round the Q31 multiplier to Q15.
int16_t DownScaleMultiplier(int32_t m) {
  constexpr int32_t kRound = 1 << 15;
  if (m >= std::numeric_limits<int32_t>::max() - kRound) return std::numeric_limits<int16_t>::max();
  return (int16_t)((m + kRound) >> 16);
}
}  // namespace

void HardSwishFloat(int64_t n, const float* input, float* output) {
  for (int64_t i = 0; i < n; ++i) output[i] = HardSwish(input[i]);
}

LookupTable MakeHardSwishTable(bool is_int8, float input_scale, int32_t input_zp, float output_scale,
                               int32_t output_zp, RequantMode) {
  // The input is first put on a "hires" scale (x 2^7 in int16); the output multiplier maps that
  // scale to the output's, the "reluish" multiplier maps [-3, 3] to the Q15 range [-1, 1].
  const float hires_input_scale = (1.0f / 128.0f) * input_scale;
  const float reluish_scale = 3.0f / 32768.0f;
  const float output_multiplier = hires_input_scale / output_scale;
  const float reluish_multiplier = hires_input_scale / reluish_scale;
  int32_t out_m32, relu_m32;
  int out_exp, relu_exp;
  QuantizeMultiplier(output_multiplier, &out_m32, &out_exp);
  QuantizeMultiplier(reluish_multiplier, &relu_m32, &relu_exp);
  const int16_t out_m = DownScaleMultiplier(out_m32), relu_m = DownScaleMultiplier(relu_m32);
  return MakeIntegerFunctionTable(is_int8, [&](int32_t q) {
    const int16_t x = (int16_t)(q - input_zp);
    const int16_t hires = (int16_t)(x * (1 << 7));
    const int16_t preshift_out = RoundingHighMul16(hires, out_m);
    int16_t reluish = hires;
    if (relu_exp > 0) reluish = SaturatingLeftShift16(reluish, relu_exp - 1);
    reluish = RoundingHighMul16(reluish, relu_m);
    if (relu_exp > 0) reluish = SaturatingLeftShift16(reluish, 1);
    if (relu_exp < 0) reluish = RoundingDivideByPOT16(reluish, -relu_exp);
    reluish = (int16_t)((reluish + (1 << 15)) >> 1);  // [-1, 1] in Q15 -> [0, 1] in Q15
    const int16_t preshift = HighMul16(reluish, preshift_out);
    // out_exp <= 0 for every sane model (output_multiplier < 1 since hires = s_in / 128).
    const int16_t v = out_exp < 0 ? RoundingDivideByPOT16(preshift, -out_exp) : preshift;
    return (int32_t)v + output_zp;
  });
}

}  // namespace qat::kernels::reference
