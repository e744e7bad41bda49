// AVX2 float32 micro-kernels (see float_x86.h). Multiply then add, never fused: the results equal
// the reference kernels' (acc += w * x in float32, tap by tap, in their order). GCC would contract
// _mm256_add_ps(acc, _mm256_mul_ps(w, x)) into an FMA (-ffp-contract=fast is its default), so
// contraction is off in this file.
#pragma GCC optimize("fp-contract=off")
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels/x86/float_common_avx2.h"
#include "kernels/x86/float_x86.h"

namespace qat::kernels::x86 {
namespace {

using floatx::ClampVec;
using floatx::MulAdd8;

// kPrefetchB: also prefetch the panel kBPrefetch k-steps ahead (one 64-byte line per k), for the
// first tile that reads a panel, when it comes from L3 or memory; later tiles find it in L2.
constexpr int64_t kBPrefetch = 32;

// kGather: row r's k-th value is a[r][off[k]] (a convolution window read in place) instead of
// a[r][k].
template <int MR, bool kPrefetchB, bool kGather, bool kFused = false>
inline void GemmTile(int nr, int64_t K, const float* const* a, const int32_t* off, const float* b,
                     const float* bias, float* c, int64_t ldc, float act_min, float act_max) {
  __m256 acc0[MR], acc1[MR];
  const float* ap[MR];
  const __m256 bias0 = _mm256_load_ps(bias), bias1 = _mm256_load_ps(bias + 8);
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    acc0[r] = bias0;
    acc1[r] = bias1;
    ap[r] = a[r];
  }
  int64_t k = 0;
#pragma GCC unroll 2
  for (; k < K; ++k) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    if constexpr (kPrefetchB) _mm_prefetch(reinterpret_cast<const char*>(b + 16 * kBPrefetch), _MM_HINT_T0);
    b += 16;
    const int64_t ak = kGather ? off[k] : k;
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      const __m256 x = _mm256_broadcast_ss(ap[r] + ak);
      acc0[r] = MulAdd8<kFused>(acc0[r], b0, x);
      acc1[r] = MulAdd8<kFused>(acc1[r], b1, x);
    }
  }
  // A clamp to (-inf, inf) (no activation) is the identity, NaN and -0 included: skipped.
  if (nr == 16 && act_min == -__builtin_inff() && act_max == __builtin_inff()) {
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      _mm256_storeu_ps(c + r * ldc, acc0[r]);
      _mm256_storeu_ps(c + r * ldc + 8, acc1[r]);
    }
    return;
  }
  const __m256 lo = _mm256_set1_ps(act_min), hi = _mm256_set1_ps(act_max);
#pragma GCC unroll 6
  for (int r = 0; r < MR; ++r) {
    const __m256 v0 = ClampVec(acc0[r], lo, hi), v1 = ClampVec(acc1[r], lo, hi);
    float* cr = c + r * ldc;
    if (nr == 16) {
      _mm256_storeu_ps(cr, v0);
      _mm256_storeu_ps(cr + 8, v1);
    } else {
      alignas(32) float tmp[16];
      _mm256_store_ps(tmp, v0);
      _mm256_store_ps(tmp + 8, v1);
      std::memcpy(cr, tmp, sizeof(float) * nr);
    }
  }
}

// Lane mask for the first n (0..8) lanes.
inline __m256i TailMask(int n) {
  alignas(32) static const int32_t m[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + 8 - n));
}

// Channels [c, C) of one depthwise pixel: 8-channel blocks, then a masked tail.
template <bool kFused>
inline void PixelTail(int C, int c, int taps, const float* const* in, int64_t off, const float* const* wt,
                      const float* bias, float* out, __m256 lo, __m256 hi, __m256i tail) {
  for (; c + 8 <= C; c += 8) {
    __m256 a0 = _mm256_load_ps(bias + c);
    for (int t = 0; t < taps; ++t)
      a0 = MulAdd8<kFused>(a0, _mm256_load_ps(wt[t] + c), _mm256_loadu_ps(in[t] + off + c));
    _mm256_storeu_ps(out + c, ClampVec(a0, lo, hi));
  }
  if (c < C) {
    __m256 a0 = _mm256_load_ps(bias + c);
    for (int t = 0; t < taps; ++t)
      a0 = MulAdd8<kFused>(a0, _mm256_load_ps(wt[t] + c), _mm256_maskload_ps(in[t] + off + c, tail));
    _mm256_maskstore_ps(out + c, tail, ClampVec(a0, lo, hi));
  }
}

template <bool kPrefetchB, bool kGather, bool kFused = false>
void GemmMr(int mr, int nr, int64_t K, const float* const* a, const int32_t* off, const float* b, const float* bias,
            float* c, int64_t ldc, float act_min, float act_max) {
  switch (mr) {
    case 6: GemmTile<6, kPrefetchB, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, act_min, act_max); break;
    case 5: GemmTile<5, kPrefetchB, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, act_min, act_max); break;
    case 4: GemmTile<4, kPrefetchB, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, act_min, act_max); break;
    case 3: GemmTile<3, kPrefetchB, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, act_min, act_max); break;
    case 2: GemmTile<2, kPrefetchB, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, act_min, act_max); break;
    default: GemmTile<1, kPrefetchB, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, act_min, act_max); break;
  }
}

