// MUL (see arithmetic.h).
#include "kernels/reference/arithmetic.h"

namespace qat::kernels::reference {

void PrepareMulQuantized(float input1_scale, int32_t input1_zp, float input2_scale, int32_t input2_zp,
                         float output_scale, int32_t output_zp, ArithmeticParams* p) {
  p->input1_offset = -input1_zp;
  p->input2_offset = -input2_zp;
  p->output_offset = output_zp;
  // TFLite evaluates input1_scale * input2_scale / output_scale in float32 (all operands float).
  volatile float prod = input1_scale * input2_scale;
  volatile float real = prod / output_scale;
  QuantizeMultiplier((double)real, &p->output.multiplier, &p->output.shift);
  p->output.scale = real;  // XNNPACK: a_scale * b_scale / output_scale in float32
  // Outside XNNPACK's supported range LiteRT keeps TFLite's kernel: use it in both modes then.
  p->xnn_valid = real >= 0x1.0p-16f && real < 0x1.0p+8f;
}

namespace {
// |q1 - Z1| * |q2 - Z2| <= 255 * 255 < 2^16: the product always fits.
template <class T>
void MulQuantized(const ArithmeticParams& p, const BroadcastShape& s, const T* in1, const T* in2, T* out) {
  ForEachBroadcast(s, [&](int64_t o, int64_t i1, int64_t i2) {
    const int32_t prod = ((int32_t)in1[i1] + p.input1_offset) * ((int32_t)in2[i2] + p.input2_offset);
    const int32_t raw = (p.requant == RequantMode::kXnnpack && p.xnn_valid
                             ? RequantizeFp32(prod, p.output.scale)
                             : MultiplyByQuantizedMultiplier(prod, p.output.multiplier, p.output.shift)) +
                        p.output_offset;
    out[o] = (T)Clamp(raw, p.act_min, p.act_max);
  });
}
}  // namespace

void MulFloat(const ArithmeticParams& p, const BroadcastShape& s, const float* in1, const float* in2, float* out) {
  ForEachBroadcast(s, [&](int64_t o, int64_t i1, int64_t i2) { out[o] = ClampF(in1[i1] * in2[i2], p.float_act); });
}
void MulInt8(const ArithmeticParams& p, const BroadcastShape& s, const int8_t* in1, const int8_t* in2, int8_t* out) {
  MulQuantized(p, s, in1, in2, out);
}
void MulUint8(const ArithmeticParams& p, const BroadcastShape& s, const uint8_t* in1, const uint8_t* in2,
              uint8_t* out) {
  MulQuantized(p, s, in1, in2, out);
}

}  // namespace qat::kernels::reference
