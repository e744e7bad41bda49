// Integer requantization primitives, normative for every int8/uint8 kernel in qat.
//
// Two modes, each bit-exact with a real runtime (docs/requantization.md):
//  - RequantMode::kTflite: TFLite's builtin kernels. The real multiplier M = s_in*s_w/s_out is
//    stored as a Q31 int32 and a power-of-two shift (QuantizeMultiplier), and applied with
//    gemmlowp's SaturatingRoundingDoublingHighMul followed by RoundingDivideByPOT
//    (double rounding; the default TFLite path, not TFLITE_SINGLE_ROUNDING).
//  - RequantMode::kXnnpack: LiteRT's default XNNPACK delegate and ONNX Runtime (MLAS):
//    round_half_to_even(float32(acc) * float32 scale) + zero_point, then clamp.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

namespace qat::kernels {

enum class RequantMode : uint8_t { kTflite = 0, kXnnpack = 1 };

// M = q * 2^shift with q in [0.5, 1) stored as round(q * 2^31). shift > 0 is a left shift.
inline void QuantizeMultiplier(double m, int32_t* quantized, int* shift) {
  if (m == 0.0) {
    *quantized = 0;
    *shift = 0;
    return;
  }
  double q = std::frexp(m, shift);
  int64_t q_fixed = (int64_t)std::llround(q * (double)(1LL << 31));
  if (q_fixed == (1LL << 31)) {
    q_fixed /= 2;
    ++*shift;
  }
  if (*shift < -31) {
    *shift = 0;
    q_fixed = 0;
  }
  *quantized = (int32_t)q_fixed;
}

// Same computation as the ARMv7 NEON VQRDMULH instruction (gemmlowp fixedpoint.h).
inline int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  if (a == b && a == std::numeric_limits<int32_t>::min()) return std::numeric_limits<int32_t>::max();
  int64_t ab = (int64_t)a * (int64_t)b;
  int32_t nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
  return (int32_t)((ab + nudge) / (1LL << 31));  // C++ division truncates toward zero
}

// Divide by 2^exponent, rounding half away from zero.
inline int32_t RoundingDivideByPOT(int32_t x, int exponent) {
  const int32_t mask = (int32_t)((1LL << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// TFLite's MultiplyByQuantizedMultiplier (double rounding). Input contract: for shift > 0,
// x * 2^shift must fit in int32 (TFLite relies on the same; accumulators of real models do).
inline int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t quantized_multiplier, int shift) {
  int left = shift > 0 ? shift : 0;
  int right = shift > 0 ? 0 : -shift;
  int32_t shifted = (int32_t)((uint32_t)x << left);  // wraps like TFLite's x * (1 << left)
  return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(shifted, quantized_multiplier), right);
}

// XNNPACK/MLAS fp32 requantization: float product, round half to even (the FPU's default
// mode, as lrintf / cvtps2dq do). Values beyond int32 are saturated before the clamp.
inline int32_t RequantizeFp32(int32_t acc, float scale) {
  float r = (float)acc * scale;
  if (!(r > -2147483648.0f)) return std::numeric_limits<int32_t>::min();
  if (!(r < 2147483648.0f)) return std::numeric_limits<int32_t>::max();
  return (int32_t)std::nearbyint(r);
}

// a + b modulo 2^32: the reference kernels' bias and output zero point additions. TFLite's reference
// adds in int32 (undefined on overflow in C++, wrapping as compiled); the optimised kernels wrap
// (vpaddd), and whole-int32-range tests reach both ends.
inline int32_t WrapAdd(int32_t a, int32_t b) { return (int32_t)((uint32_t)a + (uint32_t)b); }

// A requantization multiplier prepared for one (output) channel, valid in both modes.
struct Requant {
  int32_t multiplier = 0;  // Q31 (kTflite)
  int shift = 0;           // power-of-two exponent (kTflite)
  float scale = 0.f;       // float32 multiplier (kXnnpack)
};

inline Requant MakeRequant(double real_multiplier) {
  Requant r;
  QuantizeMultiplier(real_multiplier, &r.multiplier, &r.shift);
  r.scale = (float)real_multiplier;
  return r;
}

// The multiplier of a conv/FC output channel from the float32 scales stored in the model, computed
// exactly as each runtime does, so that both Requant fields are bit-exact with their runtime:
//  - scale (kXnnpack): XNNPACK's float32 expression input_scale * kernel_scale / output_scale,
//    evaluated left to right in float32 (src/operators/convolution-nhwc.c, fully-connected-nc.c).
//  - multiplier/shift (kTflite): TFLite's per-channel path (PopulateConvolutionQuantizationParams)
//    computes double(s_in) * double(s_w) / double(s_out). Its legacy per-tensor path
//    (GetQuantizedConvolutionMultipler, used by uint8 conv and by FULLY_CONNECTED) first multiplies
//    the two float32 scales *in float32* and only then divides in double: pass
//    tflite_float_product = true for those.
inline Requant MakeRequant(float input_scale, float weight_scale, float output_scale,
                           bool tflite_float_product = false) {
  Requant r;
  const double product = tflite_float_product ? (double)(float)(input_scale * weight_scale)
                                              : (double)input_scale * (double)weight_scale;
  QuantizeMultiplier(product / (double)output_scale, &r.multiplier, &r.shift);
  volatile float p = input_scale * weight_scale;  // keep the float32 rounding of each step
  r.scale = p / output_scale;
  return r;
}

inline int32_t Apply(RequantMode mode, const Requant& r, int32_t acc) {
  return mode == RequantMode::kTflite ? MultiplyByQuantizedMultiplier(acc, r.multiplier, r.shift)
                                      : RequantizeFp32(acc, r.scale);
}

}  // namespace qat::kernels