// MR (1..12) rows x 8 channels: for panels with at most 8 live channels (output_c 8, 24, ...), where
// the 6 x 16 tile would compute half its lanes for nothing. Same k order, same ops per output.
template <int MR, bool kGather, bool kFused = false>
inline void GemmTile8(int nr, int64_t K, const float* const* a, const int32_t* off, const float* b, const float* bias,
                      float* c, int64_t ldc, float act_min, float act_max) {
  __m256 acc[MR];
  const float* ap[MR];
  const __m256 b0 = _mm256_load_ps(bias);
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    acc[r] = b0;
    ap[r] = a[r];
  }
#pragma GCC unroll 2
  for (int64_t k = 0; k < K; ++k) {
    const __m256 w = _mm256_load_ps(b + k * 16);
    const int64_t ak = kGather ? off[k] : k;
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) acc[r] = MulAdd8<kFused>(acc[r], w, _mm256_broadcast_ss(ap[r] + ak));
  }
  const __m256 lo = _mm256_set1_ps(act_min), hi = _mm256_set1_ps(act_max);
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) {
    const __m256 v = ClampVec(acc[r], lo, hi);
    float* cr = c + r * ldc;
    if (nr == 8) {
      _mm256_storeu_ps(cr, v);
    } else {
      alignas(32) float tmp[8];
      _mm256_store_ps(tmp, v);
      std::memcpy(cr, tmp, sizeof(float) * nr);
    }
  }
}

template <bool kGather, bool kFused = false>
void Gemm8Mr(int mr, int nr, int64_t K, const float* const* a, const int32_t* off, const float* b, const float* bias,
             float* c, int64_t ldc, float lo, float hi) {
  switch (mr) {
    case 12: return GemmTile8<12, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, lo, hi);
    case 11: return GemmTile8<11, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, lo, hi);
    case 10: return GemmTile8<10, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, lo, hi);
    case 9: return GemmTile8<9, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, lo, hi);
    case 8: return GemmTile8<8, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, lo, hi);
    case 7: return GemmTile8<7, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, lo, hi);
    case 6: return GemmTile8<6, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, lo, hi);
    case 5: return GemmTile8<5, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, lo, hi);
    case 4: return GemmTile8<4, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, lo, hi);
    case 3: return GemmTile8<3, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, lo, hi);
    case 2: return GemmTile8<2, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, lo, hi);
    default: return GemmTile8<1, kGather, kFused>(nr, K, a, off, b, bias, c, ldc, lo, hi);
  }
}

}  // namespace

void FloatGemm8Avx2(int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets, const float* b,
                    const float* bias, float* c, int64_t ldc, float act_min, float act_max, bool /*prefetch_b*/) {
  if (offsets)
    Gemm8Mr<true>(mr, nr, K, a, offsets, b, bias, c, ldc, act_min, act_max);
  else
    Gemm8Mr<false>(mr, nr, K, a, nullptr, b, bias, c, ldc, act_min, act_max);
}

void FloatGemm8FusedAvx2(int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets, const float* b,
                         const float* bias, float* c, int64_t ldc, float act_min, float act_max, bool /*prefetch_b*/) {
  if (offsets)
    Gemm8Mr<true, true>(mr, nr, K, a, offsets, b, bias, c, ldc, act_min, act_max);
  else
    Gemm8Mr<false, true>(mr, nr, K, a, nullptr, b, bias, c, ldc, act_min, act_max);
}

namespace {
template <bool kFused>
void GemmRows(int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b, const float* bias,
              float* c, int64_t ldc, float act_min, float act_max, bool prefetch_b) {
  const float* ap[6];
  int64_t m = 0;
  if (prefetch_b && m + 6 <= rows) {
    for (int r = 0; r < 6; ++r) ap[r] = a + r * lda;
    GemmTile<6, true, false, kFused>(nr, K, ap, nullptr, b, bias, c, ldc, act_min, act_max);
    m = 6;
  }
  for (; m + 6 <= rows; m += 6) {
    for (int r = 0; r < 6; ++r) ap[r] = a + (m + r) * lda;
    GemmTile<6, false, false, kFused>(nr, K, ap, nullptr, b, bias, c + m * ldc, ldc, act_min, act_max);
  }
  if (m < rows) {
    for (int r = 0; r < rows - m; ++r) ap[r] = a + (m + r) * lda;
    GemmMr<false, false, kFused>((int)(rows - m), nr, K, ap, nullptr, b, bias, c + m * ldc, ldc, act_min, act_max);
  }
}
}  // namespace

