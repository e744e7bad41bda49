// ADD (see arithmetic.h), plus the shared quantized Prepare and the broadcast-shape helper.
#include <algorithm>
#include <cmath>

#include "kernels/reference/arithmetic.h"

namespace qat::kernels::reference {

bool MakeBroadcastShape(const int* dims1, int rank1, const int* dims2, int rank2, BroadcastShape* s) {
  const int rank = std::max(std::max(rank1, rank2), 1);
  if (rank > kMaxBroadcastRank) return false;
  *s = BroadcastShape{};
  s->rank = rank;
  int64_t st1 = 1, st2 = 1;
  for (int i = rank - 1; i >= 0; --i) {
    const int j1 = i - (rank - rank1), j2 = i - (rank - rank2);
    const int d1 = j1 >= 0 ? dims1[j1] : 1, d2 = j2 >= 0 ? dims2[j2] : 1;
    if (d1 != d2 && d1 != 1 && d2 != 1) return false;
    s->dims[i] = d1 == 1 ? d2 : d1;
    s->stride1[i] = d1 == 1 ? 0 : st1;
    s->stride2[i] = d2 == 1 ? 0 : st2;
    st1 *= d1;
    st2 *= d2;
  }
  return true;
}

void PrepareAddSubQuantized(float input1_scale, int32_t input1_zp, float input2_scale, int32_t input2_zp,
                            float output_scale, int32_t output_zp, ArithmeticParams* p) {
  p->input1_offset = -input1_zp;
  p->input2_offset = -input2_zp;
  p->output_offset = output_zp;
  p->left_shift = 20;
  // As TFLite: max and doubling in float32 (exact), the divisions in double.
  const double twice_max = (double)(2.f * std::max(input1_scale, input2_scale));
  QuantizeMultiplier((double)input1_scale / twice_max, &p->input1.multiplier, &p->input1.shift);
  QuantizeMultiplier((double)input2_scale / twice_max, &p->input2.multiplier, &p->input2.shift);
  QuantizeMultiplier(twice_max / (double)((float)(1 << p->left_shift) * output_scale), &p->output.multiplier,
                     &p->output.shift);
}

void PrepareAddXnnpack(float input1_scale, int32_t input1_zp, float input2_scale, int32_t input2_zp,
                       float output_scale, ArithmeticParams* p) {
  volatile float r1 = input1_scale / output_scale, r2 = input2_scale / output_scale;
  const float mx = std::max((float)r1, (float)r2);
  p->xnn_valid = r1 >= 0x1.0p-10f && r2 >= 0x1.0p-10f && r1 < 0x1.0p+8f && r2 < 0x1.0p+8f;
  if (!p->xnn_valid) return;
  int exponent = 0;
  std::frexp(mx, &exponent);  // mx = f * 2^exponent, f in [0.5, 1): IEEE exponent is exponent - 1
  p->xnn_shift = 20 - (exponent - 1);
  p->xnn_multiplier1 = (int32_t)std::nearbyint(std::ldexp((float)r1, p->xnn_shift));
  p->xnn_multiplier2 = (int32_t)std::nearbyint(std::ldexp((float)r2, p->xnn_shift));
  p->xnn_bias = (int32_t)((1u << (p->xnn_shift - 1)) - (uint32_t)(p->xnn_multiplier1 * input1_zp) -
                          (uint32_t)(p->xnn_multiplier2 * input2_zp));
}

namespace {
// XNNPACK's ADD: one multiply-add per input in int32 (|q| m < 2^8 2^21), arithmetic shift.
template <class T>
void AddXnnpack(const ArithmeticParams& p, const BroadcastShape& s, const T* in1, const T* in2, T* out) {
  ForEachBroadcast(s, [&](int64_t o, int64_t i1, int64_t i2) {
    const int32_t acc = p.xnn_bias + (int32_t)in1[i1] * p.xnn_multiplier1 + (int32_t)in2[i2] * p.xnn_multiplier2;
    out[o] = (T)Clamp((acc >> p.xnn_shift) + p.output_offset, p.act_min, p.act_max);
  });
}

// The quantized ADD/SUB core. Overflow: |q - Z| <= 255 < 2^8, shifted by 20 stays below 2^28;
// each scaled input is at most that, so the sum fits in int32.
template <class T, int kSign>
void AddSubQuantized(const ArithmeticParams& p, const BroadcastShape& s, const T* in1, const T* in2, T* out) {
  ForEachBroadcast(s, [&](int64_t o, int64_t i1, int64_t i2) {
    const int32_t a = ((int32_t)in1[i1] + p.input1_offset) * (1 << p.left_shift);
    const int32_t b = ((int32_t)in2[i2] + p.input2_offset) * (1 << p.left_shift);
    const int32_t sa = MultiplyByQuantizedMultiplier(a, p.input1.multiplier, p.input1.shift);
    const int32_t sb = MultiplyByQuantizedMultiplier(b, p.input2.multiplier, p.input2.shift);
    const int32_t raw = MultiplyByQuantizedMultiplier(sa + kSign * sb, p.output.multiplier, p.output.shift);
    out[o] = (T)Clamp(raw + p.output_offset, p.act_min, p.act_max);
  });
}
}  // namespace

template <class T>
void AddSubQuantizedT(const ArithmeticParams& p, const BroadcastShape& s, const T* in1, const T* in2, T* out,
                      bool subtract) {
  if (subtract)
    AddSubQuantized<T, -1>(p, s, in1, in2, out);
  else
    AddSubQuantized<T, 1>(p, s, in1, in2, out);
}
template void AddSubQuantizedT<int8_t>(const ArithmeticParams&, const BroadcastShape&, const int8_t*, const int8_t*,
                                       int8_t*, bool);
template void AddSubQuantizedT<uint8_t>(const ArithmeticParams&, const BroadcastShape&, const uint8_t*,
                                        const uint8_t*, uint8_t*, bool);

void AddFloat(const ArithmeticParams& p, const BroadcastShape& s, const float* in1, const float* in2, float* out) {
  ForEachBroadcast(s, [&](int64_t o, int64_t i1, int64_t i2) { out[o] = ClampF(in1[i1] + in2[i2], p.float_act); });
}
void AddInt8(const ArithmeticParams& p, const BroadcastShape& s, const int8_t* in1, const int8_t* in2, int8_t* out) {
  if (p.requant == RequantMode::kXnnpack && p.xnn_valid)
    AddXnnpack(p, s, in1, in2, out);
  else
    AddSubQuantizedT(p, s, in1, in2, out, false);
}
void AddUint8(const ArithmeticParams& p, const BroadcastShape& s, const uint8_t* in1, const uint8_t* in2,
              uint8_t* out) {
  if (p.requant == RequantMode::kXnnpack && p.xnn_valid)
    AddXnnpack(p, s, in1, in2, out);
  else
    AddSubQuantizedT(p, s, in1, in2, out, false);
}

}  // namespace qat::kernels::reference
