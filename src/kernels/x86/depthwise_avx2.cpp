// AVX2 micro-kernel of the optimised DEPTHWISE_CONV_2D (see kernels/optimized/depthwise_conv.h
// and depthwise_x86.h for the layouts). For one output row: for each block of 16 channels, for
// 4 output pixels at a time, the accumulators start at the folded bias and each pair tap (two
// vertically adjacent filter taps, pre-interleaved in the pair rows) costs two vpmaddwd with a
// memory operand and two vpaddd (32 exact multiply-adds); the block's weights and output-stage
// parameters are loaded once for the 4 pixels. A 3x3 filter is 6 pair taps (12 vpmaddwd per 16
// channels, a quarter of them on zero weights), but no shuffle: the earlier layout (rows widened
// to int16, taps paired by vpunpck{l,h}wd in the inner loop) spent 10 shuffles + 10 vpmaddwd.
//
// Output stage, bit-exact with the reference:
//  - kTflite: MultiplyByQuantizedMultiplier's two roundings (SaturatingRoundingDoublingHighMul,
//    then RoundingDivideByPOT by r) collapse into one 64-bit floor division:
//        h      = floor((p + 2^30) / 2^31),                p = x * m  (m >= 0)
//        result = floor((h + 2^(r-1) - [h < 0]) / 2^r)     (r >= 1; r = 0: result = h)
//               = floor((p + 2^30 + 2^(30+r) - [h < 0] * 2^31) / 2^(31+r))
//    since floor(floor(u / a) / b) = floor(u / (a b)). [h < 0] may be replaced by [p < 0]: they
//    differ only when h = 0, where both roundings give 0. AVX2 has no 64-bit arithmetic shift, so
//    2^62 is added first (p >= -2^62 + 2^31 makes the sum positive, and 2^62 / 2^(31+r) is an
//    integer): a logical shift then gives result + 2^(31-r) in the low 32 bits, and that constant
//    is taken back out of the output zero point (kDwOffset). All per-channel constants are packed.
//  - kTfliteShort (every r in 1..kDwShortMaxRight, no left shift): the same sum S, with the output
//    zero point added as Z_out * 2^(31+r) (|S| < 2^63 for r <= 21), is split as
//    floor(S / 2^(31+r)) = floor(floor(S / 2^32) / 2^(r-1)): the high 32-bit halves of the
//    products (a blend, no 64-bit shift) then one 32-bit arithmetic shift per 8 lanes give
//    result + Z_out, which for r >= 1 is far from the int32 limits (no wrap to reproduce).
//    kTfliteShortRelu (act_min >= Z_out, fused ReLU / ReLU6) drops the sign-dependent constant: a
//    negative accumulator then gives a value <= 0 either way, which the clamp maps to act_min.
//  - kXnnpack: float(acc) * scale rounded to nearest even (RequantFp32; kXnnpackInRange, every scale
//    below 1: without its saturation fix-up).
//  Then + zero point in int32 (wrapping, as the reference; kXnnpackInRange: in int16 after the
//  first pack, see PackStore), vpackssdw / vpacksswb (or vpackuswb) saturate toward the output
//  type, and the clamp runs on 16 bytes. The saturations cannot change the result: [act_min,
//  act_max] lies inside the type's range.
#include "kernels/x86/depthwise_x86.h"

#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/x86/int8_common_avx2.h"