void FloatGemmRowsAvx2(int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b, const float* bias,
                       float* c, int64_t ldc, float act_min, float act_max, bool prefetch_b) {
  GemmRows<false>(rows, nr, K, a, lda, b, bias, c, ldc, act_min, act_max, prefetch_b);
}

void FloatGemmRowsFusedAvx2(int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b,
                            const float* bias, float* c, int64_t ldc, float act_min, float act_max, bool prefetch_b) {
  GemmRows<true>(rows, nr, K, a, lda, b, bias, c, ldc, act_min, act_max, prefetch_b);
}

namespace {
template <bool kFused>
void Gemm8Rows(int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b, const float* bias,
               float* c, int64_t ldc, float act_min, float act_max) {
  const float* ap[12];
  int64_t m = 0;
  for (; m + 12 <= rows; m += 12) {
    for (int r = 0; r < 12; ++r) ap[r] = a + (m + r) * lda;
    GemmTile8<12, false, kFused>(nr, K, ap, nullptr, b, bias, c + m * ldc, ldc, act_min, act_max);
  }
  if (m < rows) {
    for (int r = 0; r < rows - m; ++r) ap[r] = a + (m + r) * lda;
    Gemm8Mr<false, kFused>((int)(rows - m), nr, K, ap, nullptr, b, bias, c + m * ldc, ldc, act_min, act_max);
  }
}
}  // namespace

void FloatGemm8RowsAvx2(int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b,
                        const float* bias, float* c, int64_t ldc, float act_min, float act_max) {
  Gemm8Rows<false>(rows, nr, K, a, lda, b, bias, c, ldc, act_min, act_max);
}

void FloatGemm8RowsFusedAvx2(int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b,
                             const float* bias, float* c, int64_t ldc, float act_min, float act_max) {
  Gemm8Rows<true>(rows, nr, K, a, lda, b, bias, c, ldc, act_min, act_max);
}

namespace {
template <bool kFused>
void Gemm(int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets, const float* b, const float* bias,
          float* c, int64_t ldc, float act_min, float act_max, bool prefetch_b) {
  if (offsets) {
    if (prefetch_b)
      GemmMr<true, true, kFused>(mr, nr, K, a, offsets, b, bias, c, ldc, act_min, act_max);
    else
      GemmMr<false, true, kFused>(mr, nr, K, a, offsets, b, bias, c, ldc, act_min, act_max);
  } else if (prefetch_b) {
    GemmMr<true, false, kFused>(mr, nr, K, a, nullptr, b, bias, c, ldc, act_min, act_max);
  } else {
    GemmMr<false, false, kFused>(mr, nr, K, a, nullptr, b, bias, c, ldc, act_min, act_max);
  }
}
}  // namespace

void FloatGemmAvx2(int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets, const float* b,
                   const float* bias, float* c, int64_t ldc, float act_min, float act_max, bool prefetch_b) {
  Gemm<false>(mr, nr, K, a, offsets, b, bias, c, ldc, act_min, act_max, prefetch_b);
}

void FloatGemmFusedAvx2(int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets, const float* b,
                        const float* bias, float* c, int64_t ldc, float act_min, float act_max, bool prefetch_b) {
  Gemm<true>(mr, nr, K, a, offsets, b, bias, c, ldc, act_min, act_max, prefetch_b);
}

// Eight pixels (stride ps apart) x 8 channels from channel c, taps in order: each weight vector is
// loaded once per eight pixels (9 loads per 64 multiply-adds instead of 12 per 32 with two pixels x
// 32 channels, whose loads bound it), eight independent accumulators. kFull false: the last,
// partial 8-channel block (masked loads and stores).
template <bool kFull, bool kFused>
__attribute__((always_inline)) inline void Dw8Pixels(int taps, const float* const* in, int64_t ps, const float* const* wt,
                                                     const float* bias, int c, float* ob, int64_t C, __m256 lo,
                                                     __m256 hi, __m256i tail) {
  auto ld = [&](const float* x) {
    if constexpr (kFull)
      return _mm256_loadu_ps(x);
    else
      return _mm256_maskload_ps(x, tail);
  };
  __m256 a[8];
  const __m256 b = _mm256_load_ps(bias + c);
#pragma GCC unroll 8
  for (int q = 0; q < 8; ++q) a[q] = b;
  for (int t = 0; t < taps; ++t) {
    const float* x = in[t] + c;
    const __m256 w = _mm256_load_ps(wt[t] + c);
#pragma GCC unroll 8
    for (int q = 0; q < 8; ++q) a[q] = MulAdd8<kFused>(a[q], w, ld(x + q * ps));
  }
#pragma GCC unroll 8
  for (int q = 0; q < 8; ++q) {
    if constexpr (kFull)
      _mm256_storeu_ps(ob + q * C + c, ClampVec(a[q], lo, hi));
    else
      _mm256_maskstore_ps(ob + q * C + c, tail, ClampVec(a[q], lo, hi));
  }
}

