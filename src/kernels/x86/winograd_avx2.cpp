// AVX2 Winograd F(2x2, 3x3) (optimized/winograd_conv.h): input transform on 16 channels per
// vector (int16 lanes), the 16 per-position GEMMs as a 4-tile x 16-channel vpmaddwd tile, and the
// output transform plus the shared output stage (int8_common_avx2.h), bit-exact with the
// portable twin in winograd_conv.cpp.
#include <immintrin.h>

#include <cstring>

#include "kernels/x86/int8_common_avx2.h"
#include "kernels/x86/winograd_x86.h"

namespace qat::kernels::x86 {

namespace {

inline __m256i Widen16(const uint8_t* src, bool is_uint8) {
  const __m128i b = _mm_loadu_si128((const __m128i*)src);
  return is_uint8 ? _mm256_cvtepu8_epi16(b) : _mm256_cvtepi8_epi16(b);
}

// kTflite output stage as one 64-bit floor division, the same arithmetic as gemm_avx2.cpp's
// Requant4K64 (derivation there; GemmOutput::k64 / zp64 as PackedConv packs them):
// (x * m + K) >> (31 + right), K chosen by the product's sign, then + zp64 and the clamp.
struct K64Consts {
  __m256i m, mo, she, sho, zp, amin, amax, left;
  __m256d kpe, kne, kpo, kno;
};

inline K64Consts LoadK64(const GemmOutput& os, int c) {
  const int64_t* k = os.k64 + (c / 8) * 24;
  K64Consts kc;
  kc.m = _mm256_loadu_si256((const __m256i*)(os.multiplier + c));
  kc.mo = _mm256_loadu_si256((const __m256i*)(os.multiplier_odd + c));
  kc.kpe = _mm256_loadu_pd((const double*)k);
  kc.kne = _mm256_loadu_pd((const double*)(k + 4));
  kc.kpo = _mm256_loadu_pd((const double*)(k + 8));
  kc.kno = _mm256_loadu_pd((const double*)(k + 12));
  kc.she = _mm256_loadu_si256((const __m256i*)(k + 16));
  kc.sho = _mm256_loadu_si256((const __m256i*)(k + 20));
  kc.zp = _mm256_loadu_si256((const __m256i*)(os.zp64 + c));
  kc.amin = _mm256_set1_epi32(os.act_min);
  kc.amax = _mm256_set1_epi32(os.act_max);
  kc.left = os.any_left ? _mm256_loadu_si256((const __m256i*)(os.left + c)) : _mm256_setzero_si256();
  return kc;
}

inline __m256i RequantK64(__m256i x, const K64Consts& kc, bool any_left) {
  if (any_left) x = _mm256_sllv_epi32(x, kc.left);
  __m256i pe = _mm256_mul_epi32(x, kc.m);
  __m256i po = _mm256_mul_epi32(_mm256_srli_epi64(x, 32), kc.mo);
  pe = _mm256_add_epi64(pe, _mm256_castpd_si256(_mm256_blendv_pd(kc.kpe, kc.kne, _mm256_castsi256_pd(pe))));
  po = _mm256_add_epi64(po, _mm256_castpd_si256(_mm256_blendv_pd(kc.kpo, kc.kno, _mm256_castsi256_pd(po))));
  pe = _mm256_srlv_epi64(pe, kc.she);
  po = _mm256_srlv_epi64(po, kc.sho);
  x = _mm256_add_epi32(_mm256_blend_epi32(pe, _mm256_slli_epi64(po, 32), 0xAA), kc.zp);
  return _mm256_min_epi32(_mm256_max_epi32(x, kc.amin), kc.amax);
}

}  // namespace

void WinogradInputTileAvx2(const uint8_t* const* src, bool is_uint8, int input_c, int cin16, int16_t* v,
                           int64_t pos_stride) {
  alignas(16) uint8_t tail[16][16];
  for (int c = 0; c < cin16; c += 16) {
    const bool full = c + 16 <= input_c;
    __m256i d[16];
    for (int pos = 0; pos < 16; ++pos) {
      if (full) {
        d[pos] = Widen16(src[pos] + c, is_uint8);
      } else {
        std::memset(tail[pos], 0, 16);
        std::memcpy(tail[pos], src[pos] + c, input_c - c);
        d[pos] = Widen16(tail[pos], is_uint8);
      }
    }
    // Rows: t = B^T d (B^T rows: d0 - d2, d1 + d2, d2 - d1, d1 - d3), column by column.
    __m256i t[16];
    for (int j = 0; j < 4; ++j) {
      t[0 + j] = _mm256_sub_epi16(d[0 + j], d[8 + j]);
      t[4 + j] = _mm256_add_epi16(d[4 + j], d[8 + j]);
      t[8 + j] = _mm256_sub_epi16(d[8 + j], d[4 + j]);
      t[12 + j] = _mm256_sub_epi16(d[4 + j], d[12 + j]);
    }
    // Columns: V = t B, row by row; |V| <= 4 * 255, no int16 overflow.
    for (int i = 0; i < 4; ++i) {
      const __m256i* r = t + 4 * i;
      int16_t* o = v + (int64_t)(4 * i) * pos_stride + c;
      _mm256_storeu_si256((__m256i*)o, _mm256_sub_epi16(r[0], r[2]));
      _mm256_storeu_si256((__m256i*)(o + pos_stride), _mm256_add_epi16(r[1], r[2]));
      _mm256_storeu_si256((__m256i*)(o + 2 * pos_stride), _mm256_sub_epi16(r[2], r[1]));
      _mm256_storeu_si256((__m256i*)(o + 3 * pos_stride), _mm256_sub_epi16(r[1], r[3]));
    }
  }
}

void WinogradGroupAvx2(const WinogradGroup& g, const GemmOutput& os) {
  const int16_t* rows[4];
  for (int pos = 0; pos < 16; ++pos) {
    for (int r = 0; r < 4; ++r) rows[r] = g.v + pos * g.pos_stride + (r < g.tiles ? r : 0) * g.cin16;
    const int16_t* u = g.u + (int64_t)pos * g.kp * 32;
    __m256i a00 = _mm256_setzero_si256(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00,
            a31 = a00;
    for (int k = 0; k < g.kp; ++k, u += 32) {
      const __m256i w0 = _mm256_load_si256((const __m256i*)u);
      const __m256i w1 = _mm256_load_si256((const __m256i*)(u + 16));
      int32_t x;
      std::memcpy(&x, rows[0] + 2 * k, 4);
      __m256i b = _mm256_set1_epi32(x);
      a00 = _mm256_add_epi32(a00, _mm256_madd_epi16(b, w0));
      a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(b, w1));
      std::memcpy(&x, rows[1] + 2 * k, 4);
      b = _mm256_set1_epi32(x);
      a10 = _mm256_add_epi32(a10, _mm256_madd_epi16(b, w0));
      a11 = _mm256_add_epi32(a11, _mm256_madd_epi16(b, w1));
      std::memcpy(&x, rows[2] + 2 * k, 4);
      b = _mm256_set1_epi32(x);
      a20 = _mm256_add_epi32(a20, _mm256_madd_epi16(b, w0));
      a21 = _mm256_add_epi32(a21, _mm256_madd_epi16(b, w1));
      std::memcpy(&x, rows[3] + 2 * k, 4);
      b = _mm256_set1_epi32(x);
      a30 = _mm256_add_epi32(a30, _mm256_madd_epi16(b, w0));
      a31 = _mm256_add_epi32(a31, _mm256_madd_epi16(b, w1));
    }
    __m256i* m = (__m256i*)(g.m + pos * 64);
    _mm256_store_si256(m + 0, a00);
    _mm256_store_si256(m + 1, a01);
    _mm256_store_si256(m + 2, a10);
    _mm256_store_si256(m + 3, a11);
    _mm256_store_si256(m + 4, a20);
    _mm256_store_si256(m + 5, a21);
    _mm256_store_si256(m + 6, a30);
    _mm256_store_si256(m + 7, a31);
  }
  // Output transform Y = A^T M A (A^T rows: m0 + m1 + m2, m1 - m2 - m3), 8 channels per vector.
  // All of it wraps modulo 2^32 and Y = 4 * S fits int32 (WinogradApplies), so Y >> 2 is exact.
  // Half h (channels 8h..8h+7) of every tile first, so each half's constants are loaded once.
  __m256i res[4][4][2];
  for (int h = 0; h < 2; ++h) {
    const int c = h * 8;
    const __m256i bias = _mm256_loadu_si256((const __m256i*)(os.bias + c));
    const bool k64 = os.mode == RequantMode::kTflite && os.k64;
    K64Consts kc;
    if (k64) kc = LoadK64(os, c);
    for (int r = 0; r < g.tiles; ++r) {
      __m256i m[16];
      for (int pos = 0; pos < 16; ++pos) m[pos] = _mm256_load_si256((const __m256i*)(g.m + pos * 64 + r * 16 + c));
      __m256i t0[4], t1[4];
      for (int j = 0; j < 4; ++j) {
        t0[j] = _mm256_add_epi32(_mm256_add_epi32(m[j], m[4 + j]), m[8 + j]);
        t1[j] = _mm256_sub_epi32(_mm256_sub_epi32(m[4 + j], m[8 + j]), m[12 + j]);
      }
      const __m256i s[4] = {_mm256_add_epi32(_mm256_add_epi32(t0[0], t0[1]), t0[2]),
                            _mm256_sub_epi32(_mm256_sub_epi32(t0[1], t0[2]), t0[3]),
                            _mm256_add_epi32(_mm256_add_epi32(t1[0], t1[1]), t1[2]),
                            _mm256_sub_epi32(_mm256_sub_epi32(t1[1], t1[2]), t1[3])};
      for (int q = 0; q < 4; ++q) {
        const __m256i acc = _mm256_add_epi32(_mm256_srai_epi32(s[q], 2), bias);
        res[r][q][h] = k64 ? RequantK64(acc, kc, os.any_left) : avx2::Requant8(acc, os, c);
      }
    }
  }
  for (int r = 0; r < g.tiles; ++r)
    for (int q = 0; q < 4; ++q)
      if (uint8_t* dst = g.out[r * 4 + q])
        avx2::StoreBytes(dst, avx2::PackBytes16(res[r][q][0], res[r][q][1], os.is_uint8), g.n);
}

}  // namespace qat::kernels::x86
