// AVX2 micro-kernel of the optimised DEPTHWISE_CONV_2D (see kernels/optimized/depthwise_conv.h
// and depthwise_x86.h for the layouts). For one output row: for each block of 16 channels, for
// 4 output pixels at a time, the accumulators start at the folded bias and each pair of filter
// taps costs two 32-byte loads, two vpunpck{l,h}wd and two vpmaddwd + vpaddd (32 exact
// multiply-adds); the block's weights and output-stage parameters are loaded once for the 4
// pixels. (Storing the rows pre-interleaved as tap pairs removes the unpacks but doubles the
// bytes read per tap, and measured slower.)
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
//  - kXnnpack: float(acc) * scale rounded to nearest even (RequantFp32).
//  Then + zero point in int32 (wrapping, as the reference), vpackssdw / vpacksswb (or vpackuswb)
//  saturate toward the output type, and the clamp runs on 16 bytes. The saturations cannot change
//  the result: [act_min, act_max] lies inside the type's range.
#include "kernels/x86/depthwise_x86.h"

#include <immintrin.h>

#include <cstring>
#include <type_traits>

#include "kernels/x86/int8_common_avx2.h"

namespace qat::kernels::x86 {

namespace {

inline __m256i Ld(const int32_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256i Ld16(const int16_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Requantizes P accumulators of one 8-lane half in place (parameters loaded once), + zero point.
template <int P, RequantMode kMode, bool kLeft>
inline void RequantHalf(__m256i* acc, const int32_t* f) {
  const __m256i off = Ld(f + kDwOffset * 8);
  if constexpr (kMode == RequantMode::kTflite) {
    const __m256i m = Ld(f + kDwMult * 8), mo = Ld(f + kDwMultOdd * 8);
    const __m256d kpe = _mm256_castsi256_pd(Ld(f + kDwKPosEven * 8));
    const __m256d kne = _mm256_castsi256_pd(Ld(f + kDwKNegEven * 8));
    const __m256d kpo = _mm256_castsi256_pd(Ld(f + kDwKPosOdd * 8));
    const __m256d kno = _mm256_castsi256_pd(Ld(f + kDwKNegOdd * 8));
    const __m256i she = Ld(f + kDwShiftEven * 8), sho = Ld(f + kDwShiftOdd * 8);
    for (int p = 0; p < P; ++p) {
      __m256i x = acc[p];
      if (kLeft) x = _mm256_sllv_epi32(x, Ld(f + kDwLeft * 8));
      __m256i pe = _mm256_mul_epi32(x, m);
      __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), mo);
      pe = _mm256_add_epi64(pe, _mm256_castpd_si256(_mm256_blendv_pd(kpe, kne, _mm256_castsi256_pd(pe))));
      po = _mm256_add_epi64(po, _mm256_castpd_si256(_mm256_blendv_pd(kpo, kno, _mm256_castsi256_pd(po))));
      pe = _mm256_srlv_epi64(pe, she);
      po = _mm256_srlv_epi64(po, sho);
      acc[p] = _mm256_add_epi32(_mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA), off);
    }
  } else {
    const __m256 scale = _mm256_castsi256_ps(Ld(f + kDwScale * 8));
    for (int p = 0; p < P; ++p) acc[p] = _mm256_add_epi32(avx2::RequantFp32(acc[p], scale), off);
  }
}

template <bool kU8>
inline void PackStore(__m256i vl, __m256i vh, __m128i amin, __m128i amax, uint8_t* out, int n) {
  const __m256i w = _mm256_packs_epi32(vl, vh);  // channels 0-7 | 8-15 as int16
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

// P output pixels (ox .. ox + P - 1) of one block. kTaps: the tap count, or 0 (run time).
template <int P, int kTaps, bool kU8, RequantMode kMode, bool kLeft>
inline void Pixels(const DepthwiseRowArgs& a, int64_t x0, const int16_t* w,
                   const int32_t* prm, __m128i amin, __m128i amax, uint8_t* out, int n) {
  const int nt = kTaps ? kTaps : a.taps_n;
  const int16_t* const* taps = a.taps;
  __m256i lo[P], hi[P];
  const __m256i b_lo = Ld(prm + kDwBias * 8), b_hi = Ld(prm + (kDwFields + kDwBias) * 8);
  for (int p = 0; p < P; ++p) {
    lo[p] = b_lo;
    hi[p] = b_hi;
  }
  const int64_t step = a.pixel_step;
  int t = 0;
  for (; t + 1 < nt; t += 2, w += 32) {
    const __m256i wl = _mm256_load_si256(reinterpret_cast<const __m256i*>(w));
    const __m256i wh = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 16));
    const int16_t* ta = taps[t] + x0;
    const int16_t* tb = taps[t + 1] + x0;
    for (int p = 0; p < P; ++p) {
      const __m256i xa = Ld16(ta + p * step), xb = Ld16(tb + p * step);
      lo[p] = _mm256_add_epi32(lo[p], _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb), wl));
      hi[p] = _mm256_add_epi32(hi[p], _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb), wh));
    }
  }
  if (t < nt) {  // odd last tap, paired with zeros
    const __m256i wl = _mm256_load_si256(reinterpret_cast<const __m256i*>(w));
    const __m256i wh = _mm256_load_si256(reinterpret_cast<const __m256i*>(w + 16));
    const int16_t* ta = taps[t] + x0;
    const __m256i z = _mm256_setzero_si256();
    for (int p = 0; p < P; ++p) {
      const __m256i xa = Ld16(ta + p * step);
      lo[p] = _mm256_add_epi32(lo[p], _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, z), wl));
      hi[p] = _mm256_add_epi32(hi[p], _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, z), wh));
    }
  }
  RequantHalf<P, kMode, kLeft>(lo, prm);
  RequantHalf<P, kMode, kLeft>(hi, prm + kDwFields * 8);
  for (int p = 0; p < P; ++p) PackStore<kU8>(lo[p], hi[p], amin, amax, out + p * a.out_pixel_stride, n);
}