namespace {
template <bool kFused>
void DwRow(int C, int taps, const float* const* in, int64_t pixel_stride, const int* tap_index, const float* weights,
           int64_t c_stride, const float* bias, float* out, int npix, float act_min, float act_max) {
  const __m256 lo = _mm256_set1_ps(act_min), hi = _mm256_set1_ps(act_max);
  const __m256i tail = TailMask(C % 8);
  const float* wt[64];  // the taps' weight rows (taps <= 64, depthwise_float.cpp)
  for (int t = 0; t < taps; ++t) wt[t] = weights + tap_index[t] * c_stride;
  int i = 0;
  // Eight pixels per pass where their inputs fall into distinct L1 sets: a pixel stride that is a
  // multiple of 1 KiB (256, 512, 1024 channels at stride 1, or strided layers of 128 channels and
  // up) maps the eight pixels' vectors onto few sets of the 8-way 32 KiB L1 and thrashes it
  // (14x14x512: 56 -> 85 us), so those, and strided layers, keep the passes below.
  static const bool off8 = std::getenv("QAT_DW8_OFF") != nullptr;
  const bool eight = !off8 && pixel_stride == C && (C * sizeof(float)) % 1024 != 0;
  for (; eight && i + 8 <= npix; i += 8) {
    const float* ib[64];
    for (int t = 0; t < taps; ++t) ib[t] = in[t] + i * pixel_stride;
    float* ob = out + (int64_t)i * C;
    int c = 0;
    for (; c + 8 <= C; c += 8) Dw8Pixels<true, kFused>(taps, ib, pixel_stride, wt, bias, c, ob, C, lo, hi, tail);
    if (c < C) Dw8Pixels<false, kFused>(taps, ib, pixel_stride, wt, bias, c, ob, C, lo, hi, tail);
  }
  // Fewer than 32 channels (MediaPipe's 8 / 16 / 24-channel layers): four pixels at a time over
  // the 8-channel blocks (the last one masked), each weight vector loaded once per four pixels.
  if (C < 32) {
    for (; i + 4 <= npix; i += 4) {
      const int64_t o0 = i * pixel_stride, o1 = o0 + pixel_stride, o2 = o1 + pixel_stride, o3 = o2 + pixel_stride;
      float* ob = out + (int64_t)i * C;
      for (int c = 0; c < C; c += 8) {
        const bool full = c + 8 <= C;
        auto ld = [&](const float* x) { return full ? _mm256_loadu_ps(x) : _mm256_maskload_ps(x, tail); };
        __m256 a0 = _mm256_load_ps(bias + c), a1 = a0, a2 = a0, a3 = a0;
        for (int t = 0; t < taps; ++t) {
          const float* x = in[t] + c;
          const __m256 w = _mm256_load_ps(wt[t] + c);
          a0 = MulAdd8<kFused>(a0, w, ld(x + o0));
          a1 = MulAdd8<kFused>(a1, w, ld(x + o1));
          a2 = MulAdd8<kFused>(a2, w, ld(x + o2));
          a3 = MulAdd8<kFused>(a3, w, ld(x + o3));
        }
        const __m256 r[4] = {ClampVec(a0, lo, hi), ClampVec(a1, lo, hi), ClampVec(a2, lo, hi), ClampVec(a3, lo, hi)};
        for (int q = 0; q < 4; ++q) {
          if (full)
            _mm256_storeu_ps(ob + (int64_t)q * C + c, r[q]);
          else
            _mm256_maskstore_ps(ob + (int64_t)q * C + c, tail, r[q]);
        }
      }
    }
  }
  // Two pixels at a time over the 32-channel blocks: each weight vector is loaded once per pair.
  for (; i + 2 <= npix && C >= 32; i += 2) {
    const int64_t off0 = i * pixel_stride, off1 = off0 + pixel_stride;
    float* out0 = out + (int64_t)i * C;
    float* out1 = out0 + C;
    for (int c = 0; c + 32 <= C; c += 32) {
      __m256 a0 = _mm256_load_ps(bias + c), a1 = _mm256_load_ps(bias + c + 8);
      __m256 a2 = _mm256_load_ps(bias + c + 16), a3 = _mm256_load_ps(bias + c + 24);
      __m256 b0 = a0, b1 = a1, b2 = a2, b3 = a3;
      for (int t = 0; t < taps; ++t) {
        const float* x = in[t] + c;
        const float* w = wt[t] + c;
        const __m256 w0 = _mm256_load_ps(w), w1 = _mm256_load_ps(w + 8);
        const __m256 w2 = _mm256_load_ps(w + 16), w3 = _mm256_load_ps(w + 24);
        a0 = MulAdd8<kFused>(a0, w0, _mm256_loadu_ps(x + off0));
        a1 = MulAdd8<kFused>(a1, w1, _mm256_loadu_ps(x + off0 + 8));
        a2 = MulAdd8<kFused>(a2, w2, _mm256_loadu_ps(x + off0 + 16));
        a3 = MulAdd8<kFused>(a3, w3, _mm256_loadu_ps(x + off0 + 24));
        b0 = MulAdd8<kFused>(b0, w0, _mm256_loadu_ps(x + off1));
        b1 = MulAdd8<kFused>(b1, w1, _mm256_loadu_ps(x + off1 + 8));
        b2 = MulAdd8<kFused>(b2, w2, _mm256_loadu_ps(x + off1 + 16));
        b3 = MulAdd8<kFused>(b3, w3, _mm256_loadu_ps(x + off1 + 24));
      }
      _mm256_storeu_ps(out0 + c, ClampVec(a0, lo, hi));
      _mm256_storeu_ps(out0 + c + 8, ClampVec(a1, lo, hi));
      _mm256_storeu_ps(out0 + c + 16, ClampVec(a2, lo, hi));
      _mm256_storeu_ps(out0 + c + 24, ClampVec(a3, lo, hi));
      _mm256_storeu_ps(out1 + c, ClampVec(b0, lo, hi));
      _mm256_storeu_ps(out1 + c + 8, ClampVec(b1, lo, hi));
      _mm256_storeu_ps(out1 + c + 16, ClampVec(b2, lo, hi));
      _mm256_storeu_ps(out1 + c + 24, ClampVec(b3, lo, hi));
    }
    if (C % 32) {  // the remaining channels of both pixels, one pixel at a time
      PixelTail<kFused>(C, C / 32 * 32, taps, in, off0, wt, bias, out0, lo, hi, tail);
      PixelTail<kFused>(C, C / 32 * 32, taps, in, off1, wt, bias, out1, lo, hi, tail);
    }
  }
  out += (int64_t)i * C;
  for (; i < npix; ++i, out += C) {
    const int64_t off = i * pixel_stride;
    int c = 0;
    for (; c + 32 <= C; c += 32) {
      __m256 a0 = _mm256_load_ps(bias + c), a1 = _mm256_load_ps(bias + c + 8);
      __m256 a2 = _mm256_load_ps(bias + c + 16), a3 = _mm256_load_ps(bias + c + 24);
      for (int t = 0; t < taps; ++t) {
        const float* x = in[t] + off + c;
        const float* w = wt[t] + c;
        a0 = MulAdd8<kFused>(a0, _mm256_load_ps(w), _mm256_loadu_ps(x));
        a1 = MulAdd8<kFused>(a1, _mm256_load_ps(w + 8), _mm256_loadu_ps(x + 8));
        a2 = MulAdd8<kFused>(a2, _mm256_load_ps(w + 16), _mm256_loadu_ps(x + 16));
        a3 = MulAdd8<kFused>(a3, _mm256_load_ps(w + 24), _mm256_loadu_ps(x + 24));
      }
      _mm256_storeu_ps(out + c, ClampVec(a0, lo, hi));
      _mm256_storeu_ps(out + c + 8, ClampVec(a1, lo, hi));
      _mm256_storeu_ps(out + c + 16, ClampVec(a2, lo, hi));
      _mm256_storeu_ps(out + c + 24, ClampVec(a3, lo, hi));
    }
    PixelTail<kFused>(C, c, taps, in, off, wt, bias, out, lo, hi, tail);
  }
}
}  // namespace

