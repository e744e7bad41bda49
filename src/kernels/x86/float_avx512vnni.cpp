// AVX-512 float32 micro-kernels of kernels/optimized/conv_float.h and depthwise_float.h (see
// float_x86.h). Each comes in two arithmetics, chosen per call:
//   fused = false: multiply, then add (two roundings per tap), the reference kernels' values bit for
//                  bit, as the AVX2 twins (x86/float_avx2.cpp);
//   fused = true:  one vfmadd per tap (acc = fma(w, x, acc), one rounding), in the same tap order:
//                  the values of the portable fused twins (std::fma), which is what XNNPACK and ONNX
//                  Runtime compute on CPUs with FMA.
// GCC would contract _mm512_add_ps(acc, _mm512_mul_ps(w, x)) into an FMA (-ffp-contract=fast is its
// default), so contraction is off in this file; the fused form calls _mm512_fmadd_ps itself.
//
// x86/float_avx512_emulated_avx2.cpp compiles this file a second time with QAT_FLOAT512_EMULATED,
// into namespace x86::emulated, on AVX2 flags and the intrinsics of x86/avx512_emulation.h, so the
// tests check these kernels' indexing, tails and masks on CPUs without AVX-512 too.
#pragma GCC optimize("fp-contract=off")
// GCC 12 flags _mm512_undefined_ps()'s self-initialisation inside _mm512_max_ps / _mm512_min_ps.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cstdint>

#include "kernels/x86/float_common_avx2.h"
#include "kernels/x86/float_x86.h"

#ifdef QAT_FLOAT512_EMULATED
#include "kernels/x86/avx512_emulation.h"
namespace qat::kernels::x86::emulated {
#else
namespace qat::kernels::x86 {
#endif
namespace {

// std::min(std::max(v, lo), hi) exactly, NaN included (vmaxps / vminps return the second operand
// for NaN).
inline __m512 Clamp(__m512 v, __m512 lo, __m512 hi) { return _mm512_min_ps(hi, _mm512_max_ps(lo, v)); }

// acc + w * x: one rounding (fused) or two (the reference's).
template <bool kFused>
inline __m512 MulAdd(__m512 acc, __m512 w, __m512 x) {
  if constexpr (kFused)
    return _mm512_fmadd_ps(w, x, acc);
  else
    return _mm512_add_ps(acc, _mm512_mul_ps(w, x));
}

// The same on 8 lanes (ymm, float_common_avx2.h; native in the emulated build too): 8-channel
// depthwise tails, where a masked zmm would waste half its lanes. (Panels with at most 8 live
// channels run the AVX2 file's 12 x 8 tile: conv_float.cpp.)
using floatx::MulAdd8;
inline __m256 Clamp8(__m256 v, __m256 lo, __m256 hi) { return floatx::ClampVec(v, lo, hi); }

inline __mmask16 FirstLanes(int n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (n < 0 ? 0 : n)) - 1); }

constexpr int64_t kBPrefetch = 32;

// MR rows (1..12) x NP panels (1 or 2) of 16 channels: accumulators acc[p][r] = bias, then
// acc += w * x over k in order; x = a[r][k] or a[r][off[k]] (kGather). Panel p's k-th 16 weights
// at b + p * panel_stride + 16 k. nr: live channels (1..16 * NP).
template <int MR, int NP, bool kFused, bool kPrefetchB, bool kGather>
inline void Tile(int nr, int64_t K, const float* const* a, const int32_t* off, const float* b, int64_t panel_stride,
                 const float* bias, float* c, int64_t ldc, float act_min, float act_max) {
  __m512 acc[NP][MR];
  const float* ap[MR];
#pragma GCC unroll 2
  for (int q = 0; q < NP; ++q) {
    const __m512 bq = _mm512_load_ps(bias + 16 * q);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) acc[q][r] = bq;
  }
#pragma GCC unroll 12
  for (int r = 0; r < MR; ++r) ap[r] = a[r];
  const float* b1 = b + (NP > 1 ? panel_stride : 0);
#pragma GCC unroll 2
  for (int64_t k = 0; k < K; ++k) {
    const __m512 w0 = _mm512_load_ps(b + 16 * k);
    const __m512 w1 = NP > 1 ? _mm512_load_ps(b1 + 16 * k) : w0;
    if constexpr (kPrefetchB) {
      _mm_prefetch(reinterpret_cast<const char*>(b + 16 * (k + kBPrefetch)), _MM_HINT_T0);
      if constexpr (NP > 1) _mm_prefetch(reinterpret_cast<const char*>(b1 + 16 * (k + kBPrefetch)), _MM_HINT_T0);
    }
    const int64_t ak = kGather ? off[k] : k;
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512 x = _mm512_set1_ps(ap[r][ak]);
      acc[0][r] = MulAdd<kFused>(acc[0][r], w0, x);
      if constexpr (NP > 1) acc[1][r] = MulAdd<kFused>(acc[1][r], w1, x);
    }
  }
  const bool no_clamp = act_min == -__builtin_inff() && act_max == __builtin_inff();
  const __m512 lo = _mm512_set1_ps(act_min), hi = _mm512_set1_ps(act_max);