// x86/depthwise_avx512vnni.cpp compiles this file a second time with QAT_DW_DPWSSD (namespace
// x86::dpwssd, AVX-512 VNNI flags): the multiply-adds of a pixel run on one zmm register per pixel
// (a pair-row pixel's 32 int16 and a pair tap's 32 weights are one 64-byte vector each, the
// accumulator lo | hi), one vpdpwssd each instead of two vpmaddwd + two vpaddd; the output stage
// runs on the same zmm registers (RequantZ: each stage's arithmetic on 16 lanes, with the halves'
// parameters joined; half the instructions of the two ymm halves), then the ymm packs. With
// QAT_DW_YMM_STAGE (x86/depthwise_ymmstage_avx512vnni.cpp, x86::dpwssd_ymm_stage) the stage stays
// the ymm one (QAT_NO_DW_ZMM_STAGE=1, A/B). vpdpwssd's int32 lane is src + a0 * b0 + a1 * b1
// with wrapping adds (Intel's pseudocode), the same sum modulo 2^32 (products of |x|, |w| <= 255
// never reach vpmaddwd's one wrapping case anyway). x86/depthwise_dpwssd_emulated_avx2.cpp compiles it with
// QAT_DW_DPWSSD_EMULATED (x86::dpwssd_emulated, on the emulated AVX-512 intrinsics of
// avx512_emulation.h) for tests on CPUs without it.
#if defined(QAT_DW_DPWSSD_EMULATED)
#include "kernels/x86/avx512_emulation.h"
namespace qat::kernels::x86::dpwssd_emulated {
using namespace ::qat::kernels::x86::emulated;
#define QAT_DW_ZMM 1
#elif defined(QAT_DW_DPWSSD)
// GCC 12's avx512fintrin.h initialises pass-through operands from themselves (see
// gemm_avx512vnni.cpp), which -W(maybe-)uninitialized reports.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#if defined(QAT_DW_YMM_STAGE)
namespace qat::kernels::x86::dpwssd_ymm_stage {
#else
namespace qat::kernels::x86::dpwssd {
#endif
#define QAT_DW_ZMM 1
#else
namespace qat::kernels::x86 {
#endif

namespace {
inline __m256i Ld(const int32_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256i Ld16a(const int16_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }

// An empty asm that "changes" v: keeps each accumulator's sum in program order. Without it GCC
// reassociates the fully unrolled tap loop into all vpmaddwd first, then a tree of vpaddd, and
// spills most of the products to the stack (measured: half the kernel's time).
inline void Pin(__m256i& v) { asm("" : "+x"(v)); }

// Requantizes P accumulators of one 8-lane half in place (parameters loaded once), + zero point.
template <int P, DwStage kStage>
inline void RequantHalf(__m256i* acc, const int32_t* f) {
  if constexpr (kStage == DwStage::kTfliteShortReluFma) {
    // A block with the exact FMA form of the short ReLU stage (optimized/fma_stage.h): the level
    // minus the pair's centre from vcvtps2dq(fma(float(x), scale, offset)), then + Z_out + centre.
    // The zero (Z_out + centre) is added after the int16 pack (Pixels, kZ16).
    const __m256 scale = _mm256_castsi256_ps(Ld(f + kDwFmaScale * 8));
    const __m256 offset = _mm256_castsi256_ps(Ld(f + kDwFmaOffset * 8));
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) acc[p] = avx2::FmaRound(acc[p], scale, offset);
  } else if constexpr (kStage == DwStage::kTfliteShortRelu) {
    // Negative x: the exact result and this one are both <= 0, so both clamp to act_min.
    const __m256i m = Ld(f + kDwMult * 8), mo = Ld(f + kDwMultOdd * 8), sh = Ld(f + kDwSShift * 8);
    const __m256i kpe = Ld(f + kDwSKPosEven * 8), kpo = Ld(f + kDwSKPosOdd * 8);
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) acc[p] = avx2::ShortRelu(acc[p], m, mo, kpe, kpo, sh);
  } else if constexpr (kStage == DwStage::kTfliteShort) {
    const __m256i m = Ld(f + kDwMult * 8), mo = Ld(f + kDwMultOdd * 8), sh = Ld(f + kDwSShift * 8);
    const __m256d kpe = _mm256_castsi256_pd(Ld(f + kDwSKPosEven * 8));
    const __m256d kne = _mm256_castsi256_pd(Ld(f + kDwSKNegEven * 8));
    const __m256d kpo = _mm256_castsi256_pd(Ld(f + kDwSKPosOdd * 8));
    const __m256d kno = _mm256_castsi256_pd(Ld(f + kDwSKNegOdd * 8));
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      const __m256i x = acc[p];
      __m256i pe = _mm256_mul_epi32(x, m);
      __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), mo);
      pe = _mm256_add_epi64(pe, _mm256_castpd_si256(_mm256_blendv_pd(kpe, kne, _mm256_castsi256_pd(pe))));
      po = _mm256_add_epi64(po, _mm256_castpd_si256(_mm256_blendv_pd(kpo, kno, _mm256_castsi256_pd(po))));
      acc[p] = _mm256_srav_epi32(_mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA), sh);
    }
  } else if constexpr (kStage == DwStage::kXnnpack) {
    const __m256i off = Ld(f + kDwOffset * 8);
    const __m256 scale = _mm256_castsi256_ps(Ld(f + kDwScale * 8));
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) acc[p] = _mm256_add_epi32(avx2::RequantFp32(acc[p], scale), off);
  } else if constexpr (kStage == DwStage::kXnnpackInRange) {
    // Every scale < 1: float(acc) rounds to at most 2^31, times a scale <= 1 - 2^-24 stays below
    // 2^31, so vcvtps2dq cannot overflow and RequantFp32's fix-up is not needed. The zero point is
    // added after the int16 pack (Pixels, kZ16).
    const __m256 scale = _mm256_castsi256_ps(Ld(f + kDwScale * 8));
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) acc[p] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[p]), scale));
  } else {
    constexpr bool kLeft = kStage == DwStage::kTfliteLeft;
    const __m256i off = Ld(f + kDwOffset * 8);
    const __m256i m = Ld(f + kDwMult * 8), mo = Ld(f + kDwMultOdd * 8);
    const __m256d kpe = _mm256_castsi256_pd(Ld(f + kDwKPosEven * 8));
    const __m256d kne = _mm256_castsi256_pd(Ld(f + kDwKNegEven * 8));
    const __m256d kpo = _mm256_castsi256_pd(Ld(f + kDwKPosOdd * 8));
    const __m256d kno = _mm256_castsi256_pd(Ld(f + kDwKNegOdd * 8));
    const __m256i she = Ld(f + kDwShiftEven * 8), sho = Ld(f + kDwShiftOdd * 8);
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      __m256i x = acc[p];
      if (kLeft) x = _mm256_sllv_epi32(x, Ld(f + kDwLeft * 8));
      acc[p] = _mm256_add_epi32(avx2::Floor64Div(x, m, mo, kpe, kne, kpo, kno, she, sho), off);
    }
  }
}