void DepthwiseFloatRowAvx2(int C, int taps, const float* const* in, int64_t pixel_stride, const int* tap_index,
                           const float* weights, int64_t c_stride, const float* bias, float* out, int npix,
                           float act_min, float act_max) {
  DwRow<false>(C, taps, in, pixel_stride, tap_index, weights, c_stride, bias, out, npix, act_min, act_max);
}

void DepthwiseFloatRowFusedAvx2(int C, int taps, const float* const* in, int64_t pixel_stride, const int* tap_index,
                                const float* weights, int64_t c_stride, const float* bias, float* out, int npix,
                                float act_min, float act_max) {
  DwRow<true>(C, taps, in, pixel_stride, tap_index, weights, c_stride, bias, out, npix, act_min, act_max);
}

namespace {
template <int kOp, bool kA, bool kB>
void BinaryRow(const float* a, const float* b, float* out, int64_t n, float lo, float hi) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const __m256 a0 = _mm256_set1_ps(a[0]), b0 = _mm256_set1_ps(b[0]);
  auto op = [](__m256 x, __m256 y) {
    if constexpr (kOp == 0) return _mm256_add_ps(x, y);
    else if constexpr (kOp == 1) return _mm256_sub_ps(x, y);
    else return _mm256_mul_ps(x, y);
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256 x0 = kA ? _mm256_loadu_ps(a + i) : a0, x1 = kA ? _mm256_loadu_ps(a + i + 8) : a0;
    const __m256 y0 = kB ? _mm256_loadu_ps(b + i) : b0, y1 = kB ? _mm256_loadu_ps(b + i + 8) : b0;
    _mm256_storeu_ps(out + i, ClampVec(op(x0, y0), vlo, vhi));
    _mm256_storeu_ps(out + i + 8, ClampVec(op(x1, y1), vlo, vhi));
  }
  if (i + 8 <= n) {
    const __m256 x = kA ? _mm256_loadu_ps(a + i) : a0, y = kB ? _mm256_loadu_ps(b + i) : b0;
    _mm256_storeu_ps(out + i, ClampVec(op(x, y), vlo, vhi));
    i += 8;
  }
  if (i < n) {
    const __m256i m = TailMask((int)(n - i));
    const __m256 x = kA ? _mm256_maskload_ps(a + i, m) : a0, y = kB ? _mm256_maskload_ps(b + i, m) : b0;
    _mm256_maskstore_ps(out + i, m, ClampVec(op(x, y), vlo, vhi));
  }
}

