// Shared declarations of the broadcasting binary ops ADD (add.cpp), SUB (sub.cpp), MUL (mul.cpp).
//
// Integer ADD/SUB follow TFLite's builtin kernels: both inputs are brought to a common scale
// 2*max(s1, s2) with 20 bits of headroom (left_shift = 20), each through its own fixed-point
// multiplier, added (or subtracted) in int32 and requantized to the output:
//   v_i    = MBQM((q_i - Z_i) << 20, M_i)      M_i = s_i / (2 max(s1, s2))
//   out    = MBQM(v_1 +- v_2, M_out) + Z_out   M_out = 2 max(s1, s2) / (2^20 s_out)
// Integer MUL: out = MBQM((q1 - Z1) * (q2 - Z2), s1 s2 / s_out) + Z_out.
// In xnnpack mode (p.requant) ADD and MUL follow XNNPACK's qs8/qu8 kernels instead, as LiteRT's
// delegate runs them:
//   ADD: m_i = lrintf(s_i / s_out * 2^shift) with shift = 20 - exponent(max(s1, s2) / s_out)
//        (float32 ratios), out = (bias + q1 m1 + q2 m2) >> shift (arithmetic: round half up)
//        + Z_out, bias = 2^(shift-1) - m1 Z1 - m2 Z2.
//   MUL: out = round_half_even(float32((q1 - Z1)(q2 - Z2)) * float32(s1 s2 / s_out)) + Z_out.
// SUB keeps TFLite's algorithm in both modes (it matched LiteRT on the measured case).
#pragma once
#include <cstdint>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

struct ArithmeticParams {
  int32_t input1_offset = 0, input2_offset = 0;  // -Z1, -Z2
  int32_t output_offset = 0;                     // +Z_out
  int left_shift = 20;                           // ADD/SUB only
  Requant input1, input2;                        // ADD/SUB only (Q31 multipliers, shift <= 0)
  Requant output;
  int32_t act_min = -128, act_max = 127;
  FloatRange float_act;
  RequantMode requant = RequantMode::kTflite;
  // xnnpack-mode ADD (XNNPACK's fixed-point add with 20-bit multipliers).
  // xnn_valid is false when XNNPACK would refuse the op (ADD: a ratio s_i / s_out outside
  // [2^-10, 2^8); MUL: s1 s2 / s_out outside [2^-16, 2^8)): LiteRT then keeps TFLite's kernel, so
  // TFLite's algorithm is used in both modes.
  int32_t xnn_multiplier1 = 0, xnn_multiplier2 = 0, xnn_bias = 0;
  int xnn_shift = 0;
  bool xnn_valid = false;
};

// TFLite's Prepare arithmetic for quantized ADD/SUB (add.cc / sub.cc), scales as stored (float32).
void PrepareAddSubQuantized(float input1_scale, int32_t input1_zp, float input2_scale, int32_t input2_zp,
                            float output_scale, int32_t output_zp, ArithmeticParams* p);
// XNNPACK's ADD parameters (xnn_init_qs8_add_minmax_scalar_params), filled alongside TFLite's.
void PrepareAddXnnpack(float input1_scale, int32_t input1_zp, float input2_scale, int32_t input2_zp,
                       float output_scale, ArithmeticParams* p);
// TFLite's MUL: the real multiplier s1 * s2 / s_out is evaluated in float32, then quantized.
void PrepareMulQuantized(float input1_scale, int32_t input1_zp, float input2_scale, int32_t input2_zp,
                         float output_scale, int32_t output_zp, ArithmeticParams* p);

void AddFloat(const ArithmeticParams& p, const BroadcastShape& s, const float* in1, const float* in2, float* out);
void AddInt8(const ArithmeticParams& p, const BroadcastShape& s, const int8_t* in1, const int8_t* in2, int8_t* out);
void AddUint8(const ArithmeticParams& p, const BroadcastShape& s, const uint8_t* in1, const uint8_t* in2, uint8_t* out);

void SubFloat(const ArithmeticParams& p, const BroadcastShape& s, const float* in1, const float* in2, float* out);
void SubInt8(const ArithmeticParams& p, const BroadcastShape& s, const int8_t* in1, const int8_t* in2, int8_t* out);
void SubUint8(const ArithmeticParams& p, const BroadcastShape& s, const uint8_t* in1, const uint8_t* in2, uint8_t* out);

void MulFloat(const ArithmeticParams& p, const BroadcastShape& s, const float* in1, const float* in2, float* out);
void MulInt8(const ArithmeticParams& p, const BroadcastShape& s, const int8_t* in1, const int8_t* in2, int8_t* out);
void MulUint8(const ArithmeticParams& p, const BroadcastShape& s, const uint8_t* in1, const uint8_t* in2, uint8_t* out);

// Builds the broadcast description of out = op(in1, in2) for TFLite-style (numpy) broadcasting.
// Returns false if the shapes are incompatible or the rank exceeds kMaxBroadcastRank.
bool MakeBroadcastShape(const int* dims1, int rank1, const int* dims2, int rank2, BroadcastShape* s);

}  // namespace qat::kernels::reference