template <int kTaps, bool kU8, RequantMode kMode, bool kLeft>
void Row(const DepthwiseRowArgs& a) {
  const int pairs = (a.taps_n + 1) / 2;
  const __m128i amin = _mm_set1_epi8((char)a.act_min), amax = _mm_set1_epi8((char)a.act_max);
  for (int blk = 0; blk < a.blocks; ++blk) {
    const int n = blk == a.blocks - 1 ? a.tail : 16;
    const int16_t* w = a.weights + (int64_t)blk * pairs * 32;
    const int32_t* prm = a.params + (int64_t)blk * 2 * kDwFields * 8;
    const int64_t xb = blk * a.block_step;
    uint8_t* out = a.output + blk * 16;
    int ox = 0;
    for (; ox + 4 <= a.ow; ox += 4)
      Pixels<4, kTaps, kU8, kMode, kLeft>(a, xb + ox * a.pixel_step, w, prm, amin, amax,
                                          out + ox * a.out_pixel_stride, n);
    for (; ox < a.ow; ++ox)
      Pixels<1, kTaps, kU8, kMode, kLeft>(a, xb + ox * a.pixel_step, w, prm, amin, amax,
                                          out + ox * a.out_pixel_stride, n);
  }
}

template <bool kU8, RequantMode kMode, bool kLeft>
void RowTaps(const DepthwiseRowArgs& a) {
  switch (a.taps_n) {
    case 9: return Row<9, kU8, kMode, kLeft>(a);
    case 25: return Row<25, kU8, kMode, kLeft>(a);
    default: return Row<0, kU8, kMode, kLeft>(a);
  }
}

template <bool kU8>
void RowType(const DepthwiseRowArgs& a) {
  if (a.mode == RequantMode::kXnnpack) return RowTaps<kU8, RequantMode::kXnnpack, false>(a);
  if (a.any_left) return RowTaps<kU8, RequantMode::kTflite, true>(a);
  return RowTaps<kU8, RequantMode::kTflite, false>(a);
}

template <bool kU8>
void Widen(const void* src, int pixels, int64_t src_stride, int channels, int blocks, int64_t block_step,
           int16_t* dst) {
  using T = std::conditional_t<kU8, uint8_t, int8_t>;
  const T* s = static_cast<const T*>(src);
  const int full = channels / 16;
  for (int px = 0; px < pixels; ++px, s += src_stride) {
    int16_t* d = dst + px * 16;
    for (int blk = 0; blk < full; ++blk) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + blk * 16));
      const __m256i x = kU8 ? _mm256_cvtepu8_epi16(v) : _mm256_cvtepi8_epi16(v);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + blk * block_step), x);
    }
    for (int blk = full; blk < blocks; ++blk) {
      int16_t* db = d + blk * block_step;
      for (int i = 0; i < 16; ++i) {
        const int c = blk * 16 + i;
        db[i] = c < channels ? (int16_t)s[c] : 0;
      }
    }
  }
}

}  // namespace

void DepthwisePairRowAvx2(const int16_t* flat, int64_t block_step_in, int blocks, int entries, int g, int dw,
                          int16_t* dst, int64_t block_step_out) {
  for (int blk = 0; blk < blocks; ++blk) {
    const int16_t* f = flat + blk * block_step_in;
    int16_t* d = dst + blk * block_step_out;
    for (int e = 0; e < entries; ++e, d += 32) {
      const __m256i xa = Ld16(f + (int64_t)e * g * 16), xb = Ld16(f + ((int64_t)e * g + dw) * 16);
      _mm256_store_si256(reinterpret_cast<__m256i*>(d), _mm256_unpacklo_epi16(xa, xb));
      _mm256_store_si256(reinterpret_cast<__m256i*>(d + 16), _mm256_unpackhi_epi16(xa, xb));
    }
  }
}

void DepthwiseRowAvx2(const DepthwiseRowArgs& a) {
  if (a.is_uint8)
    RowType<true>(a);
  else
    RowType<false>(a);
}

void DepthwiseWidenAvx2(const void* src, bool is_uint8, int pixels, int64_t src_stride, int channels, int blocks,
                        int64_t block_step, int16_t* dst) {
  if (is_uint8)
    Widen<true>(src, pixels, src_stride, channels, blocks, block_step, dst);
  else
    Widen<false>(src, pixels, src_stride, channels, blocks, block_step, dst);
}

}  // namespace qat::kernels::x86