template <int kOp>
void BinaryRowOp(const float* a, int sa, const float* b, int sb, float* out, int64_t n, float lo, float hi) {
  if (sa && sb) return BinaryRow<kOp, true, true>(a, b, out, n, lo, hi);
  if (sa) return BinaryRow<kOp, true, false>(a, b, out, n, lo, hi);
  if (sb) return BinaryRow<kOp, false, true>(a, b, out, n, lo, hi);
  BinaryRow<kOp, false, false>(a, b, out, n, lo, hi);
}
}  // namespace

void BinaryFloatRowAvx2(int op, const float* a, int sa, const float* b, int sb, float* out, int64_t n, float lo,
                        float hi) {
  if (n <= 0) return;
  switch (op) {
    case 0: return BinaryRowOp<0>(a, sa, b, sb, out, n, lo, hi);
    case 1: return BinaryRowOp<1>(a, sa, b, sb, out, n, lo, hi);
    default: return BinaryRowOp<2>(a, sa, b, sb, out, n, lo, hi);
  }
}

namespace {
template <int kOp, bool kARepeats>
void RowsRepeat(const float* a, const float* b, float* out, int64_t rows, int L, float lo, float hi) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  auto op = [](__m256 x, __m256 y) {
    if constexpr (kOp == 0) return _mm256_add_ps(x, y);
    else if constexpr (kOp == 1) return _mm256_sub_ps(x, y);
    else return _mm256_mul_ps(x, y);
  };
  const float* rep = kARepeats ? a : b;
  const float* run = kARepeats ? b : a;
  for (int64_t r = 0; r < rows; ++r, run += L, out += L)
    for (int j = 0; j < L; j += 8) {
      const __m256 x = _mm256_loadu_ps(run + j), y = _mm256_loadu_ps(rep + j);
      _mm256_storeu_ps(out + j, ClampVec(kARepeats ? op(y, x) : op(x, y), vlo, vhi));
    }
}
}  // namespace

void BinaryFloatRowsRepeatAvx2(int op, const float* a, const float* b, bool a_repeats, float* out, int64_t rows,
                               int L, float lo, float hi) {
  switch (op * 2 + (a_repeats ? 1 : 0)) {
    case 0: return RowsRepeat<0, false>(a, b, out, rows, L, lo, hi);
    case 1: return RowsRepeat<0, true>(a, b, out, rows, L, lo, hi);
    case 2: return RowsRepeat<1, false>(a, b, out, rows, L, lo, hi);
    case 3: return RowsRepeat<1, true>(a, b, out, rows, L, lo, hi);
    case 4: return RowsRepeat<2, false>(a, b, out, rows, L, lo, hi);
    default: return RowsRepeat<2, true>(a, b, out, rows, L, lo, hi);
  }
}

void TransposeRowAvx2(const float* in, int W, int C, float* t, int64_t ld) {
  int x = 0;
  if (C % 8 == 0) {
    for (; x + 8 <= W; x += 8)
      for (int c = 0; c < C; c += 8) {
        // Rows: pixels x .. x + 7, channels c .. c + 7; out: channel rows, the eight pixels each.
        __m256 r[8];
        for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(in + (int64_t)(x + i) * C + c);
        const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
        const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
        const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
        const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
        const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
        const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
        const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
        float* o = t + (int64_t)c * ld + x;
        _mm256_storeu_ps(o + 0 * ld, _mm256_permute2f128_ps(u0, u4, 0x20));
        _mm256_storeu_ps(o + 1 * ld, _mm256_permute2f128_ps(u1, u5, 0x20));
        _mm256_storeu_ps(o + 2 * ld, _mm256_permute2f128_ps(u2, u6, 0x20));
        _mm256_storeu_ps(o + 3 * ld, _mm256_permute2f128_ps(u3, u7, 0x20));
        _mm256_storeu_ps(o + 4 * ld, _mm256_permute2f128_ps(u0, u4, 0x31));
        _mm256_storeu_ps(o + 5 * ld, _mm256_permute2f128_ps(u1, u5, 0x31));
        _mm256_storeu_ps(o + 6 * ld, _mm256_permute2f128_ps(u2, u6, 0x31));
        _mm256_storeu_ps(o + 7 * ld, _mm256_permute2f128_ps(u3, u7, 0x31));
      }
  }
  for (int c = 0; c < C; ++c)
    for (int xx = x; xx < W; ++xx) t[(int64_t)c * ld + xx] = in[(int64_t)xx * C + c];
}

