// AVX2 row kernel of the optimised DEPTHWISE_CONV_2D (see kernels/optimized/depthwise_conv.h).
// Per output pixel the taps inside the input are listed once; then for each block of 8 channels:
// widen 8 input bytes to int32 (vpmovsxbd / vpmovzxbd), add the input offset, vpmulld by the
// int32 weights, accumulate; the vector output stage requantizes, clamps and stores 8 bytes.
// |w| <= 255 and |x + offset| <= 255, so every product and the window sum are exact in int32.
#include <immintrin.h>

#include "kernels/x86/int8_common_avx2.h"
#include "kernels/x86/int8_x86.h"

namespace qat::kernels::x86 {

using namespace avx2;

namespace {
template <bool kU8>
void Row(const DepthwiseRow& r, int c8) {
  const uint8_t* in = static_cast<const uint8_t*>(r.input);
  const int C = r.channels;
  const __m256i offset = _mm256_set1_epi32(r.input_offset);
  int64_t in_off[kDepthwiseMaxTaps];
  const int32_t* tap_w[kDepthwiseMaxTaps];
  for (int ox = 0; ox < r.ow; ++ox) {
    const int iy0 = r.oy * r.stride_h - r.pad_top, ix0 = ox * r.stride_w - r.pad_left;
    uint8_t* out = r.output + (int64_t)ox * C;
    // The taps inside the input, listed once per pixel (the caller guarantees <= kDepthwiseMaxTaps).
    int n = 0;
    for (int fy = 0; fy < r.filter_h; ++fy) {
      const int iy = iy0 + fy * r.dilation_h;
      if (iy < 0 || iy >= r.input_h) continue;
      for (int fx = 0; fx < r.filter_w; ++fx) {
        const int ix = ix0 + fx * r.dilation_w;
        if (ix < 0 || ix >= r.input_w) continue;
        in_off[n] = ((int64_t)iy * r.input_w + ix) * C;
        tap_w[n] = r.weights + (int64_t)(fy * r.filter_w + fx) * r.c_pad;
        ++n;
      }
    }
    for (int c = 0; c < c8; c += 8) {
      __m256i acc = _mm256_setzero_si256();
      for (int t = 0; t < n; ++t) {
        const __m128i bytes = _mm_loadl_epi64((const __m128i*)(in + in_off[t] + c));
        __m256i x = kU8 ? _mm256_cvtepu8_epi32(bytes) : _mm256_cvtepi8_epi32(bytes);
        x = _mm256_add_epi32(x, offset);
        acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(x, _mm256_load_si256((const __m256i*)(tap_w[t] + c))));
      }
      __m256i v = OutputStage8(acc, r.os, c);
      __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
      _mm_storel_epi64((__m128i*)(out + c), kU8 ? _mm_packus_epi16(w16, w16) : _mm_packs_epi16(w16, w16));
    }
  }
}
}  // namespace

void DepthwiseRowAvx2(const DepthwiseRow& r, int c8) {
  if (r.is_uint8)
    Row<true>(r, c8);
  else
    Row<false>(r, c8);
}

}  // namespace qat::kernels::x86