#pragma GCC unroll 2
  for (int q = 0; q < NP; ++q) {
    const int live = nr - 16 * q;
    if (live <= 0) break;
    const __mmask16 m = FirstLanes(live);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      // A clamp to (-inf, inf) (no activation) is the identity, NaN and -0 included: skipped.
      const __m512 v = no_clamp ? acc[q][r] : Clamp(acc[q][r], lo, hi);
      float* cr = c + r * ldc + 16 * q;
      if (live >= 16)
        _mm512_storeu_ps(cr, v);
      else
        _mm512_mask_storeu_ps(cr, m, v);
    }
  }
}

template <int NP, bool kFused, bool kPrefetchB, bool kGather>
void TileMr(int mr, int nr, int64_t K, const float* const* a, const int32_t* off, const float* b, int64_t ps,
            const float* bias, float* c, int64_t ldc, float lo, float hi) {
  switch (mr) {
    case 12: return Tile<12, NP, kFused, kPrefetchB, kGather>(nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    case 11: return Tile<11, NP, kFused, kPrefetchB, kGather>(nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    case 10: return Tile<10, NP, kFused, kPrefetchB, kGather>(nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    case 9: return Tile<9, NP, kFused, kPrefetchB, kGather>(nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    case 8: return Tile<8, NP, kFused, kPrefetchB, kGather>(nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    case 7: return Tile<7, NP, kFused, kPrefetchB, kGather>(nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    case 6: return Tile<6, NP, kFused, kPrefetchB, kGather>(nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    case 5: return Tile<5, NP, kFused, kPrefetchB, kGather>(nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    case 4: return Tile<4, NP, kFused, kPrefetchB, kGather>(nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    case 3: return Tile<3, NP, kFused, kPrefetchB, kGather>(nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    case 2: return Tile<2, NP, kFused, kPrefetchB, kGather>(nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    default: return Tile<1, NP, kFused, kPrefetchB, kGather>(nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
  }
}

template <bool kFused>
void Gemm(int mr, int nr, int64_t K, const float* const* a, const int32_t* off, const float* b, int64_t ps,
          const float* bias, float* c, int64_t ldc, float lo, float hi, bool prefetch_b) {
  if (nr > 16) {
    if (off)
      prefetch_b ? TileMr<2, kFused, true, true>(mr, nr, K, a, off, b, ps, bias, c, ldc, lo, hi)
                 : TileMr<2, kFused, false, true>(mr, nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    else
      prefetch_b ? TileMr<2, kFused, true, false>(mr, nr, K, a, off, b, ps, bias, c, ldc, lo, hi)
                 : TileMr<2, kFused, false, false>(mr, nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
  } else {
    if (off)
      TileMr<1, kFused, false, true>(mr, nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
    else
      TileMr<1, kFused, false, false>(mr, nr, K, a, off, b, ps, bias, c, ldc, lo, hi);
  }
}

template <bool kFused>
void GemmRows(int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b, int64_t ps,
              const float* bias, float* c, int64_t ldc, float lo, float hi, bool prefetch_b) {
  const float* ap[12];
  int64_t m = 0;
  if (nr > 16) {
    if (prefetch_b && m + 12 <= rows) {
      for (int r = 0; r < 12; ++r) ap[r] = a + r * lda;
      Tile<12, 2, kFused, true, false>(nr, K, ap, nullptr, b, ps, bias, c, ldc, lo, hi);
      m = 12;
    }
    for (; m + 12 <= rows; m += 12) {
      for (int r = 0; r < 12; ++r) ap[r] = a + (m + r) * lda;
      Tile<12, 2, kFused, false, false>(nr, K, ap, nullptr, b, ps, bias, c + m * ldc, ldc, lo, hi);
    }
  } else {
    for (; m + 12 <= rows; m += 12) {
      for (int r = 0; r < 12; ++r) ap[r] = a + (m + r) * lda;
      Tile<12, 1, kFused, false, false>(nr, K, ap, nullptr, b, ps, bias, c + m * ldc, ldc, lo, hi);
    }
  }
  if (m < rows) {
    for (int r = 0; r < rows - m; ++r) ap[r] = a + (m + r) * lda;
    Gemm<kFused>((int)(rows - m), nr, K, ap, nullptr, b, ps, bias, c + m * ldc, ldc, lo, hi, false);
  }
}

// Depthwise: P pixels (stride ps apart) x B consecutive 16-channel blocks from channel c, taps in
// order: P * B independent accumulators (8 keep both FMA ports busy through the 4-cycle latency),
// each weight vector loaded once per P pixels.
template <int P, int B, bool kFused>
inline void DwBlocks(int taps, const float* const* in, int64_t ps, const float* const* wt, const float* bias, int c,
                     float* ob, int64_t C, __m512 lo, __m512 hi) {
  __m512 acc[B][P];
#pragma GCC unroll 8
  for (int j = 0; j < B; ++j) {
    const __m512 b = _mm512_load_ps(bias + c + 16 * j);
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) acc[j][q] = b;
  }
  for (int t = 0; t < taps; ++t) {
    const float* x = in[t] + c;
    const float* w = wt[t] + c;
#pragma GCC unroll 8
    for (int j = 0; j < B; ++j) {
      const __m512 wj = _mm512_load_ps(w + 16 * j);
#pragma GCC unroll 8
      for (int q = 0; q < P; ++q) acc[j][q] = MulAdd<kFused>(acc[j][q], wj, _mm512_loadu_ps(x + q * ps + 16 * j));
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < B; ++j)
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) _mm512_storeu_ps(ob + q * C + c + 16 * j, Clamp(acc[j][q], lo, hi));
}

// The last, partial block of P pixels (lanes past m masked).
template <int P, bool kFused>
inline void DwTail(int taps, const float* const* in, int64_t ps, const float* const* wt, const float* bias, int c,
                   float* ob, int64_t C, __m512 lo, __m512 hi, __mmask16 m) {
  __m512 acc[P];
  const __m512 b = _mm512_load_ps(bias + c);
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) acc[q] = b;
  for (int t = 0; t < taps; ++t) {
    const float* x = in[t] + c;
    const __m512 w = _mm512_load_ps(wt[t] + c);
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) acc[q] = MulAdd<kFused>(acc[q], w, _mm512_maskz_loadu_ps(m, x + q * ps));
  }
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) _mm512_mask_storeu_ps(ob + q * C + c, m, Clamp(acc[q], lo, hi));
}

// An 8-channel tail of P pixels on ymm (no masks).
template <int P, bool kFused>
inline void DwTail8(int taps, const float* const* in, int64_t ps, const float* const* wt, const float* bias, int c,
                    float* ob, int64_t C, float act_min, float act_max) {
  __m256 acc[P];
  const __m256 b = _mm256_load_ps(bias + c);
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) acc[q] = b;
  for (int t = 0; t < taps; ++t) {
    const float* x = in[t] + c;
    const __m256 w = _mm256_load_ps(wt[t] + c);
#pragma GCC unroll 8
    for (int q = 0; q < P; ++q) acc[q] = MulAdd8<kFused>(acc[q], w, _mm256_loadu_ps(x + q * ps));
  }
  const __m256 lo = _mm256_set1_ps(act_min), hi = _mm256_set1_ps(act_max);
#pragma GCC unroll 8
  for (int q = 0; q < P; ++q) _mm256_storeu_ps(ob + q * C + c, Clamp8(acc[q], lo, hi));
}

// P pixels over all C channels: blocks of B (the widest that fits), then narrower, then the tail.
template <int P, int B, bool kFused>
inline void DwPixels(int taps, const float* const* in, int64_t ps, const float* const* wt, const float* bias,
                     float* ob, int C, __m512 lo, __m512 hi, __mmask16 tail, float act_min, float act_max) {
  int c = 0;
  for (; c + 16 * B <= C; c += 16 * B) DwBlocks<P, B, kFused>(taps, in, ps, wt, bias, c, ob, C, lo, hi);
  if constexpr (B >= 4) {
    if (c + 64 <= C) {
      DwBlocks<P, 4, kFused>(taps, in, ps, wt, bias, c, ob, C, lo, hi);
      c += 64;
    }
  }
  if constexpr (B >= 2) {
    if (c + 32 <= C) {
      DwBlocks<P, 2, kFused>(taps, in, ps, wt, bias, c, ob, C, lo, hi);
      c += 32;
    }
  }
  for (; c + 16 <= C; c += 16) DwBlocks<P, 1, kFused>(taps, in, ps, wt, bias, c, ob, C, lo, hi);
  if (c + 8 == C)
    DwTail8<P, kFused>(taps, in, ps, wt, bias, c, ob, C, act_min, act_max);
  else if (c < C)
    DwTail<P, kFused>(taps, in, ps, wt, bias, c, ob, C, lo, hi, tail);
}

template <bool kFused>
void DwRow(int C, int taps, const float* const* in, int64_t pixel_stride, const int* tap_index, const float* weights,
           int64_t c_stride, const float* bias, float* out, int npix, float act_min, float act_max) {
  const __m512 lo = _mm512_set1_ps(act_min), hi = _mm512_set1_ps(act_max);
  const __mmask16 tail = FirstLanes(C % 16);
  const float* wt[64];  // the taps' weight rows (taps <= 64, depthwise_float.cpp)
  for (int t = 0; t < taps; ++t) wt[t] = weights + tap_index[t] * c_stride;
  const float* ib[64];
  int i = 0;
  // Eight pixels per pass where their inputs fall into distinct L1 sets (see the AVX2 twin: a pixel
  // stride that is a multiple of 1 KiB thrashes the L1), else four (two blocks), then one (eight
  // blocks).
  const bool eight = pixel_stride == C && (C * sizeof(float)) % 1024 != 0;
  for (; eight && i + 8 <= npix; i += 8) {
    for (int t = 0; t < taps; ++t) ib[t] = in[t] + i * pixel_stride;
    DwPixels<8, 1, kFused>(taps, ib, pixel_stride, wt, bias, out + (int64_t)i * C, C, lo, hi, tail, act_min,
                             act_max);
  }
  for (; i + 4 <= npix; i += 4) {
    for (int t = 0; t < taps; ++t) ib[t] = in[t] + i * pixel_stride;
    DwPixels<4, 2, kFused>(taps, ib, pixel_stride, wt, bias, out + (int64_t)i * C, C, lo, hi, tail, act_min,
                             act_max);
  }
  for (; i < npix; ++i) {
    for (int t = 0; t < taps; ++t) ib[t] = in[t] + i * pixel_stride;
    DwPixels<1, 8, kFused>(taps, ib, pixel_stride, wt, bias, out + (int64_t)i * C, C, lo, hi, tail, act_min,
                             act_max);
  }
}

}  // namespace

void FloatGemmAvx512(bool fused, int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets,
                     const float* b, int64_t panel_stride, const float* bias, float* c, int64_t ldc, float act_min,
                     float act_max, bool prefetch_b) {
  if (fused)
    Gemm<true>(mr, nr, K, a, offsets, b, panel_stride, bias, c, ldc, act_min, act_max, prefetch_b);
  else
    Gemm<false>(mr, nr, K, a, offsets, b, panel_stride, bias, c, ldc, act_min, act_max, prefetch_b);
}

void FloatGemmRowsAvx512(bool fused, int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b,
                         int64_t panel_stride, const float* bias, float* c, int64_t ldc, float act_min, float act_max,
                         bool prefetch_b) {
  if (fused)
    GemmRows<true>(rows, nr, K, a, lda, b, panel_stride, bias, c, ldc, act_min, act_max, prefetch_b);
  else
    GemmRows<false>(rows, nr, K, a, lda, b, panel_stride, bias, c, ldc, act_min, act_max, prefetch_b);
}

void DepthwiseFloatRowAvx512(bool fused, int C, int taps, const float* const* in, int64_t pixel_stride,
                             const int* tap_index, const float* weights, int64_t c_stride, const float* bias,
                             float* out, int npix, float act_min, float act_max) {
  if (fused)
    DwRow<true>(C, taps, in, pixel_stride, tap_index, weights, c_stride, bias, out, npix, act_min, act_max);
  else
    DwRow<false>(C, taps, in, pixel_stride, tap_index, weights, c_stride, bias, out, npix, act_min, act_max);
}

}  // namespace qat::kernels::x86[::emulated]
