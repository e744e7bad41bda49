// AVX2 row kernel of the optimised DEPTHWISE_CONV_2D (see kernels/optimized/depthwise_conv.h).
// The input arrives widened to int16 with its padding materialised (Z_in), so every tap is a fixed
// offset from the window's corner. For each block of 16 channels and each pair of taps: load both
// taps' 16 int16, interleave them (vpunpck{l,h}wd) and vpmaddwd with the interleaved weights: 32
// exact multiply-adds in 2 instructions. The shared output stage then
// requantizes, clamps and stores 16 bytes.
#include <immintrin.h>

#include "kernels/x86/int8_common_avx2.h"
#include "kernels/x86/int8_x86.h"

namespace qat::kernels::x86 {

using namespace avx2;

namespace {
template <bool kU8>
void Row(const DepthwiseRow& r, int c16) {
  const int C = r.channels;
  const int blocks = r.c_pad / 16;
  const int taps = r.filter_h * r.filter_w;
  // Tap offsets from the window's top-left pixel, the same for every output pixel. An odd tap
  // count gets a last tap of weight 0 reading the first one.
  int64_t off[2 * kDepthwiseMaxTaps];
  for (int fy = 0; fy < r.filter_h; ++fy)
    for (int fx = 0; fx < r.filter_w; ++fx)
      off[fy * r.filter_w + fx] = ((int64_t)fy * r.dilation_h * r.padded_w + (int64_t)fx * r.dilation_w) * C;
  if (taps & 1) off[taps] = 0;
  const int16_t* row0 = r.padded + (int64_t)r.oy * r.stride_h * r.padded_w * C;
  for (int ox = 0; ox < r.ow; ++ox) {
    const int16_t* base = row0 + (int64_t)ox * r.stride_w * C;
    uint8_t* out = r.output + (int64_t)ox * C;
    for (int c = 0; c < c16; c += 16) {
      __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
      const int16_t* w = r.pairs + (int64_t)(c / 16) * 32;
      const int16_t* x = base + c;
      for (int t = 0; t < r.tap_pairs; ++t, w += (int64_t)blocks * 32) {
        const __m256i xa = _mm256_loadu_si256((const __m256i*)(x + off[2 * t]));
        const __m256i xb = _mm256_loadu_si256((const __m256i*)(x + off[2 * t + 1]));
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
  if (r.os.is_uint8)
    Row<true>(r, c16);
  else
    Row<false>(r, c16);
}

}  // namespace qat::kernels::x86