#if defined(QAT_DW_ZMM) && !defined(QAT_DW_YMM_STAGE)
#define QAT_DW_ZMM_STAGE 1
// Field `field` of both halves as one zmm (half 0 in the low 256 bits, as the accumulator).
inline __m512i Join(const int32_t* f, int field) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(Ld(f + field * 8)), Ld(f + (kDwFields + field) * 8), 1);
}

// RequantHalf on whole accumulators (both halves at once): the same arithmetic lane by lane, with
// the sign-chosen constants picked by vpmovq2m + a masked blend instead of vblendvpd.
template <int P, DwStage kStage>
inline void RequantZ(__m512i* acc, const int32_t* f) {
  if constexpr (kStage == DwStage::kTfliteShortReluFma) {
    const __m512 scale = _mm512_castsi512_ps(Join(f, kDwFmaScale));
    const __m512 offset = _mm512_castsi512_ps(Join(f, kDwFmaOffset));
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) acc[p] = _mm512_cvtps_epi32(_mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[p]), scale, offset));
  } else if constexpr (kStage == DwStage::kTfliteShortRelu) {
    const __m512i m = Join(f, kDwMult), mo = Join(f, kDwMultOdd), sh = Join(f, kDwSShift);
    const __m512i kpe = Join(f, kDwSKPosEven), kpo = Join(f, kDwSKPosOdd);
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      const __m512i x = acc[p];
      const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x, m), kpe);
      const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), mo), kpo);
      acc[p] = _mm512_srav_epi32(_mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po), sh);
    }
  } else if constexpr (kStage == DwStage::kTfliteShort) {
    const __m512i m = Join(f, kDwMult), mo = Join(f, kDwMultOdd), sh = Join(f, kDwSShift);
    const __m512i kpe = Join(f, kDwSKPosEven), kne = Join(f, kDwSKNegEven);
    const __m512i kpo = Join(f, kDwSKPosOdd), kno = Join(f, kDwSKNegOdd);
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      const __m512i x = acc[p];
      __m512i pe = _mm512_mul_epi32(x, m);
      __m512i po = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), mo);
      pe = _mm512_add_epi64(pe, _mm512_mask_blend_epi64(_mm512_movepi64_mask(pe), kpe, kne));
      po = _mm512_add_epi64(po, _mm512_mask_blend_epi64(_mm512_movepi64_mask(po), kpo, kno));
      acc[p] = _mm512_srav_epi32(_mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po), sh);
    }
  } else if constexpr (kStage == DwStage::kXnnpack) {
    const __m512i off = Join(f, kDwOffset);
    const __m512 scale = _mm512_castsi512_ps(Join(f, kDwScale));
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      const __m512 v = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[p]), scale);
      const __mmask16 big = _mm512_cmp_ps_mask(v, _mm512_set1_ps(2147483648.f), _CMP_GE_OQ);
      acc[p] = _mm512_add_epi32(_mm512_mask_mov_epi32(_mm512_cvtps_epi32(v), big, _mm512_set1_epi32(INT32_MAX)), off);
    }
  } else if constexpr (kStage == DwStage::kXnnpackInRange) {
    const __m512 scale = _mm512_castsi512_ps(Join(f, kDwScale));
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) acc[p] = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(acc[p]), scale));
  } else {
    constexpr bool kLeft = kStage == DwStage::kTfliteLeft;
    const __m512i off = Join(f, kDwOffset);
    const __m512i m = Join(f, kDwMult), mo = Join(f, kDwMultOdd);
    const __m512i kpe = Join(f, kDwKPosEven), kne = Join(f, kDwKNegEven);
    const __m512i kpo = Join(f, kDwKPosOdd), kno = Join(f, kDwKNegOdd);
    const __m512i she = Join(f, kDwShiftEven), sho = Join(f, kDwShiftOdd);
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      __m512i x = acc[p];
      if (kLeft) x = _mm512_sllv_epi32(x, Join(f, kDwLeft));
      __m512i pe = _mm512_mul_epi32(x, m);
      __m512i po = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), mo);
      pe = _mm512_add_epi64(pe, _mm512_mask_blend_epi64(_mm512_movepi64_mask(pe), kpe, kne));
      po = _mm512_add_epi64(po, _mm512_mask_blend_epi64(_mm512_movepi64_mask(po), kpo, kno));
      pe = _mm512_srlv_epi64(pe, she);
      po = _mm512_srlv_epi64(po, sho);
      acc[p] = _mm512_add_epi32(_mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32)), off);
    }
  }
}
#endif

