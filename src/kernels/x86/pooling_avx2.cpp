// AVX2 rows of the optimised MAX_POOL_2D / AVERAGE_POOL_2D (see kernels/optimized/pooling.h).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/x86/int8_x86.h"

namespace qat::kernels::x86 {

namespace {
// The window of output pixel ox clipped to the input, as the reference computes it.
struct Window {
  int fy0, fy1, fx0, fx1, iy0, ix0;
};
inline Window Clip(const PoolRow& r, int ox) {
  Window w;
  w.iy0 = r.oy * r.stride_h - r.pad_top;
  w.ix0 = ox * r.stride_w - r.pad_left;
  w.fy0 = std::max(0, -w.iy0);
  w.fy1 = std::min(r.filter_h, r.input_h - w.iy0);
  w.fx0 = std::max(0, -w.ix0);
  w.fx1 = std::min(r.filter_w, r.input_w - w.ix0);
  return w;
}

template <bool kU8>
void MaxRow(const PoolRow& r) {
  const uint8_t* in = static_cast<const uint8_t*>(r.input);
  const int C = r.channels;
  const __m256i lo = kU8 ? _mm256_set1_epi8((char)(uint8_t)r.act_min) : _mm256_set1_epi8((char)(int8_t)r.act_min);
  const __m256i hi = kU8 ? _mm256_set1_epi8((char)(uint8_t)r.act_max) : _mm256_set1_epi8((char)(int8_t)r.act_max);
  for (int ox = 0; ox < r.ow; ++ox) {
    const Window w = Clip(r, ox);
    uint8_t* out = r.output + (int64_t)ox * C;
    int c = 0;
    for (; c + 32 <= C; c += 32) {
      // Start from the type's lowest value (an empty window gives it, then the clamp).
      __m256i v = kU8 ? _mm256_setzero_si256() : _mm256_set1_epi8((char)-128);
      for (int fy = w.fy0; fy < w.fy1; ++fy)
        for (int fx = w.fx0; fx < w.fx1; ++fx) {
          const __m256i x = _mm256_loadu_si256(
              (const __m256i*)(in + ((int64_t)(w.iy0 + fy) * r.input_w + w.ix0 + fx) * C + c));
          v = kU8 ? _mm256_max_epu8(v, x) : _mm256_max_epi8(v, x);
        }
      v = kU8 ? _mm256_min_epu8(_mm256_max_epu8(v, lo), hi) : _mm256_min_epi8(_mm256_max_epi8(v, lo), hi);
      _mm256_storeu_si256((__m256i*)(out + c), v);
    }
    for (; c < C; ++c) {
      int32_t v = kU8 ? 0 : -128;
      for (int fy = w.fy0; fy < w.fy1; ++fy)
        for (int fx = w.fx0; fx < w.fx1; ++fx) {
          const uint8_t* px = in + ((int64_t)(w.iy0 + fy) * r.input_w + w.ix0 + fx) * C;
          v = std::max(v, kU8 ? (int32_t)px[c] : (int32_t)(int8_t)px[c]);
        }
      v = std::min(std::max(v, r.act_min), r.act_max);
      out[c] = (uint8_t)v;
    }
  }
}

// The reference's rounding: int8 (sum +- count/2) / count truncated (half away from zero),
// uint8 (sum + count/2) / count.
inline int32_t RoundDiv(int32_t sum, int count, bool u8) {
  if (count <= 0) return 0;
  if (u8 || sum > 0) return (sum + count / 2) / count;
  return (sum - count / 2) / count;
}

template <bool kU8>
void AverageRow(const PoolRow& r) {
  const uint8_t* in = static_cast<const uint8_t*>(r.input);
  const int C = r.channels;
  const __m256i vmin = _mm256_set1_epi32(r.act_min), vmax = _mm256_set1_epi32(r.act_max);
  for (int ox = 0; ox < r.ow; ++ox) {
    const Window w = Clip(r, ox);
    const int count = std::max(0, w.fy1 - w.fy0) * std::max(0, w.fx1 - w.fx0);
    uint8_t* out = r.output + (int64_t)ox * C;
    int c = 0;
    if (count > 0) {
      const __m256d dcount = _mm256_set1_pd((double)count);
      const __m256i half = _mm256_set1_epi32(count / 2);
      for (; c + 8 <= C; c += 8) {
        __m256i sum = _mm256_setzero_si256();
        for (int fy = w.fy0; fy < w.fy1; ++fy)
          for (int fx = w.fx0; fx < w.fx1; ++fx) {
            const __m128i b = _mm_loadl_epi64(
                (const __m128i*)(in + ((int64_t)(w.iy0 + fy) * r.input_w + w.ix0 + fx) * C + c));
            sum = _mm256_add_epi32(sum, kU8 ? _mm256_cvtepu8_epi32(b) : _mm256_cvtepi8_epi32(b));
          }
        // n = sum + count/2 (sum > 0 or uint8) or sum - count/2; n / count truncated. The double
        // quotient is exact when integral and otherwise at least 1/count away from an integer.
        __m256i n;
        if (kU8) {
          n = _mm256_add_epi32(sum, half);
        } else {
          const __m256i pos = _mm256_cmpgt_epi32(sum, _mm256_setzero_si256());
          n = _mm256_blendv_epi8(_mm256_sub_epi32(sum, half), _mm256_add_epi32(sum, half), pos);
        }
        const __m128i q0 = _mm256_cvttpd_epi32(_mm256_div_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(n)), dcount));
        const __m128i q1 =
            _mm256_cvttpd_epi32(_mm256_div_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(n, 1)), dcount));
        __m256i q = _mm256_inserti128_si256(_mm256_castsi128_si256(q0), q1, 1);
        q = _mm256_min_epi32(_mm256_max_epi32(q, vmin), vmax);
        const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
        _mm_storel_epi64((__m128i*)(out + c), kU8 ? _mm_packus_epi16(w16, w16) : _mm_packs_epi16(w16, w16));
      }
    }
    for (; c < C; ++c) {
      int32_t sum = 0;
      for (int fy = w.fy0; fy < w.fy1; ++fy)
        for (int fx = w.fx0; fx < w.fx1; ++fx) {
          const uint8_t* px = in + ((int64_t)(w.iy0 + fy) * r.input_w + w.ix0 + fx) * C;
          sum += kU8 ? (int32_t)px[c] : (int32_t)(int8_t)px[c];
        }
      out[c] = (uint8_t)std::min(std::max(RoundDiv(sum, count, kU8), r.act_min), r.act_max);
    }
  }
}
// The float rows, 8 channels per vector, a masked tail. Max: _mm256_max_ps(x, v) is
// (x > v) ? x : v, i.e. std::max(v, x) (a NaN input is skipped, as in the reference). Clamp:
// _mm256_min_ps(hi, _mm256_max_ps(lo, v)) is std::min(std::max(v, lo), hi), NaN included.
inline __m256i FloatTailMask(int n) {
  alignas(32) static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + 8 - n));
}