void ClampRowAvx2(const float* in, float* out, int64_t n, float lo, float hi) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  int64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int j = 0; j < 32; j += 8) _mm256_storeu_ps(out + i + j, ClampVec(_mm256_loadu_ps(in + i + j), vlo, vhi));
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, ClampVec(_mm256_loadu_ps(in + i), vlo, vhi));
  if (i < n) {
    const __m256i m = TailMask((int)(n - i));
    _mm256_maskstore_ps(out + i, m, ClampVec(_mm256_maskload_ps(in + i, m), vlo, vhi));
  }
}

void ResizeBilinearRowAvx2(const float* r0, const float* r1, int C, int ow, const int* x0, const int* x1,
                           const float* wx, float wy, float* out) {
  const float omy_s = 1 - wy;
  const __m256 vy = _mm256_set1_ps(wy), omy = _mm256_set1_ps(omy_s);
  const __m256i tail = TailMask(C % 8);
  for (int x = 0; x < ow; ++x) {
    const float w_s = wx[x];
    const __m256 w = _mm256_set1_ps(w_s), omx = _mm256_set1_ps(1 - w_s);
    const float *a = r0 + (int64_t)x0[x] * C, *b = r1 + (int64_t)x0[x] * C;
    const float *c = r0 + (int64_t)x1[x] * C, *d = r1 + (int64_t)x1[x] * C;
    float* o = out + (int64_t)x * C;
    auto f = [&](__m256 va, __m256 vb, __m256 vc, __m256 vd) {
      __m256 v = _mm256_mul_ps(_mm256_mul_ps(va, omy), omx);
      v = _mm256_add_ps(v, _mm256_mul_ps(_mm256_mul_ps(vb, vy), omx));
      v = _mm256_add_ps(v, _mm256_mul_ps(_mm256_mul_ps(vc, omy), w));
      return _mm256_add_ps(v, _mm256_mul_ps(_mm256_mul_ps(vd, vy), w));
    };
    int ch = 0;
    for (; ch + 8 <= C; ch += 8)
      _mm256_storeu_ps(o + ch, f(_mm256_loadu_ps(a + ch), _mm256_loadu_ps(b + ch), _mm256_loadu_ps(c + ch),
                                 _mm256_loadu_ps(d + ch)));
    if (ch < C)
      _mm256_maskstore_ps(o + ch, tail,
                          f(_mm256_maskload_ps(a + ch, tail), _mm256_maskload_ps(b + ch, tail),
                            _mm256_maskload_ps(c + ch, tail), _mm256_maskload_ps(d + ch, tail)));
  }
}

void HardSwishRowAvx2(const float* in, float* out, int64_t n) {
  const __m256 three = _mm256_set1_ps(3.f), zero = _mm256_setzero_ps(), six = _mm256_set1_ps(6.f);
  // std::max(v, 0) is (v < 0) ? 0 : v = _mm256_max_ps(0, v); std::min(y, 6) = _mm256_min_ps(6, y).
  auto f = [&](__m256 x) {
    const __m256 r = _mm256_min_ps(six, _mm256_max_ps(zero, _mm256_add_ps(x, three)));
    return _mm256_div_ps(_mm256_mul_ps(x, r), six);
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, f(_mm256_loadu_ps(in + i)));
  if (i < n) {
    const __m256i m = TailMask((int)(n - i));
    _mm256_maskstore_ps(out + i, m, f(_mm256_maskload_ps(in + i, m)));
  }
}

void MeanRowsAvx2(const float* in, int64_t rows, int64_t inner, float n, float* out) {
  const __m256 vn = _mm256_set1_ps(n);
  int64_t j = 0;
  for (; j + 32 <= inner; j += 32) {  // four vectors of sums per pass over the rows
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t r = 0; r < rows; ++r) {
      const float* x = in + r * inner + j;
      s0 = _mm256_add_ps(s0, _mm256_loadu_ps(x));
      s1 = _mm256_add_ps(s1, _mm256_loadu_ps(x + 8));
      s2 = _mm256_add_ps(s2, _mm256_loadu_ps(x + 16));
      s3 = _mm256_add_ps(s3, _mm256_loadu_ps(x + 24));
    }
    _mm256_storeu_ps(out + j, _mm256_div_ps(s0, vn));
    _mm256_storeu_ps(out + j + 8, _mm256_div_ps(s1, vn));
    _mm256_storeu_ps(out + j + 16, _mm256_div_ps(s2, vn));
    _mm256_storeu_ps(out + j + 24, _mm256_div_ps(s3, vn));
  }
  for (; j < inner; j += 8) {
    const __m256i m = TailMask((int)std::min<int64_t>(8, inner - j));
    __m256 s0 = _mm256_setzero_ps();
    for (int64_t r = 0; r < rows; ++r) s0 = _mm256_add_ps(s0, _mm256_maskload_ps(in + r * inner + j, m));
    _mm256_maskstore_ps(out + j, m, _mm256_div_ps(s0, vn));
  }
}