// kZ16: the stage left the zero point out; z16 (16 x int16) is added with int16 saturation after
// the first pack. Saturating early cannot change a result: [act_min, act_max] lies inside the output
// type and |Z_out| <= 255, so a value that saturates in int16 (|v| >= 32767) clamps to the same
// bound as its exact v + Z_out would (|v + Z_out| >= 32512).
template <bool kU8, bool kZ16>
inline void PackStore(__m256i vl, __m256i vh, __m128i amin, __m128i amax, __m256i z16, uint8_t* out, int n) {
  __m256i w = _mm256_packs_epi32(vl, vh);  // channels 0-7 | 8-15 as int16
  if constexpr (kZ16) w = _mm256_adds_epi16(w, z16);
  const __m128i a = _mm256_castsi256_si128(w), b = _mm256_extracti128_si256(w, 1);
  __m128i r;
  if constexpr (kU8)
    r = _mm_min_epu8(_mm_max_epu8(_mm_packus_epi16(a, b), amin), amax);
  else
    r = _mm_min_epi8(_mm_max_epi8(_mm_packs_epi16(a, b), amin), amax);
  if (n == 16) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), r);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(tmp), r);
    std::memcpy(out, tmp, n);
  }
}

// Two pixels at once (all 16 channels): one vpacksswb, a vpermq and one 32-byte clamp for both.
template <bool kU8, bool kZ16>
inline void PackStore2(__m256i l0, __m256i h0, __m256i l1, __m256i h1, __m256i amin, __m256i amax, __m256i z16,
                       uint8_t* out0, uint8_t* out1) {
  __m256i a = _mm256_packs_epi32(l0, h0), b = _mm256_packs_epi32(l1, h1);  // pixel 0 | pixel 1 as int16
  if constexpr (kZ16) {
    a = _mm256_adds_epi16(a, z16);
    b = _mm256_adds_epi16(b, z16);
  }
  __m256i r = kU8 ? _mm256_packus_epi16(a, b) : _mm256_packs_epi16(a, b);     // p0 0-7, p1 0-7 | p0 8-15, p1 8-15
  r = _mm256_permute4x64_epi64(r, 0xD8);
  r = kU8 ? _mm256_min_epu8(_mm256_max_epu8(r, amin), amax) : _mm256_min_epi8(_mm256_max_epi8(r, amin), amax);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out0), _mm256_castsi256_si128(r));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(out1), _mm256_extracti128_si256(r, 1));
}

