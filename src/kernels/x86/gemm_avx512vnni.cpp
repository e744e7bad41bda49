// AVX-512 VNNI implicit-GEMM micro-kernel of the optimised CONV_2D / FULLY_CONNECTED (see
// kernels/optimized/conv.h): 8 output pixels x 16 output channels, one zmm accumulator per pixel.
// Per quad of the accumulation depth: 1 panel load (64 bytes: 16 channels x 4 int8), 8 broadcasts
// of a pixel's 4 u8 activations, 8 vpdpbusd. vpdpbusd multiplies u8 by s8 exactly and adds the
// four products (|sum| <= 4 * 255 * 128) to the int32 lane with wrap-around (the saturating form is
// vpdpbusds, not used), so the accumulator equals the reference's modulo 2^32. int8 activations
// are stored + 128 (u8) and the panel bias holds -128 * sum(w); uint8 activations are stored as they
// are and the layer uses this kernel only where every w - Z_w fits int8 (conv.cpp, PackImpl).
// The output stage is the AVX2 one (int8_common_avx2.h) on the two 8-channel halves of each zmm.
#include <immintrin.h>

#include <cstring>

// GCC 12's avx512fintrin.h initialises the pass-through operand of _mm512_extracti64x4_epi64 and
// _mm512_castsi512_si256 from itself (`__m256i __Y = __Y;`), which -Wuninitialized reports.
#pragma GCC diagnostic ignored "-Wuninitialized"

#include "kernels/x86/int8_common_avx2.h"
#include "kernels/x86/int8_x86.h"

namespace qat::kernels::x86 {

using namespace avx2;

namespace {
// The kTflite output stage as one 64-bit floor division: a copy of gemm_avx2.cpp's Requant4K64
// (derivation there), four pixels' vectors of channels c..c+7.
inline void Requant4K64(__m256i* v, const GemmOutput& os, int c) {
  const int64_t* k = os.k64 + (c / 8) * 24;
  const __m256i m = _mm256_loadu_si256((const __m256i*)(os.multiplier + c));
  const __m256i mo = _mm256_loadu_si256((const __m256i*)(os.multiplier_odd + c));
  const __m256d kpe = _mm256_load_pd((const double*)k), kne = _mm256_load_pd((const double*)(k + 4));
  const __m256d kpo = _mm256_load_pd((const double*)(k + 8)), kno = _mm256_load_pd((const double*)(k + 12));
  const __m256i she = _mm256_load_si256((const __m256i*)(k + 16)), sho = _mm256_load_si256((const __m256i*)(k + 20));
  const __m256i zp = _mm256_loadu_si256((const __m256i*)(os.zp64 + c));
  const __m256i amin = _mm256_set1_epi32(os.act_min), amax = _mm256_set1_epi32(os.act_max);
  const __m256i left = os.any_left ? _mm256_loadu_si256((const __m256i*)(os.left + c)) : _mm256_setzero_si256();
  for (int r = 0; r < 4; ++r) {
    __m256i x = v[r];
    if (os.any_left) x = _mm256_sllv_epi32(x, left);
    __m256i pe = _mm256_mul_epi32(x, m);
    __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), mo);
    pe = _mm256_add_epi64(pe, _mm256_castpd_si256(_mm256_blendv_pd(kpe, kne, _mm256_castsi256_pd(pe))));
    po = _mm256_add_epi64(po, _mm256_castpd_si256(_mm256_blendv_pd(kpo, kno, _mm256_castsi256_pd(po))));
    pe = _mm256_srlv_epi64(pe, she);
    po = _mm256_srlv_epi64(po, sho);
    x = _mm256_add_epi32(_mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA), zp);
    v[r] = _mm256_min_epi32(_mm256_max_epi32(x, amin), amax);
  }
}

inline __m512i Bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// P (4 or 8) pixels: the accumulation, then the output stage and the stores of `pixels` pixels.
template <int P>
void Tile(int pixels, int taps, int icq, const uint8_t* const* rows_a, const uint8_t* const* rows_b, const int8_t* w,
          const GemmOutput& os, int n, uint8_t* const* out) {
  const __m512i bias = _mm512_loadu_si512(os.bias);
  __m512i acc[P];
  for (int i = 0; i < P; ++i) acc[i] = bias;
  for (int t = 0; t < taps; ++t) {
    const uint8_t* r[P];
    for (int i = 0; i < P; ++i) r[i] = i < 4 ? rows_a[t * 4 + i] : rows_b[t * 4 + i - 4];
#pragma GCC unroll 2
    for (int j = 0; j < icq; ++j) {
      const __m512i wv = _mm512_load_si512(w);
      for (int i = 0; i < P; ++i) acc[i] = _mm512_dpbusd_epi32(acc[i], Bcast4(r[i] + 4 * j), wv);
      w += 64;
    }
  }
  for (int g = 0; g < P; g += 4) {
    __m256i lo[4], hi[4];
    for (int i = 0; i < 4; ++i) {
      lo[i] = _mm512_castsi512_si256(acc[g + i]);
      hi[i] = _mm512_extracti64x4_epi64(acc[g + i], 1);
    }
    const int valid = pixels - g < 4 ? pixels - g : 4;
    if (valid <= 0) break;
    if (os.mode == RequantMode::kTflite && os.k64) {
      // Pixels past `pixels` repeat the tile's first pixel's rows: requantizing them is harmless.
      Requant4K64(lo, os, 0);
      Requant4K64(hi, os, 8);
    } else {
      for (int i = 0; i < valid; ++i) {
        lo[i] = Requant8(lo[i], os, 0);
        hi[i] = Requant8(hi[i], os, 8);
      }
    }
    for (int i = 0; i < valid; ++i) StoreBytes(out[g + i], PackBytes16(lo[i], hi[i], os.is_uint8), n);
  }
}
}  // namespace

void GemmTile8x16Vnni(int pixels, int taps, int icq, const uint8_t* const* rows_a, const uint8_t* const* rows_b,
                      const int8_t* w, const GemmOutput& os, int n, uint8_t* const* out) {
  if (pixels > 4)
    Tile<8>(pixels, taps, icq, rows_a, rows_b, w, os, n, out);
  else
    Tile<4>(pixels, taps, icq, rows_a, rows_a, w, os, n, out);
}

void CopyRowsVnni(const void* input, bool is_uint8, int64_t rows, int ic, int ic_pad4, uint8_t* out) {
  const uint8_t* in = static_cast<const uint8_t*>(input);
  const __m512i flip = _mm512_set1_epi8(is_uint8 ? 0 : (char)0x80);
  // Runs of n bytes: full 64-byte vectors, then one masked vector.
  auto run = [&](const uint8_t* s, uint8_t* d, int64_t n) {
    int64_t c = 0;
    for (; c + 64 <= n; c += 64)
      _mm512_storeu_si512(d + c, _mm512_xor_si512(_mm512_loadu_si512(s + c), flip));
    if (c < n) {
      const __mmask64 m = (1ULL << (n - c)) - 1;  // n - c < 64
      _mm512_mask_storeu_epi8(d + c, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, s + c), flip));
    }
  };
  if (ic == ic_pad4) {
    run(in, out, rows * ic);
    return;
  }
  for (int64_t r = 0; r < rows; ++r) {
    run(in + r * ic, out + r * ic_pad4, ic);
    for (int c = ic; c < ic_pad4; ++c) out[r * ic_pad4 + c] = 0;
  }
}

}  // namespace qat::kernels::x86
