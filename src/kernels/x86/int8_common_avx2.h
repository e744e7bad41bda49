// AVX2 helpers shared by the *_avx2.cpp integer kernels: the vectorised output stage. Include only
// from translation units compiled with -mavx2.
#pragma once
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/x86/int8_x86.h"

namespace qat::kernels::x86::avx2 {
// Internal linkage: translation units with different ISA flags include this header (the AVX-512
// VNNI one too), and an out-of-line copy of an inline function with external linkage may be
// merged by the linker with another TU's, whose instructions this CPU may not have.
namespace {

// TFLite's MultiplyByQuantizedMultiplier on 8 lanes, bit-exact with quant_math.h:
//  - x << left wraps like the scalar (uint32_t)x << left (vpsllvd);
//  - SaturatingRoundingDoublingHighMul(x, m) = trunc((x*m + nudge) / 2^31) equals
//    floor((x*m + 2^30) / 2^31) for both signs of x*m (for x*m < 0 the nudge 1 - 2^30 plus the
//    2^31 - 1 that turns truncation into flooring is again 2^30). The quotient fits in int32, so its
//    bits are bits 31..62 of the 64-bit sum, which logical shifts extract. The saturating case
//    (x == m == INT32_MIN) cannot occur: multipliers are in [0, 2^31);
//  - RoundingDivideByPOT: (x >> right) + (remainder > half + (x < 0)).
// mult_odd holds the odd lanes' multipliers in the even positions (or is mult >> 32 per qword).
inline __m256i RequantTflite(__m256i x, __m256i mult, __m256i mult_odd, __m256i left, bool any_left, __m256i right,
                             __m256i mask, __m256i half) {
  if (any_left) x = _mm256_sllv_epi32(x, left);
  const __m256i nudge = _mm256_set1_epi64x(1LL << 30);
  __m256i even = _mm256_add_epi64(_mm256_mul_epi32(x, mult), nudge);
  __m256i odd = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), mult_odd), nudge);
  __m256i h = _mm256_blend_epi32(_mm256_srli_epi64(even, 31), _mm256_slli_epi64(odd, 1), 0xAA);
  __m256i rem = _mm256_and_si256(h, mask);
  __m256i thr = _mm256_sub_epi32(half, _mm256_srai_epi32(h, 31));
  return _mm256_sub_epi32(_mm256_srav_epi32(h, right), _mm256_cmpgt_epi32(rem, thr));
}

// XNNPACK/MLAS fp32 requantization, bit-exact with RequantizeFp32: float(acc) * scale rounded to
// nearest even by vcvtps2dq (MXCSR default); products >= 2^31 saturate to INT32_MAX (vcvtps2dq
// would give INT32_MIN), products <= -2^31 already give INT32_MIN.
inline __m256i RequantFp32(__m256i x, __m256 scale) {
  __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(x), scale);
  __m256i r = _mm256_cvtps_epi32(f);
  __m256 big = _mm256_cmp_ps(f, _mm256_set1_ps(2147483648.f), _CMP_GE_OQ);
  return _mm256_blendv_epi8(r, _mm256_set1_epi32(INT32_MAX), _mm256_castps_si256(big));
}

// The kTflite stage's arithmetic cores shared by the GEMM tiles and the depthwise kernel (their
// derivations: gemm_avx2.cpp and depthwise_avx2.cpp; the constants come from their packers).
// The 64-bit floor division: 8 x int32 from (x * m + K) >> (31 + right) (logical), K chosen per
// lane by the product's sign (kpe / kne even lanes, kpo / kno odd), she / sho the shifts; the
// caller adds its zero point term.
inline __m256i Floor64Div(__m256i x, __m256i m, __m256i mo, __m256d kpe, __m256d kne, __m256d kpo, __m256d kno,
                          __m256i she, __m256i sho) {
  __m256i pe = _mm256_mul_epi32(x, m);
  __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), mo);
  pe = _mm256_add_epi64(pe, _mm256_castpd_si256(_mm256_blendv_pd(kpe, kne, _mm256_castsi256_pd(pe))));
  po = _mm256_add_epi64(po, _mm256_castpd_si256(_mm256_blendv_pd(kpo, kno, _mm256_castsi256_pd(po))));
  pe = _mm256_srlv_epi64(pe, she);
  po = _mm256_srlv_epi64(po, sho);
  return _mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA);
}
// The short ReLU form: the high halves of x * m + K (ke even lanes, ko odd; Z_out inside K),
// then >> (right - 1) per lane (sh).
inline __m256i ShortRelu(__m256i x, __m256i m, __m256i mo, __m256i ke, __m256i ko, __m256i sh) {
  const __m256i pe = _mm256_add_epi64(_mm256_mul_epi32(x, m), ke);
  const __m256i po = _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), mo), ko);
  return _mm256_srav_epi32(_mm256_blend_epi32(_mm256_srli_epi64(pe, 32), po, 0xAA), sh);
}
// Its exact FMA form (optimized/fma_stage.h): the level minus the pair's centre.
inline __m256i FmaRound(__m256i x, __m256 scale, __m256 offset) {
  return _mm256_cvtps_epi32(_mm256_fmadd_ps(_mm256_cvtepi32_ps(x), scale, offset));
}

// Requant + output zero point + clamp for 8 channels starting at channel c of os (bias already in acc).
inline __m256i Requant8(__m256i acc, const GemmOutput& os, int c) {
  __m256i v;
  if (os.mode == RequantMode::kTflite) {
    v = RequantTflite(acc, _mm256_loadu_si256((const __m256i*)(os.multiplier + c)),
                      _mm256_loadu_si256((const __m256i*)(os.multiplier_odd + c)),
                      _mm256_loadu_si256((const __m256i*)(os.left + c)), os.any_left,
                      _mm256_loadu_si256((const __m256i*)(os.right + c)),
                      _mm256_loadu_si256((const __m256i*)(os.mask + c)),
                      _mm256_loadu_si256((const __m256i*)(os.half + c)));
  } else if (os.fp32_in_range) {
    v = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), _mm256_loadu_ps(os.scale + c)));
  } else {
    v = RequantFp32(acc, _mm256_loadu_ps(os.scale + c));
  }
  v = _mm256_add_epi32(v, _mm256_set1_epi32(os.output_offset));
  v = _mm256_max_epi32(v, _mm256_set1_epi32(os.act_min));
  return _mm256_min_epi32(v, _mm256_set1_epi32(os.act_max));
}

// bias + Requant8.
inline __m256i OutputStage8(__m256i acc, const GemmOutput& os, int c) {
  return Requant8(_mm256_add_epi32(acc, _mm256_loadu_si256((const __m256i*)(os.bias + c))), os, c);
}

// Packs 16 clamped int32 (lo: channels 0-7, hi: 8-15) to bytes. Values are already inside the
// output type's range, so the saturating packs do not change them.
inline __m128i PackBytes16(__m256i lo, __m256i hi, bool is_uint8) {
  __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(lo, hi), 0xD8);
  __m128i a = _mm256_castsi256_si128(w), b = _mm256_extracti128_si256(w, 1);
  return is_uint8 ? _mm_packus_epi16(a, b) : _mm_packs_epi16(a, b);
}

inline void StoreBytes(uint8_t* dst, __m128i v, int n) {
  if (n >= 16) {
    _mm_storeu_si128((__m128i*)dst, v);
  } else {
    alignas(16) uint8_t tmp[16];
    _mm_store_si128((__m128i*)tmp, v);
    std::memcpy(dst, tmp, n);
  }
}

}  // namespace
}  // namespace qat::kernels::x86::avx2