// P output pixels (ox .. ox + P - 1) of one block. kTaps: the pair tap count, or 0 (run time).
template <int P, int kTaps, bool kU8, DwStage kStage>
__attribute__((always_inline)) inline void Pixels(const DepthwiseRowArgs& a, int64_t x0, const int16_t* w, const int32_t* prm, __m256i amin,
                   __m256i amax, uint8_t* out, int n) {
  const int nt = kTaps ? kTaps : a.taps_n;
  const int16_t* const* taps = a.taps;
  __m256i lo[P], hi[P];
  const __m256i b_lo = Ld(prm + kDwBias * 8), b_hi = Ld(prm + (kDwFields + kDwBias) * 8);
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) {
    lo[p] = b_lo;
    hi[p] = b_hi;
  }
  const int64_t step = a.pixel_step;
#if defined(QAT_DW_ZMM)
  __m512i acc[P];
  const __m512i bias = _mm512_inserti64x4(_mm512_castsi256_si512(b_lo), b_hi, 1);
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) acc[p] = bias;
#pragma GCC unroll 16
  for (int t = 0; t < nt; ++t, w += 32) {
    const __m512i wz = _mm512_loadu_si512(w);
    const int16_t* x = taps[t] + x0;
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      acc[p] = _mm512_dpwssd_epi32(acc[p], _mm512_loadu_si512(x + p * step), wz);
#if !defined(QAT_DW_DPWSSD_EMULATED)
      asm("" : "+v"(acc[p]));  // as Pin: no reassociated sums
#endif
    }
  }
#if defined(QAT_DW_ZMM_STAGE)
  RequantZ<P, kStage>(acc, prm);
#endif
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) {
    lo[p] = _mm512_castsi512_si256(acc[p]);
    hi[p] = _mm512_extracti64x4_epi64(acc[p], 1);
  }
#else
#pragma GCC unroll 16
  for (int t = 0; t < nt; ++t, w += 32) {
    const __m256i wl = _mm256_load_si256(reinterpret_cast<const __m256i*>(w));
    const __m256i wh = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 16));
    const int16_t* x = taps[t] + x0;
#pragma GCC unroll 4
    for (int p = 0; p < P; ++p) {
      lo[p] = _mm256_add_epi32(lo[p], _mm256_madd_epi16(Ld16a(x + p * step), wl));
      hi[p] = _mm256_add_epi32(hi[p], _mm256_madd_epi16(Ld16a(x + p * step + 16), wh));
      Pin(lo[p]);
      Pin(hi[p]);
    }
  }
#endif
#if !defined(QAT_DW_ZMM_STAGE)
  RequantHalf<P, kStage>(lo, prm);
  RequantHalf<P, kStage>(hi, prm + kDwFields * 8);