template <bool kAverage>
void FloatRow(const PoolRow& r) {
  const float* in = static_cast<const float*>(r.input);
  float* outp = reinterpret_cast<float*>(r.output);
  const int C = r.channels;
  const __m256 lo = _mm256_set1_ps(r.float_min), hi = _mm256_set1_ps(r.float_max);
  const __m256i tail = FloatTailMask(C % 8);
  const __m256 start = kAverage ? _mm256_setzero_ps() : _mm256_set1_ps(std::numeric_limits<float>::lowest());
  for (int ox = 0; ox < r.ow; ++ox) {
    const Window w = Clip(r, ox);
    const int count = std::max(0, w.fy1 - w.fy0) * std::max(0, w.fx1 - w.fx0);
    const __m256 dcount = _mm256_set1_ps((float)count);
    float* out = outp + (int64_t)ox * C;
    // NV vectors of channels from c (the last one masked when kMasked), taps outermost.
    auto block = [&](auto nv, auto masked, int c) {
      constexpr int NV = decltype(nv)::value;
      constexpr bool kMasked = decltype(masked)::value;
      __m256 v[NV];
      for (int j = 0; j < NV; ++j) v[j] = start;
      for (int fy = w.fy0; fy < w.fy1; ++fy) {
        const float* row = in + ((int64_t)(w.iy0 + fy) * r.input_w + w.ix0) * C + c;
        for (int fx = w.fx0; fx < w.fx1; ++fx) {
          const float* px = row + (int64_t)fx * C;
          for (int j = 0; j < NV; ++j) {
            const __m256 x = kMasked && j == NV - 1 ? _mm256_maskload_ps(px + 8 * j, tail) : _mm256_loadu_ps(px + 8 * j);
            v[j] = kAverage ? _mm256_add_ps(v[j], x) : _mm256_max_ps(x, v[j]);
          }
        }
      }
      for (int j = 0; j < NV; ++j) {
        __m256 y = v[j];
        if (kAverage) y = count > 0 ? _mm256_div_ps(y, dcount) : _mm256_setzero_ps();
        y = _mm256_min_ps(hi, _mm256_max_ps(lo, y));
        if (kMasked && j == NV - 1)
          _mm256_maskstore_ps(out + c + 8 * j, tail, y);
        else
          _mm256_storeu_ps(out + c + 8 * j, y);
      }
    };
    using One = std::integral_constant<int, 1>;
    using Four = std::integral_constant<int, 4>;
    using Exact = std::false_type;
    using Masked = std::true_type;
    int c = 0;
    for (; c + 32 <= C; c += 32) block(Four{}, Exact{}, c);
    for (; c + 8 <= C; c += 8) block(One{}, Exact{}, c);
    if (c < C) block(One{}, Masked{}, c);
  }
}
}  // namespace

void MaxPoolFloatRowAvx2(const PoolRow& r) { FloatRow<false>(r); }
void AveragePoolFloatRowAvx2(const PoolRow& r) { FloatRow<true>(r); }

void MaxPoolRowAvx2(const PoolRow& r) {
  if (r.is_uint8)
    MaxRow<true>(r);
  else
    MaxRow<false>(r);
}

void AveragePoolRowAvx2(const PoolRow& r) {
  if (r.is_uint8)
    AverageRow<true>(r);
  else
    AverageRow<false>(r);
}

}  // namespace qat::kernels::x86