void DotColumnsAvx2(const float* xt, int64_t ld, int ic, const float* w, float b, int64_t n, float* out) {
  const __m256 vb = _mm256_set1_ps(b);
  int64_t x = 0;
  for (; x + 32 <= n; x += 32) {  // four independent sums per step
    __m256 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
    for (int k = 0; k < ic; ++k) {
      const __m256 wk = _mm256_set1_ps(w[k]);
      const float* t = xt + k * ld + x;
      a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(t), wk));
      a1 = _mm256_add_ps(a1, _mm256_mul_ps(_mm256_loadu_ps(t + 8), wk));
      a2 = _mm256_add_ps(a2, _mm256_mul_ps(_mm256_loadu_ps(t + 16), wk));
      a3 = _mm256_add_ps(a3, _mm256_mul_ps(_mm256_loadu_ps(t + 24), wk));
    }
    _mm256_storeu_ps(out + x, a0);
    _mm256_storeu_ps(out + x + 8, a1);
    _mm256_storeu_ps(out + x + 16, a2);
    _mm256_storeu_ps(out + x + 24, a3);
  }
  for (; x < n; x += 8) {
    __m256 a0 = vb;
    for (int k = 0; k < ic; ++k)
      a0 = _mm256_add_ps(a0, _mm256_mul_ps(_mm256_loadu_ps(xt + k * ld + x), _mm256_set1_ps(w[k])));
    _mm256_storeu_ps(out + x, a0);
  }
}

namespace {
template <bool kFused>
void NarrowRow(const float* const* rows, int64_t wp, int C, int fh, int fw, const float* w, int64_t w_stride,
               const float* bias, int OC, int OW, float* out, float lo, float hi) {
  const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  // n (1..8) pixels of channel oc from x.
  auto store = [&](int x, int oc, __m256 v, int n) {
    v = ClampVec(v, vlo, vhi);
    float* o = out + (int64_t)x * OC + oc;
    if (OC == 1 && n == 8) return _mm256_storeu_ps(o, v);
    alignas(32) float tmp[8];
    _mm256_store_ps(tmp, v);
    for (int l = 0; l < n; ++l) o[(int64_t)l * OC] = tmp[l];
  };
  for (int oc = 0; oc < OC; ++oc) {
    const __m256 vb = _mm256_set1_ps(bias[oc]);
    int x = 0;
    for (; x + 32 <= OW; x += 32) {  // four independent sums per step
      __m256 a0 = vb, a1 = vb, a2 = vb, a3 = vb;
      int64_t k = 0;
      for (int fy = 0; fy < fh; ++fy)
        for (int fx = 0; fx < fw; ++fx)
          for (int ic = 0; ic < C; ++ic, ++k) {
            const __m256 wk = _mm256_set1_ps(w[k * w_stride + oc]);
            const float* t = rows[fy] + ic * wp + x + fx;
            a0 = MulAdd8<kFused>(a0, _mm256_loadu_ps(t), wk);
            a1 = MulAdd8<kFused>(a1, _mm256_loadu_ps(t + 8), wk);
            a2 = MulAdd8<kFused>(a2, _mm256_loadu_ps(t + 16), wk);
            a3 = MulAdd8<kFused>(a3, _mm256_loadu_ps(t + 24), wk);
          }
      store(x, oc, a0, 8);
      store(x + 8, oc, a1, 8);
      store(x + 16, oc, a2, 8);
      store(x + 24, oc, a3, 8);
    }
    for (; x < OW; x += 8) {  // the planes are padded: reading past OW is in bounds
      __m256 a0 = vb;
      int64_t k = 0;
      for (int fy = 0; fy < fh; ++fy)
        for (int fx = 0; fx < fw; ++fx)
          for (int ic = 0; ic < C; ++ic, ++k)
            a0 = MulAdd8<kFused>(a0, _mm256_loadu_ps(rows[fy] + ic * wp + x + fx),
                                 _mm256_set1_ps(w[k * w_stride + oc]));
      store(x, oc, a0, std::min(8, OW - x));
    }
  }
}
}  // namespace

void NarrowConvRowAvx2(bool fused, const float* const* rows, int64_t wp, int C, int fh, int fw, const float* w,
                       int64_t w_stride, const float* bias, int OC, int OW, float* out, float lo, float hi) {
  if (fused)
    NarrowRow<true>(rows, wp, C, fh, fw, w, w_stride, bias, OC, OW, out, lo, hi);
  else
    NarrowRow<false>(rows, wp, C, fh, fw, w, w_stride, bias, OC, OW, out, lo, hi);
}

}  // namespace qat::kernels::x86