#endif
  // kZ16: the zero point in int16 after the first pack (vpackssdw order: channels 0-3 8-11 4-7 12-15);
  // the FMA form's Z_out + centre per channel (|z| <= 447: the saturation argument of PackStore holds).
  constexpr bool kZ16 = kStage == DwStage::kXnnpackInRange || kStage == DwStage::kTfliteShortReluFma;
  const __m256i z16 = kStage == DwStage::kTfliteShortReluFma
                          ? _mm256_packs_epi32(Ld(prm + kDwFmaZero * 8), Ld(prm + (kDwFields + kDwFmaZero) * 8))
                      : kZ16 ? _mm256_set1_epi16((short)prm[kDwOffset * 8])
                             : _mm256_setzero_si256();
  const int64_t os = a.out_pixel_stride;
  if (P % 2 == 0 && n == 16) {
#pragma GCC unroll 4
    for (int p = 0; p + 1 < P; p += 2)
      PackStore2<kU8, kZ16>(lo[p], hi[p], lo[p + 1], hi[p + 1], amin, amax, z16, out + p * os, out + (p + 1) * os);
    return;
  }
  const __m128i amin4 = _mm256_castsi256_si128(amin), amax4 = _mm256_castsi256_si128(amax);
#pragma GCC unroll 4
  for (int p = 0; p < P; ++p) PackStore<kU8, kZ16>(lo[p], hi[p], amin4, amax4, z16, out + p * os, n);
}

// One 16-channel block of the row.
template <int kTaps, bool kU8, DwStage kStage>
void Block(const DepthwiseRowArgs& a, int blk, __m256i amin, __m256i amax) {
  const int nt = kTaps ? kTaps : a.taps_n;
  const int n = blk == a.blocks - 1 ? a.tail : 16;
  const int16_t* w = a.weights + (int64_t)blk * nt * 32;
  const int32_t* prm = a.params + (int64_t)blk * 2 * kDwFields * 8;
  const int64_t xb = blk * a.block_step;
  uint8_t* out = a.output + blk * 16;
  int ox = 0;
  for (; ox + 4 <= a.ow; ox += 4)
    Pixels<4, kTaps, kU8, kStage>(a, xb + ox * a.pixel_step, w, prm, amin, amax, out + ox * a.out_pixel_stride, n);
  const int64_t x = xb + ox * a.pixel_step;
  uint8_t* o = out + ox * a.out_pixel_stride;
  switch (a.ow - ox) {  // the last 1-3 pixels in one group
    case 3: Pixels<3, kTaps, kU8, kStage>(a, x, w, prm, amin, amax, o, n); break;
    case 2: Pixels<2, kTaps, kU8, kStage>(a, x, w, prm, amin, amax, o, n); break;
    case 1: Pixels<1, kTaps, kU8, kStage>(a, x, w, prm, amin, amax, o, n); break;
    default: break;
  }
}

template <int kTaps, bool kU8, DwStage kStage>
void Row(const DepthwiseRowArgs& a) {
  const __m256i amin = _mm256_set1_epi8((char)a.act_min), amax = _mm256_set1_epi8((char)a.act_max);
  for (int blk = 0; blk < a.blocks; ++blk) {
    // kTfliteShortReluFma: the FMA form where the block has it, else the short ReLU stage.
    if constexpr (kStage == DwStage::kTfliteShortReluFma) {
      if (!DepthwiseBlockHasFma(a.params + (int64_t)blk * 2 * kDwFields * 8)) {
        Block<kTaps, kU8, DwStage::kTfliteShortRelu>(a, blk, amin, amax);
        continue;
      }
    }
    Block<kTaps, kU8, kStage>(a, blk, amin, amax);
  }
}

template <bool kU8, DwStage kStage>
void RowTaps(const DepthwiseRowArgs& a) {
  switch (a.taps_n) {
    case 6: return Row<6, kU8, kStage>(a);    // 3x3
    case 15: return Row<15, kU8, kStage>(a);  // 5x5
    default: return Row<0, kU8, kStage>(a);
  }
}

