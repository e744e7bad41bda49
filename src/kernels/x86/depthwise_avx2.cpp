// AVX2 row kernel of the optimised DEPTHWISE_CONV_2D (see kernels/optimized/depthwise_conv.h).
// Per output pixel the filter taps are listed once (a tap in the padding points at the Z_in row);
// then for each block of 16 channels and each pair of taps: widen both taps' 16 input bytes to
// int16 (vpmovsxbw / vpmovzxbw), interleave them (vpunpck{l,h}wd) and vpmaddwd with the
// interleaved weights: 32 exact multiply-adds in 2 instructions. The shared output stage then
// requantizes, clamps and stores 16 bytes.
#include <immintrin.h>

#include "kernels/x86/int8_common_avx2.h"
#include "kernels/x86/int8_x86.h"

namespace qat::kernels::x86 {

using namespace avx2;

namespace {
template <bool kU8>
inline __m256i Widen(const uint8_t* p) {
  const __m128i b = _mm_loadu_si128((const __m128i*)p);
  return kU8 ? _mm256_cvtepu8_epi16(b) : _mm256_cvtepi8_epi16(b);
}

template <bool kU8>
void Row(const DepthwiseRow& r, int c16) {
  const uint8_t* in = static_cast<const uint8_t*>(r.input);
  const uint8_t* zero = static_cast<const uint8_t*>(r.zero_row);
  const int C = r.channels;
  const int blocks = r.c_pad / 16;
  const uint8_t* tap[2 * kDepthwiseMaxTaps];
  const int taps = r.filter_h * r.filter_w;
  for (int ox = 0; ox < r.ow; ++ox) {
    const int iy0 = r.oy * r.stride_h - r.pad_top, ix0 = ox * r.stride_w - r.pad_left;
    uint8_t* out = r.output + (int64_t)ox * C;
    for (int fy = 0; fy < r.filter_h; ++fy) {
      const int iy = iy0 + fy * r.dilation_h;
      for (int fx = 0; fx < r.filter_w; ++fx) {
        const int ix = ix0 + fx * r.dilation_w;
        const bool inside = iy >= 0 && iy < r.input_h && ix >= 0 && ix < r.input_w;
        // The Z_in row is indexed by channel like a pixel, so both read [c, c + 16).
        tap[fy * r.filter_w + fx] = inside ? in + ((int64_t)iy * r.input_w + ix) * C : zero;
      }
    }
    if (taps & 1) tap[taps] = zero;  // weight 0
    for (int c = 0; c < c16; c += 16) {
      __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
      const int16_t* w = r.pairs + (int64_t)(c / 16) * 32;
      for (int t = 0; t < r.tap_pairs; ++t, w += (int64_t)blocks * 32) {
        const __m256i xa = Widen<kU8>(tap[2 * t] + c), xb = Widen<kU8>(tap[2 * t + 1] + c);
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(xa, xb), _mm256_load_si256((const __m256i*)w)));
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(xa, xb),
                                                     _mm256_load_si256((const __m256i*)(w + 16))));
      }
      // lo holds channels 0-3 | 8-11, hi 4-7 | 12-15: restore the natural order.
      const __m256i v0 = OutputStage8(_mm256_permute2x128_si256(lo, hi, 0x20), r.os, c);
      const __m256i v1 = OutputStage8(_mm256_permute2x128_si256(lo, hi, 0x31), r.os, c + 8);
      _mm_storeu_si128((__m128i*)(out + c), PackBytes16(v0, v1, kU8));
    }
  }
}
}  // namespace

void DepthwiseRowAvx2(const DepthwiseRow& r, int c16) {
  if (r.is_uint8)
    Row<true>(r, c16);
  else
    Row<false>(r, c16);
}

}  // namespace qat::kernels::x86
