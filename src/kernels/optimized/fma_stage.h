// TFLite's output stage as one fp32 FMA, where that is provably exact (kernels/x86: the GEMM
// tiles' and the depthwise kernel's "short ReLU" stage).
//
// For a channel with Q31 multiplier M and right shift r >= 1 (no left shift), TFLite's two
// roundings (SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT) are, for x >= 0, one
// floor:  f(x) = floor(x * M / 2^(31+r) + 1/2 + 2^-(r+1))  (derivation in x86/gemm_avx2.cpp).
// The candidate  g(x) = vcvtps2dq(fma(float(x), scale, offset)) + center  (round to nearest even;
// offset centres the sum on a level, 128 first, where fp32 has half the error it has at 255) is,
// like f,
// non-decreasing in x over all of int32 (float(x), a positive FMA and the rounding all are; with
// scale < 1/2 the sum never overflows vcvtps2dq). Two non-decreasing functions clamped to
// [lo, hi] agree everywhere iff they step past every level L in (lo, hi] at the same x: for
// t_L = min{x : f(x) >= L}, g(t_L) >= L and g(t_L - 1) < L. FindExactFmaStage checks exactly
// that, for centres 128, 96, 160, 64, 192 and the scale nearest M / 2^(31+r) and its neighbours up
// to 2 ulps away, each with the least fp32 offset in the interval the thresholds allow
// (x86/fma_stage_avx2.cpp). Negative x give
// f(x) <= 0 <= lo (lo = act_min - Z_out >= 0 in the short ReLU form), and g(x) <= g(t_(lo+1) - 1)
// < lo + 1, so they clamp alike too. MobileNet-v1 (right shifts 4-8): 99.5 % of the channels have
// such a pair, found in ~4 us each at AllocateTensors (40 ms for mbv1_100; results are kept for
// the next AllocateTensors of the process). The misses: a
// threshold closer to the rounding boundary than fp32 resolves; from right shifts of ~10 on the
// thresholds pass 2^24, where float(x) no longer tells x from x - 1.
// Signed ranges (lo < 0, no fused ReLU): g has one offset per sign of x, and the argument above
// holds on each half of int32 separately (both functions are non-decreasing there); see
// FindExactFmaStage.
#pragma once
#include <cstdint>

namespace qat::kernels::optimized {

struct FmaStage {
  float scale = 0.f;
  float offset = 0.f;
  float offset_neg = 0.f;  // the offset for x < 0: offset itself unless the range is signed
  int32_t center = 128;    // the level the sum is centred on: the kernels add center + Z_out
};

// levels: the output range relative to the zero point, lo = act_min - Z_out and
// hi = act_max - Z_out <= 255, at most 511 levels. lo >= 0 (a fused ReLU: the short form) gives one
// g for every x. A signed range (lo < 0, no fused ReLU; the VNNI tile beside its 64-bit stage):
// TFLite rounds half away from zero, so f's thresholds for x < 0 lie 2^31 / M below the line of
// the positive ones, and no single affine g follows both (found for ~10 % of channels when tried);
// g takes offset_neg for x < 0 instead, and each half is checked on its own (x86/fma_stage_avx2.cpp).
// Returns false (out untouched) when no candidate is exact or the channel is outside the form
// (right not in 1..21, multiplier <= 0).
bool FindExactFmaStage(int32_t multiplier, int right, int lo, int hi, FmaStage* out);

// g(x) as the kernels compute it (for tests): vcvtps2dq(fma(float(x), scale, x < 0 ? offset_neg :
// offset)) + center.
int32_t ApplyFmaStage(const FmaStage& s, int32_t x);

// QAT_NO_FMA_STAGE=1 (read once): the packers leave the FMA form out (A/B timing).
bool NoFmaStage();

}  // namespace qat::kernels::optimized