template <bool kU8>
void RowType(const DepthwiseRowArgs& a) {
  switch (a.stage) {
    case DwStage::kTfliteShort: return RowTaps<kU8, DwStage::kTfliteShort>(a);
    case DwStage::kTfliteShortRelu: return RowTaps<kU8, DwStage::kTfliteShortRelu>(a);
    case DwStage::kTfliteShortReluFma: return RowTaps<kU8, DwStage::kTfliteShortReluFma>(a);
    case DwStage::kTflite: return RowTaps<kU8, DwStage::kTflite>(a);
    case DwStage::kTfliteLeft: return RowTaps<kU8, DwStage::kTfliteLeft>(a);
    case DwStage::kXnnpack: return RowTaps<kU8, DwStage::kXnnpack>(a);
    case DwStage::kXnnpackInRange: return RowTaps<kU8, DwStage::kXnnpackInRange>(a);
  }
}

template <bool kU8>
inline __m256i Widen16(const void* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return kU8 ? _mm256_cvtepu8_epi16(v) : _mm256_cvtepi8_epi16(v);
}

template <bool kU8>
void PairRow(const void* a, const void* b, int16_t z, int pixels, int64_t src_stride, int channels, int blocks,
             int64_t block_step, int16_t* dst) {
  using T = std::conditional_t<kU8, uint8_t, int8_t>;
  const T* sa = static_cast<const T*>(a);
  const T* sb = static_cast<const T*>(b);
  const int full = channels / 16, rem = channels % 16;
  const __m256i zv = _mm256_set1_epi16(z);
  alignas(32) T ta[16] = {}, tb[16] = {};
  for (int px = 0; px < pixels; ++px) {
    int16_t* d = dst + (int64_t)px * 32;
    const int64_t o = (int64_t)px * src_stride;
    for (int blk = 0; blk < full; ++blk, d += block_step) {
      const __m256i xa = sa ? Widen16<kU8>(sa + o + blk * 16) : zv;
      const __m256i xb = sb ? Widen16<kU8>(sb + o + blk * 16) : zv;
      _mm256_store_si256(reinterpret_cast<__m256i*>(d), _mm256_unpacklo_epi16(xa, xb));
      _mm256_store_si256(reinterpret_cast<__m256i*>(d + 16), _mm256_unpackhi_epi16(xa, xb));
    }
    if (rem) {
      if (sa) std::memcpy(ta, sa + o + full * 16, rem);
      if (sb) std::memcpy(tb, sb + o + full * 16, rem);
      const __m256i xa = sa ? Widen16<kU8>(ta) : zv;
      const __m256i xb = sb ? Widen16<kU8>(tb) : zv;
      _mm256_store_si256(reinterpret_cast<__m256i*>(d), _mm256_unpacklo_epi16(xa, xb));
      _mm256_store_si256(reinterpret_cast<__m256i*>(d + 16), _mm256_unpackhi_epi16(xa, xb));
      d += block_step;
    }
    for (int blk = full + (rem ? 1 : 0); blk < blocks; ++blk, d += block_step) {
      _mm256_store_si256(reinterpret_cast<__m256i*>(d), _mm256_setzero_si256());
      _mm256_store_si256(reinterpret_cast<__m256i*>(d + 16), _mm256_setzero_si256());
    }
  }
}

}  // namespace

void DepthwiseRowAvx2(const DepthwiseRowArgs& a) {
  if (a.is_uint8)
    RowType<true>(a);
  else
    RowType<false>(a);
}

void DepthwisePairRowAvx2(const void* a, const void* b, int16_t z, bool is_uint8, int pixels, int64_t src_stride,
                          int channels, int blocks, int64_t block_step, int16_t* dst) {
  if (is_uint8)
    PairRow<true>(a, b, z, pixels, src_stride, channels, blocks, block_step, dst);
  else
    PairRow<false>(a, b, z, pixels, src_stride, channels, blocks, block_step, dst);
}

}  // namespace qat::kernels::x86 (::dpwssd, ::dpwssd_ymm_stage, ::dpwssd_emulated)
