// AVX-512 VNNI implicit-GEMM micro-kernel of the optimised CONV_2D / FULLY_CONNECTED (see
// kernels/optimized/conv.h): 8 output pixels x 32 output channels (two 16-channel panels), one zmm
// accumulator per pixel and panel (16 independent chains: vpdpbusd has latency 5 and two issue
// per cycle). Per quad of the accumulation depth: 2 panel loads (64 bytes: 16 channels x 4 int8),
// 8 broadcasts of a pixel's 4 u8 activations, 16 vpdpbusd. vpdpbusd multiplies u8 by s8 exactly and adds the
// four products (|sum| <= 4 * 255 * 128) to the int32 lane with wrap-around (the saturating form is
// vpdpbusds, not used), so the accumulator equals the reference's modulo 2^32. int8 activations
// are stored + 128 (u8) and the panel bias holds -128 * sum(w); uint8 activations are stored as they
// are and the layer uses this kernel only where every w - Z_w fits int8 (conv.cpp, PackImpl).
// The output stage works on whole zmm registers (OutputZ), lane for lane the AVX2 arithmetic.
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

// GCC 12's avx512fintrin.h initialises the pass-through operand of _mm512_extracti64x4_epi64 and
// _mm512_castsi512_si256 (and other intrinsics) from itself (`__m256i __Y = __Y;`), which
// -W(maybe-)uninitialized reports.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include "kernels/x86/int8_common_avx2.h"
#include "kernels/x86/int8_x86.h"

// x86/gemm_vnni_emulated_avx2.cpp compiles this file a second time with QAT_VNNI_EMULATED, into
// namespace x86::emulated, on AVX2 flags and the intrinsics of x86/avx512_emulation.h (tests on
// CPUs without AVX-512).
#ifdef QAT_VNNI_EMULATED
#include "kernels/x86/avx512_emulation.h"
namespace qat::kernels::x86::emulated {
#else
namespace qat::kernels::x86 {
#endif

using namespace avx2;

namespace {
inline __m512i Bcast4(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm512_set1_epi32(v);
}

// Two 256-bit halves (channel groups c..c+7 and c+8..c+15) as one zmm.
inline __m512i Join(const void* lo, const void* hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i*)lo)),
                            _mm256_loadu_si256((const __m256i*)hi), 1);
}

// The 16-channel output stage in zmm registers for channels c..c+15 of os, the same arithmetic
// as the AVX2 one lane by lane (gemm_avx2.cpp's StoreTileInt / WithStage, whose derivations these
// follow, and RequantFp32 in int8_common_avx2.h), chosen as the AVX2 tiles choose theirs:
//   kXnnpack: float(x) * scale, vcvtps2dq (round to nearest even), >= 2^31 -> INT32_MAX (no
//     fix-up where every scale is below 1, GemmOutput::fp32_in_range), + Z_out;
//   kTflite, short ReLU form (GemmOutput::kshort): the high halves of x * m + K (Z_out inside K),
//     >> (right - 1);
//   its exact fp32 FMA form on the 8-channel groups that have one (GemmOutput::fma_groups):
//     vcvtps2dq(fma(float(x), scale, offset)) + fma_zero; a zmm whose two groups differ computes
//     both forms and takes each group's own;
//   kTflite with k64: (x * m + K) >> (31 + r) per even / odd lane, K chosen by the product's sign;
//     where the lower clamp is below Z_out (no short form) its 8-channel groups with an exact FMA
//     form over the signed range take that, with the offset chosen by the sign of x (kFmaS, or
//     kMixed64 beside the 64-bit form).
// Then the clamp. The constants are loaded once per panel (constructor). kFmaZ0 / kFmaSZ0: kFma /
// kFmaS where fma_zero is 0 on all 16 channels, as the FMA search's first centre makes it for int8
// outputs whose clamp is the whole type (signed ranges) or starts at Z_out = -128 (ReLU): the add
// is left out (one of the stage's ~7 instructions per 16 outputs on the vpdpbusd ports).
struct OutputZ {
  enum Form { kK64, kShort, kFma, kMixed, kFmaS, kMixed64, kXnn, kXnnInRange, kFmaZ0, kFmaSZ0 };
  // The form without the zero-free variant (kFmaZ0 -> kFma, kFmaSZ0 -> kFmaS).
  static Form Base(Form f) { return f == kFmaZ0 ? kFma : f == kFmaSZ0 ? kFmaS : f; }
  __m512i m, mo, kpe, kne, kpo, kno, she, sho, zp, left, amin, amax, zout, fzero;
  __m512 scale, fscale, foffset, foffneg;
  __mmask16 fma_lanes = 0;  // kMixed: the lanes of the group with the FMA form
  Form form;
  bool any_left;
  // mixed: the short ReLU family (kshort) as kMixed whatever the groups (a run whose two panels
  // have different forms; fma_lanes then selects 0, 8 or 16 lanes).
  OutputZ(const GemmOutput& os, int c, bool mixed = false) {
    const bool tflite = os.mode == RequantMode::kTflite;
    const bool fma_lo = os.fma_groups && os.fma_groups[c / 8], fma_hi = os.fma_groups && os.fma_groups[c / 8 + 1];
    // Without kshort (a signed range) the FMA groups stand beside the 64-bit form (kMixed64).
    form = !tflite     ? (os.fp32_in_range ? kXnnInRange : kXnn)
           : os.kshort ? (mixed ? kMixed : fma_lo && fma_hi ? kFma : fma_lo || fma_hi ? kMixed : kShort)
           : os.k64 && os.fma_groups
               ? (mixed ? kMixed64 : fma_lo && fma_hi ? kFmaS : fma_lo || fma_hi ? kMixed64 : kK64)
                       : kK64;
    any_left = os.any_left;
    amin = _mm512_set1_epi32(os.act_min);
    amax = _mm512_set1_epi32(os.act_max);
    zout = _mm512_set1_epi32(os.output_offset);
    if (form == kShort || form == kMixed) {
      const int64_t* k = os.kshort + (c / 8) * 12;  // per 8 channels: K even, K odd, right - 1
      m = _mm512_loadu_si512(os.multiplier + c);
      mo = _mm512_loadu_si512(os.multiplier_odd + c);
      kpe = Join(k, k + 12);
      kpo = Join(k + 4, k + 16);
      she = Join(k + 8, k + 20);
    }
    if (form == kFma || form == kFmaS || ((form == kMixed || form == kMixed64) && os.fma_groups)) {
      fscale = _mm512_loadu_ps(os.fma_scale + c);
      foffset = _mm512_loadu_ps(os.fma_offset + c);
      foffneg = os.fma_offset_neg ? _mm512_loadu_ps(os.fma_offset_neg + c) : foffset;
      fzero = _mm512_loadu_si512(os.fma_zero + c);
      fma_lanes = (__mmask16)((fma_lo ? 0x00FF : 0) | (fma_hi ? 0xFF00 : 0));
      if ((form == kFma || form == kFmaS) && _mm512_cmpneq_epi32_mask(fzero, _mm512_setzero_si512()) == 0)
        form = form == kFma ? kFmaZ0 : kFmaSZ0;
    }
    if (form == kK64 || form == kMixed64) {
      const int64_t* k = os.k64 + (c / 8) * 24;
      m = _mm512_loadu_si512(os.multiplier + c);
      mo = _mm512_loadu_si512(os.multiplier_odd + c);
      kpe = Join(k, k + 24);
      kne = Join(k + 4, k + 28);
      kpo = Join(k + 8, k + 32);
      kno = Join(k + 12, k + 36);
      she = Join(k + 16, k + 40);
      sho = Join(k + 20, k + 44);
      zp = _mm512_loadu_si512(os.zp64 + c);
      left = any_left ? _mm512_loadu_si512(os.left + c) : _mm512_setzero_si512();
    }
    if (form == kXnn || form == kXnnInRange) scale = _mm512_loadu_ps(os.scale + c);
  }
  __m512i Short(__m512i x) const {
    const __m512i pe = _mm512_add_epi64(_mm512_mul_epi32(x, m), kpe);
    const __m512i po = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), mo), kpo);
    return _mm512_srav_epi32(_mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(pe, 32), po), she);
  }
  __m512i Fma(__m512i x) const {
    return _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_fmadd_ps(_mm512_cvtepi32_ps(x), fscale, foffset)), fzero);
  }
  // A signed range's FMA form: the offset for x < 0 is its own (optimized/fma_stage.h).
  __m512i FmaS(__m512i x) const {
    const __m512 o = _mm512_mask_blend_ps(_mm512_movepi32_mask(x), foffset, foffneg);
    return _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_fmadd_ps(_mm512_cvtepi32_ps(x), fscale, o)), fzero);
  }
  __m512i K64(__m512i x) const {
    if (any_left) x = _mm512_sllv_epi32(x, left);
    __m512i pe = _mm512_mul_epi32(x, m);
    __m512i po = _mm512_mul_epi32(_mm512_srli_epi64(x, 32), mo);
    pe = _mm512_add_epi64(pe, _mm512_mask_blend_epi64(_mm512_movepi64_mask(pe), kpe, kne));
    po = _mm512_add_epi64(po, _mm512_mask_blend_epi64(_mm512_movepi64_mask(po), kpo, kno));
    pe = _mm512_srlv_epi64(pe, she);
    po = _mm512_srlv_epi64(po, sho);
    return _mm512_add_epi32(_mm512_mask_blend_epi32(0xAAAA, pe, _mm512_slli_epi64(po, 32)), zp);
  }
  // The stage of form F (this panel's `form`), clamped.
  template <Form F>
  __m512i Apply(__m512i x) const {
    return _mm512_min_epi32(_mm512_max_epi32(Level<F>(x), amin), amax);
  }
  // The stage of form F before the clamp (with the output zero point).
  template <Form F>
  __m512i Level(__m512i x) const {
    if constexpr (F == kFma) {
      x = Fma(x);
    } else if constexpr (F == kShort) {
      x = Short(x);
    } else if constexpr (F == kMixed) {
      x = _mm512_mask_blend_epi32(fma_lanes, Short(x), Fma(x));
    } else if constexpr (F == kFmaS) {
      x = FmaS(x);
    } else if constexpr (F == kFmaZ0) {
      x = _mm512_cvtps_epi32(_mm512_fmadd_ps(_mm512_cvtepi32_ps(x), fscale, foffset));
    } else if constexpr (F == kFmaSZ0) {
      const __m512 o = _mm512_mask_blend_ps(_mm512_movepi32_mask(x), foffset, foffneg);
      x = _mm512_cvtps_epi32(_mm512_fmadd_ps(_mm512_cvtepi32_ps(x), fscale, o));
    } else if constexpr (F == kMixed64) {
      x = _mm512_mask_blend_epi32(fma_lanes, K64(x), FmaS(x));
    } else if constexpr (F == kK64) {
      x = K64(x);
    } else if constexpr (F == kXnn) {
      const __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(x), scale);
      const __mmask16 big = _mm512_cmp_ps_mask(f, _mm512_set1_ps(2147483648.f), _CMP_GE_OQ);
      x = _mm512_add_epi32(_mm512_mask_mov_epi32(_mm512_cvtps_epi32(f), big, _mm512_set1_epi32(INT32_MAX)), zout);
    } else {
      x = _mm512_add_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(x), scale)), zout);
    }
    return x;
  }
  __m512i operator()(__m512i x) const {
    switch (form) {
      case kFma: return Apply<kFma>(x);
      case kShort: return Apply<kShort>(x);
      case kMixed: return Apply<kMixed>(x);
      case kFmaS: return Apply<kFmaS>(x);
      case kFmaZ0: return Apply<kFmaZ0>(x);
      case kFmaSZ0: return Apply<kFmaSZ0>(x);
      case kMixed64: return Apply<kMixed64>(x);
      case kK64: return Apply<kK64>(x);
      case kXnn: return Apply<kXnn>(x);
      case kXnnInRange: break;
    }
    return Apply<kXnnInRange>(x);
  }
};

// Stores n (<= 16) clamped int32 as bytes (values are inside the type's range: truncation is exact).
inline void StoreZ(uint8_t* dst, __m512i v, int n) {
  const __m128i b = _mm512_cvtepi32_epi8(v);
  if (n >= 16)
    _mm_storeu_si128((__m128i*)dst, b);
  else
    _mm_mask_storeu_epi8(dst, (__mmask16)((1u << n) - 1), b);
}

// P (4 or 8) pixels x NP (1 or 2) panels of 16 channels: the accumulation, then the output stage
// and the stores of `pixels` pixels. Panel q's weights start at w + q * panel_stride and its
// channels at offset 16 q of os and of out[r].
template <int P, int NP>
void Tile(int pixels, int taps, int icq, const uint8_t* const* rows_a, const uint8_t* const* rows_b, const int8_t* w,
          int64_t panel_stride, const GemmOutput& os, int n, uint8_t* const* out) {
  __m512i acc[NP][P];
  for (int q = 0; q < NP; ++q) {
    const __m512i bias = _mm512_loadu_si512(os.bias + 16 * q);
    for (int i = 0; i < P; ++i) acc[q][i] = bias;
  }
  const int8_t* w1 = w + (NP > 1 ? panel_stride : 0);
  for (int t = 0; t < taps; ++t) {
    const uint8_t* r[P];
    for (int i = 0; i < P; ++i) r[i] = i < 4 ? rows_a[t * 4 + i] : rows_b[t * 4 + i - 4];
    for (int j = 0; j < icq; ++j) {
      const __m512i w0v = _mm512_load_si512(w);
      const __m512i w1v = NP > 1 ? _mm512_load_si512(w1) : w0v;
      for (int i = 0; i < P; ++i) {
        const __m512i x = Bcast4(r[i] + 4 * j);
        acc[0][i] = _mm512_dpbusd_epi32(acc[0][i], x, w0v);
        if (NP > 1) acc[NP - 1][i] = _mm512_dpbusd_epi32(acc[NP - 1][i], x, w1v);
      }
      w += 64;
      w1 += 64;
    }
  }
  for (int q = 0; q < NP; ++q) {
    const int nq = n - 16 * q < 16 ? n - 16 * q : 16;
    if (os.mode == RequantMode::kTflite && !os.k64) {
      // The two-step TFLite stage (a right shift outside [0, 31]): the AVX2 code on ymm halves.
      for (int i = 0; i < pixels; ++i) {
        const __m256i lo = Requant8(_mm512_castsi512_si256(acc[q][i]), os, 16 * q);
        const __m256i hi = Requant8(_mm512_extracti64x4_epi64(acc[q][i], 1), os, 16 * q + 8);
        StoreBytes(out[i] + 16 * q, PackBytes16(lo, hi, os.is_uint8), nq);
      }
    } else {
      const OutputZ stage(os, 16 * q);
      for (int i = 0; i < pixels; ++i) StoreZ(out[i] + 16 * q, stage(acc[q][i]), nq);
    }
  }
}

// The accumulation of an 8-pixel x 32-channel tile (two panels) into a[0..15]: a[i] pixel i of
// panel 0, a[8 + i] of panel 1, starting from the biases b0, b1. Rows: pixel i < 4 of tap t at
// ra[4 t + i], pixel i >= 4 at rb[4 t + i - 4]; weights: panel 0 at w, panel 1 at w + ps, 64 bytes
// per quad. taps >= 1, icq >= 1.
#if !defined(QAT_VNNI_EMULATED)
// One asm loop nest with the accumulators in registers and one byte offset (rax) shared by the 8
// rows of a tap (base + index addressing): GCC's own loop steps each row pointer, 10 pointer adds
// per 16 vpdpbusd + 10 loads, which leaves the 6-wide front end little room; here 2 adds remain.
// Measured on one Xeon (Sapphire Rapids class) core: the 8 x 32 tile at K = 512 with its output
// stage, 383 -> 382 ns in isolation but 0.61 -> 0.65 of the vpdpbusd peak in BM_Conv.
// Always inlined: as a call (GCC's choice with the run's many instantiations) the 16 results went
// through memory to the stage.
__attribute__((always_inline)) inline void Mac8x2(__m512i (&a)[16], __m512i b0, __m512i b1, int taps, int icq,
                                                  const uint8_t* const* ra, const uint8_t* const* rb,
                                                  const int8_t* w, int64_t ps) {
  int64_t t = taps;
  const int64_t end = 4 * (int64_t)icq;
  asm volatile(
      "vmovdqa64 %[b0], %[a0]\n\t"
      "vmovdqa64 %[b0], %[a1]\n\t"
      "vmovdqa64 %[b0], %[a2]\n\t"
      "vmovdqa64 %[b0], %[a3]\n\t"
      "vmovdqa64 %[b0], %[a4]\n\t"
      "vmovdqa64 %[b0], %[a5]\n\t"
      "vmovdqa64 %[b0], %[a6]\n\t"
      "vmovdqa64 %[b0], %[a7]\n\t"
      "vmovdqa64 %[b1], %[a8]\n\t"
      "vmovdqa64 %[b1], %[a9]\n\t"
      "vmovdqa64 %[b1], %[a10]\n\t"
      "vmovdqa64 %[b1], %[a11]\n\t"
      "vmovdqa64 %[b1], %[a12]\n\t"
      "vmovdqa64 %[b1], %[a13]\n\t"
      "vmovdqa64 %[b1], %[a14]\n\t"
      "vmovdqa64 %[b1], %[a15]\n\t"
      "2:\n\t"
      "mov 0(%[ra]), %%r8\n\t"
      "mov 8(%[ra]), %%r9\n\t"
      "mov 16(%[ra]), %%r10\n\t"
      "mov 24(%[ra]), %%r11\n\t"
      "mov 0(%[rb]), %%r12\n\t"
      "mov 8(%[rb]), %%r13\n\t"
      "mov 16(%[rb]), %%r14\n\t"
      "mov 24(%[rb]), %%r15\n\t"
      "xor %%eax, %%eax\n\t"
      "1:\n\t"
      "vmovdqa64 (%[w]), %%zmm30\n\t"
      "vmovdqa64 (%[w],%[ps]), %%zmm31\n\t"
      "vpbroadcastd (%%r8,%%rax), %%zmm29\n\t"
      "vpdpbusd %%zmm30, %%zmm29, %[a0]\n\t"
      "vpdpbusd %%zmm31, %%zmm29, %[a8]\n\t"
      "vpbroadcastd (%%r9,%%rax), %%zmm29\n\t"
      "vpdpbusd %%zmm30, %%zmm29, %[a1]\n\t"
      "vpdpbusd %%zmm31, %%zmm29, %[a9]\n\t"
      "vpbroadcastd (%%r10,%%rax), %%zmm29\n\t"
      "vpdpbusd %%zmm30, %%zmm29, %[a2]\n\t"
      "vpdpbusd %%zmm31, %%zmm29, %[a10]\n\t"
      "vpbroadcastd (%%r11,%%rax), %%zmm29\n\t"
      "vpdpbusd %%zmm30, %%zmm29, %[a3]\n\t"
      "vpdpbusd %%zmm31, %%zmm29, %[a11]\n\t"
      "vpbroadcastd (%%r12,%%rax), %%zmm29\n\t"
      "vpdpbusd %%zmm30, %%zmm29, %[a4]\n\t"
      "vpdpbusd %%zmm31, %%zmm29, %[a12]\n\t"
      "vpbroadcastd (%%r13,%%rax), %%zmm29\n\t"
      "vpdpbusd %%zmm30, %%zmm29, %[a5]\n\t"
      "vpdpbusd %%zmm31, %%zmm29, %[a13]\n\t"
      "vpbroadcastd (%%r14,%%rax), %%zmm29\n\t"
      "vpdpbusd %%zmm30, %%zmm29, %[a6]\n\t"
      "vpdpbusd %%zmm31, %%zmm29, %[a14]\n\t"
      "vpbroadcastd (%%r15,%%rax), %%zmm29\n\t"
      "vpdpbusd %%zmm30, %%zmm29, %[a7]\n\t"
      "vpdpbusd %%zmm31, %%zmm29, %[a15]\n\t"
      "add $64, %[w]\n\t"
      "add $4, %%rax\n\t"
      "cmp %[end], %%rax\n\t"
      "jne 1b\n\t"
      "add $32, %[ra]\n\t"
      "add $32, %[rb]\n\t"
      "decq %[t]\n\t"
      "jnz 2b\n\t"
      : [a0] "=&v"(a[0]), [a1] "=&v"(a[1]), [a2] "=&v"(a[2]), [a3] "=&v"(a[3]), [a4] "=&v"(a[4]),
        [a5] "=&v"(a[5]), [a6] "=&v"(a[6]), [a7] "=&v"(a[7]), [a8] "=&v"(a[8]), [a9] "=&v"(a[9]), [a10] "=&v"(a[10]),
        [a11] "=&v"(a[11]), [a12] "=&v"(a[12]), [a13] "=&v"(a[13]), [a14] "=&v"(a[14]), [a15] "=&v"(a[15]),
        [ra] "+r"(ra), [rb] "+r"(rb), [w] "+r"(w), [t] "+m"(t)
      : [b0] "v"(b0), [b1] "v"(b1), [ps] "r"(ps), [end] "m"(end)
      : "rax", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "xmm29", "xmm30", "xmm31", "cc", "memory");
}
#else
inline void Mac8x2(__m512i (&a)[16], __m512i b0, __m512i b1, int taps, int icq, const uint8_t* const* ra,
                   const uint8_t* const* rb, const int8_t* w, int64_t ps) {
  for (int i = 0; i < 8; ++i) {
    a[i] = b0;
    a[8 + i] = b1;
  }
  for (int t = 0; t < taps; ++t) {
    for (int j = 0; j < icq; ++j, w += 64) {
      const __m512i w0 = _mm512_load_si512(w), w1 = _mm512_load_si512(w + ps);
      for (int i = 0; i < 8; ++i) {
        const __m512i x = Bcast4((i < 4 ? ra[4 * t + i] : rb[4 * t + i - 4]) + 4 * j);
        a[i] = _mm512_dpbusd_epi32(a[i], x, w0);
        a[8 + i] = _mm512_dpbusd_epi32(a[8 + i], x, w1);
      }
    }
  }
}
#endif

// How a run turns 16 levels into bytes. The clamp range lies inside the output type, so
// saturating to the type first and clamping after gives the same bytes as clamping the int32
// levels: kSatI8 / kSatU8, a clamp that is the whole type, is the saturating down-conversion alone
// (vpmovsdb; uint8: vpmovusdb of max(x, 0), as it reads the lane unsigned); kClampI8 / kClampU8
// clamp the 16 bytes after it on xmm (ports 0, 1 and 5, where the zmm clamp had 0 and 5 only,
// which the vpdpbusd loop needs): 2 or 3 instructions on the zmm ports instead of 4 (max, min,
// vpmovdb's two).
enum class Bytes { kSatI8, kSatU8, kClampI8, kClampU8 };
template <Bytes B>
inline __m128i ToBytes(__m512i x, __m128i lo, __m128i hi) {
  if constexpr (B == Bytes::kSatI8) return _mm512_cvtsepi32_epi8(x);
  if constexpr (B == Bytes::kClampI8) return _mm_min_epi8(_mm_max_epi8(_mm512_cvtsepi32_epi8(x), lo), hi);
  const __m128i u = _mm512_cvtusepi32_epi8(_mm512_max_epi32(x, _mm512_setzero_si512()));
  if constexpr (B == Bytes::kSatU8) return u;
  return _mm_min_epu8(_mm_max_epu8(u, lo), hi);
}

// Two pixels' 32 levels each (x0 | x1 for pixel i, x2 | x3 for pixel i + 1) as bytes in one zmm,
// pixel i in the low 256 bits: vpackssdw twice and vpacksswb / vpackuswb once (saturating int32
// -> int16 -> int8 / uint8 composes to the saturating int32 -> int8 / uint8 that vpmovsdb /
// vpmovusdb of max(x, 0) give), then one vpermd to undo the packs' 128-bit lane interleave: 4
// shuffle-port instructions per 64 outputs where four vpmovsdb take 8. Then the clamp, on the
// bytes (kClamp*).
template <Bytes B>
inline __m512i PackPixels(__m512i x0, __m512i x1, __m512i x2, __m512i x3, __m512i perm, __m512i lo, __m512i hi) {
  const __m512i p01 = _mm512_packs_epi32(x0, x1), p23 = _mm512_packs_epi32(x2, x3);
  if constexpr (B == Bytes::kSatI8 || B == Bytes::kClampI8) {
    const __m512i b = _mm512_permutexvar_epi32(perm, _mm512_packs_epi16(p01, p23));
    if constexpr (B == Bytes::kSatI8) return b;
    return _mm512_min_epi8(_mm512_max_epi8(b, lo), hi);
  } else {
    const __m512i b = _mm512_permutexvar_epi32(perm, _mm512_packus_epi16(p01, p23));
    if constexpr (B == Bytes::kSatU8) return b;
    return _mm512_min_epu8(_mm512_max_epu8(b, lo), hi);
  }
}

// `pairs` full tile pairs (8 pixels, both panels with all 16 channels) from the run's first pixel,
// the stage of form F on both panels: no per-tile calls, stage constants set up once per run.
template <OutputZ::Form F, Bytes B>
void RunFull(int64_t pairs, const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
             int64_t ps, const GemmOutput& os, const OutputZ& stage0, const OutputZ& stage1) {
  const OutputZ s0 = stage0, s1 = stage1;  // local copies: the byte stores cannot alias them
  const __m512i b0 = _mm512_loadu_si512(os.bias), b1 = _mm512_loadu_si512(os.bias + 16);
  const __m512i lo = _mm512_set1_epi8((char)os.act_min), hi = _mm512_set1_epi8((char)os.act_max);
  // Byte quads of the packed zmm: lane j holds quad j of x0, x1, x2, x3 (dwords 4j .. 4j + 3).
  const __m512i perm = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  const int64_t ts = (int64_t)taps * 4, stride = run.out_stride;
  for (int64_t k = 0; k < pairs; ++k) {
    const uint8_t* const* ra = table + 2 * k * ts;
    __m512i a[16];
    Mac8x2(a, b0, b1, taps, icq, ra, ra + ts, w, ps);
    uint8_t* o = run.out + (run.m0 + 8 * k) * stride;
    for (int i = 0; i < 8; i += 2) {
      const __m512i v = PackPixels<B>(s0.template Level<F>(a[i]), s1.template Level<F>(a[8 + i]),
                                      s0.template Level<F>(a[i + 1]), s1.template Level<F>(a[9 + i]), perm, lo, hi);
      _mm256_storeu_si256((__m256i*)(o + i * stride), _mm512_castsi512_si256(v));
      _mm256_storeu_si256((__m256i*)(o + (i + 1) * stride), _mm512_extracti64x4_epi64(v, 1));
    }
  }
}
// The AMX twin of RunFull (AMX-INT8 tdpbusd on tile registers): `blocks` 16-pixel blocks from the
// run's first pixel, both panels full, icq a multiple of 16 (whole 64-byte K steps: the u8 rows and
// the panels [tap][icq][16][4] are read as 16 x 64-byte tiles). Tiles: C 0..3 (16 pixels x 16
// channels of int32 each: pixel blocks 0 / 1 x panels 0 / 1), A 4 / 5 (16 pixels x 64 u8 of the
// depth), B 6 / 7 (16 quads x 16 channels x 4 int8 of panel 0 / 1, the VNNI panel layout as it is).
// icq below 16 (a short depth, K = 4 icq < 64: first layers' im2col rows, 32-channel inputs): one K
// step of icq quads per tap, A tiles of 4 icq bytes per row and B tiles of icq rows.
// tdpbusd adds the u8 x s8 products to the int32 lanes with wrap-around, as vpdpbusd: the same
// accumulators, then the same zmm stage (OutputZ, PackPixels) from the tiles stored to memory.
// A tile's 16 rows are one tileloadd: a tap's 16 row pointers must step evenly (direct 1x1 layers,
// FC, the im2col rows conv.cpp builds for the others); the blocks from the first that does not are
// left to the caller.
#if !defined(QAT_VNNI_EMULATED)
// Hand-written asm with "memory" clobbers: GCC 12's intrinsics declare no memory operands, so
// stores to the copied rows or loads of the stored tiles could move across them.
#define QAT_TILE_LOAD(t, p, s) asm volatile("tileloadd (%0,%1,1), %%tmm" #t ::"r"(p), "r"((int64_t)(s)) : "memory")
#define QAT_TILE_STORE(t, p, s) asm volatile("tilestored %%tmm" #t ", (%0,%1,1)" ::"r"(p), "r"((int64_t)(s)) : "memory")
#define QAT_TILE_DP(c, a, b) asm volatile("tdpbusd %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)
#define QAT_TILE_DPUU(c, a, b) asm volatile("tdpbuud %%tmm" #b ", %%tmm" #a ", %%tmm" #c ::)
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};
// C tiles 0..3 16 x 64 bytes; A tiles 4, 5 16 rows of 4 kq bytes; B tiles 6, 7 kq rows of 64 bytes.
inline void ConfigureTiles(int kq) {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = (uint16_t)(t == 4 || t == 5 ? 4 * kq : 64);
    cfg.rows[t] = (uint8_t)(t >= 6 ? kq : 16);
  }
  asm volatile("ldtilecfg %0" ::"m"(cfg));
}
inline void ReleaseTiles() { asm volatile("tilerelease" ::: "memory"); }
#else
// The emulation: 8 tiles of 16 x 64 bytes in memory, the instructions' definitions in scalar code.
struct EmulatedTiles {
  alignas(64) uint8_t t[8][16][64];
  int rows[8], colsb[8];  // the configuration (ldtilecfg)
};
inline EmulatedTiles& Tiles() {
  thread_local EmulatedTiles tiles;
  return tiles;
}
// Loads read the configured rows x colsb bytes only and zero the rest of the tile, as tileloadd.
inline void TileLoad(int t, const void* p, int64_t s) {
  EmulatedTiles& T = Tiles();
  std::memset(T.t[t], 0, sizeof T.t[t]);
  for (int r = 0; r < T.rows[t]; ++r) std::memcpy(T.t[t][r], static_cast<const uint8_t*>(p) + r * s, T.colsb[t]);
}
inline void TileStore(int t, void* p, int64_t s) {
  EmulatedTiles& T = Tiles();
  for (int r = 0; r < T.rows[t]; ++r) std::memcpy(static_cast<uint8_t*>(p) + r * s, T.t[t][r], T.colsb[t]);
}
// tdpbusd: C (16 x 16 int32) += A (16 x 4K u8) . B (K x 16 x 4 s8), K = A's colsb / 4 = B's rows.
template <bool kUU = false>
inline void TileDp(int c, int a, int b) {
  EmulatedTiles& T = Tiles();
  const int K = T.colsb[a] / 4;
  if (K != T.rows[b] || T.rows[a] != 16 || T.rows[c] != 16 || T.colsb[b] != 64 || T.colsb[c] != 64) std::abort();
  for (int m = 0; m < 16; ++m)
    for (int n = 0; n < 16; ++n) {
      int32_t acc;
      std::memcpy(&acc, &T.t[c][m][4 * n], 4);
      uint32_t sum = (uint32_t)acc;
      for (int k = 0; k < K; ++k)
        for (int j = 0; j < 4; ++j)
          sum += (uint32_t)((int32_t)T.t[a][m][4 * k + j] *
                            (kUU ? (int32_t)T.t[b][k][4 * n + j] : (int32_t)(int8_t)T.t[b][k][4 * n + j]));
      acc = (int32_t)sum;
      std::memcpy(&T.t[c][m][4 * n], &acc, 4);
    }
}
#define QAT_TILE_LOAD(t, p, s) TileLoad(t, p, s)
#define QAT_TILE_STORE(t, p, s) TileStore(t, p, s)
#define QAT_TILE_DP(c, a, b) TileDp(c, a, b)
#define QAT_TILE_DPUU(c, a, b) TileDp<true>(c, a, b)
inline void ConfigureTiles(int kq) {
  EmulatedTiles& T = Tiles();
  for (int t = 0; t < 8; ++t) {
    T.colsb[t] = t == 4 || t == 5 ? 4 * kq : 64;
    T.rows[t] = t >= 6 ? kq : 16;
  }
}
inline void ReleaseTiles() {}
#endif

// A block's 16 row pointers for each tap, from the run's row table.
struct BlockRows {
  const uint8_t* const* rows;  // the block's first 4-pixel tile's row table
  int64_t ts;                  // table entries per 4-pixel tile (taps * 4)
  const uint8_t* Row(int tap, int i) const { return rows[(i >> 2) * ts + tap * 4 + (i & 3)]; }
  // Base and stride when the 16 rows step evenly, else null.
  const uint8_t* Even(int tap, int64_t* stride) const {
    const uint8_t* p0 = Row(tap, 0);
    const int64_t s = Row(tap, 1) - p0;
    for (int i = 2; i < 16; ++i)
      if (Row(tap, i) != p0 + i * s) return nullptr;
    *stride = s;
    return p0;
  }
};
// Where a block's A tiles of tap `tap` start: base + kb * 64 for K step kb, rows `stride` apart.
struct TapRows {
  const uint8_t* base;
  int64_t stride;
};
// The taps' TapRows of a block; false where a tap's rows do not step evenly.
inline bool EvenRows(const BlockRows& b, int taps, TapRows* out) {
  for (int tap = 0; tap < taps; ++tap) {
    int64_t stride = 0;
    const uint8_t* e = b.Even(tap, &stride);
    if (!e) return false;
    out[tap] = {e, stride};
  }
  return true;
}

// Returns the blocks done: all of them, or those before the first block whose rows do not step
// evenly (the caller runs the rest on the VNNI tile; conv.cpp gives AMX 1x1 layers and im2col rows,
// whose rows always do).
// tail_valid (1..15, one tap only): one more block after the `blocks` whole ones with that many
// pixels, its 16 rows at table row 0 + i * tail_stride (the rows past the last pixel are read,
// computed and not stored: the caller keeps them readable).
template <OutputZ::Form F, Bytes B>
int64_t AmxBlocks(int64_t blocks, const TileRun& run, int taps, int icq, const uint8_t* const* table,
                  const int8_t* w, int64_t ps, const GemmOutput& os, const OutputZ& stage0, const OutputZ& stage1,
                  int tail_valid, int64_t tail_stride, const AmxUU* uu) {
  const OutputZ s0 = stage0, s1 = stage1;
  const __m512i lo = _mm512_set1_epi8((char)os.act_min), hi = _mm512_set1_epi8((char)os.act_max);
  const __m512i perm = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
  // The accumulators start at the bias: 16 rows of both panels' 32 biases, one tile load per tile.
  alignas(64) int32_t bias[16][32];
  for (int r = 0; r < 16; ++r) std::memcpy(bias[r], os.bias, sizeof bias[r]);
  // The stored C tiles (pixel x 32 channels), two passes' worth: a pass stages the tiles the pass
  // before it stored, not its own, whose tilestored may not have reached the cache yet.
  alignas(64) int32_t acc[2][32][32];
  const int64_t ts = (int64_t)taps * 4, stride = run.out_stride;
  // K steps of kq quads: 16 (icq a multiple of 16) or all icq < 16 at once.
  const int kq = std::min(icq, 16), kbs = icq / kq;
  const int64_t wstep = 64 * (int64_t)kq;
  thread_local std::vector<TapRows> rows;
  rows.resize((size_t)2 * taps);
  TapRows* const a0 = rows.data();
  TapRows* const a1 = a0 + taps;
  int cur = 0;
  int64_t b = 0;
  // The stage of `pixels` pixels stored in acc[a], from pixel m of the run (an odd count computes
  // the pair's second pixel and does not store it).
  auto stage = [&](int a, int64_t m, int pixels) {
    uint8_t* o = run.out + m * stride;
    const int32_t(*c)[32] = acc[a];
    for (int i = 0; i < pixels; i += 2) {
      __m512i x0 = _mm512_load_si512(c[i]), x1 = _mm512_load_si512(c[i] + 16);
      __m512i x2 = _mm512_load_si512(c[i + 1]), x3 = _mm512_load_si512(c[i + 1] + 16);
      if (uu) {  // u8 x u8: less Z_w * sum(x) of each pixel
        const __m512i r0 = _mm512_set1_epi32((int32_t)((uint32_t)uu->zw * (uint32_t)uu->rowsum[m + i]));
        const __m512i r1 = _mm512_set1_epi32(
            i + 1 < pixels ? (int32_t)((uint32_t)uu->zw * (uint32_t)uu->rowsum[m + i + 1]) : 0);
        x0 = _mm512_sub_epi32(x0, r0);
        x1 = _mm512_sub_epi32(x1, r0);
        x2 = _mm512_sub_epi32(x2, r1);
        x3 = _mm512_sub_epi32(x3, r1);
      }
      const __m512i v = PackPixels<B>(s0.template Level<F>(x0), s1.template Level<F>(x1), s0.template Level<F>(x2),
                                      s1.template Level<F>(x3), perm, lo, hi);
      _mm256_storeu_si256((__m256i*)(o + i * stride), _mm512_castsi512_si256(v));
      if (i + 1 < pixels) _mm256_storeu_si256((__m256i*)(o + (i + 1) * stride), _mm512_extracti64x4_epi64(v, 1));
    }
  };
  // One block (C tiles 0 and 1) from a0's rows, staged at once: `pixels` of its 16 stored.
  auto single = [&](int64_t blk, int pixels) {
    QAT_TILE_LOAD(0, bias[0], 128);
    QAT_TILE_LOAD(1, bias[0] + 16, 128);
    const int8_t* wt = w;
    for (int tap = 0; tap < taps; ++tap) {
      const TapRows r0 = a0[tap];
      for (int kb = 0; kb < kbs; ++kb, wt += wstep) {
        QAT_TILE_LOAD(4, r0.base + 64 * kb, r0.stride);
        QAT_TILE_LOAD(6, wt, 64);
        QAT_TILE_LOAD(7, wt + ps, 64);
        if (uu) {
          QAT_TILE_DPUU(0, 4, 6);
          QAT_TILE_DPUU(1, 4, 7);
        } else {
          QAT_TILE_DP(0, 4, 6);
          QAT_TILE_DP(1, 4, 7);
        }
      }
    }
    QAT_TILE_STORE(0, acc[cur][0], 128);
    QAT_TILE_STORE(1, acc[cur][0] + 16, 128);
    stage(cur, run.m0 + 16 * blk, pixels);
  };
  ConfigureTiles(kq);
  for (; b + 2 <= blocks; b += 2, cur ^= 1) {
    if (!EvenRows(BlockRows{table + 4 * b * ts, ts}, taps, a0) ||
        !EvenRows(BlockRows{table + 4 * (b + 1) * ts, ts}, taps, a1))
      break;
    QAT_TILE_LOAD(0, bias[0], 128);
    QAT_TILE_LOAD(1, bias[0] + 16, 128);
    QAT_TILE_LOAD(2, bias[0], 128);
    QAT_TILE_LOAD(3, bias[0] + 16, 128);
    const int8_t* wt = w;
    for (int tap = 0; tap < taps; ++tap) {
      const TapRows r0 = a0[tap], r1 = a1[tap];
      for (int kb = 0; kb < kbs; ++kb, wt += wstep) {
        QAT_TILE_LOAD(4, r0.base + 64 * kb, r0.stride);
        QAT_TILE_LOAD(6, wt, 64);
        QAT_TILE_LOAD(7, wt + ps, 64);
        QAT_TILE_LOAD(5, r1.base + 64 * kb, r1.stride);
        if (uu) {
          QAT_TILE_DPUU(0, 4, 6);
          QAT_TILE_DPUU(1, 4, 7);
          QAT_TILE_DPUU(2, 5, 6);
          QAT_TILE_DPUU(3, 5, 7);
        } else {
          QAT_TILE_DP(0, 4, 6);
          QAT_TILE_DP(1, 4, 7);
          QAT_TILE_DP(2, 5, 6);
          QAT_TILE_DP(3, 5, 7);
        }
      }
    }
    QAT_TILE_STORE(0, acc[cur][0], 128);
    QAT_TILE_STORE(1, acc[cur][0] + 16, 128);
    QAT_TILE_STORE(2, acc[cur][16], 128);
    QAT_TILE_STORE(3, acc[cur][16] + 16, 128);
    if (b > 0) stage(cur ^ 1, run.m0 + 16 * (b - 2), 32);
  }
  if (b > 0) stage(cur ^ 1, run.m0 + 16 * (b - 2), 32);
  if (b + 2 > blocks && b < blocks && EvenRows(BlockRows{table + 4 * b * ts, ts}, taps, a0)) {
    single(b, 16);  // a last whole block
    ++b;
  }
  if (b == blocks && tail_valid > 0 && taps == 1) {
    // The partial block: its valid rows must step by tail_stride; the rest extend them.
    const BlockRows r{table + 4 * b * ts, ts};
    const uint8_t* base = r.Row(0, 0);
    bool even = true;
    for (int i = 1; i < tail_valid; ++i) even = even && r.Row(0, i) == base + i * tail_stride;
    if (even) {
      a0[0] = {base, tail_stride};
      single(b, tail_valid);
      ReleaseTiles();
      return -(b + 1);  // the partial block done too
    }
  }
  ReleaseTiles();
  return b;
}

// The byte form of the run's clamp: the saturating conversion alone where the clamp is the whole type.
inline Bytes BytesFor(const GemmOutput& os) {
  const bool full = os.is_uint8 ? os.act_min == 0 && os.act_max == 255 : os.act_min == -128 && os.act_max == 127;
  return os.is_uint8 ? (full ? Bytes::kSatU8 : Bytes::kClampU8) : (full ? Bytes::kSatI8 : Bytes::kClampI8);
}

// RunFull (kAmx false: `count` tile pairs) or AmxBlocks (kAmx: `count` 16-pixel blocks) of form F;
// returns the pairs or blocks done.
template <bool kAmx, OutputZ::Form F>
int64_t RunForm(int64_t count, const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
             int64_t ps, const GemmOutput& os, const OutputZ& stage0, const OutputZ& stage1, int tail_valid,
             int64_t tail_stride, const AmxUU* uu) {
  auto go = [&](auto bytes) -> int64_t {
    constexpr Bytes kB = decltype(bytes)::value;
    if constexpr (kAmx) {
      return AmxBlocks<F, kB>(count, run, taps, icq, table, w, ps, os, stage0, stage1, tail_valid, tail_stride, uu);
    } else {
      RunFull<F, kB>(count, run, taps, icq, table, w, ps, os, stage0, stage1);
      return count;
    }
  };
  switch (BytesFor(os)) {
    case Bytes::kSatI8: return go(std::integral_constant<Bytes, Bytes::kSatI8>{});
    case Bytes::kSatU8: return go(std::integral_constant<Bytes, Bytes::kSatU8>{});
    case Bytes::kClampI8: return go(std::integral_constant<Bytes, Bytes::kClampI8>{});
    case Bytes::kClampU8: break;
  }
  return go(std::integral_constant<Bytes, Bytes::kClampU8>{});
}

// The stage form of a run over both panels of os, then RunForm<kAmx, form>.
template <bool kAmx>
int64_t RunForms(int64_t count, const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
              int64_t ps, const GemmOutput& os, int tail_valid = 0, int64_t tail_stride = 0,
              const AmxUU* uu = nullptr) {
  using F = OutputZ::Form;
  const OutputZ s0(os, 0), s1(os, 16);
  // Panels of one form up to the zero add (one zero-free, one not) take the form with it.
  const F b0 = OutputZ::Base(s0.form), b1 = OutputZ::Base(s1.form);
  const F f = s0.form == s1.form ? s0.form : b0 == b1 ? b0 : os.kshort ? F::kMixed : F::kMixed64;
  // Panels of different forms: kMixed (kMixed64 without kshort) on both, each panel's own
  // forms blended per its fma_lanes, with 0, 8 or 16 lanes (OutputZ sets every field that form
  // reads).
  OutputZ m0 = s0, m1 = s1;
  if (b0 != b1) {
    m0 = OutputZ(os, 0, true);
    m1 = OutputZ(os, 16, true);
  }
  switch (f) {
    case F::kFma: return RunForm<kAmx, F::kFma>(count, run, taps, icq, table, w, ps, os, s0, s1, tail_valid, tail_stride, uu);
    case F::kShort: return RunForm<kAmx, F::kShort>(count, run, taps, icq, table, w, ps, os, s0, s1, tail_valid, tail_stride, uu);
    case F::kMixed: return RunForm<kAmx, F::kMixed>(count, run, taps, icq, table, w, ps, os, m0, m1, tail_valid, tail_stride, uu);
    case F::kFmaS: return RunForm<kAmx, F::kFmaS>(count, run, taps, icq, table, w, ps, os, s0, s1, tail_valid, tail_stride, uu);
    case F::kFmaZ0: return RunForm<kAmx, F::kFmaZ0>(count, run, taps, icq, table, w, ps, os, s0, s1, tail_valid, tail_stride, uu);
    case F::kFmaSZ0: return RunForm<kAmx, F::kFmaSZ0>(count, run, taps, icq, table, w, ps, os, s0, s1, tail_valid, tail_stride, uu);
    case F::kMixed64: return RunForm<kAmx, F::kMixed64>(count, run, taps, icq, table, w, ps, os, m0, m1, tail_valid, tail_stride, uu);
    case F::kK64: return RunForm<kAmx, F::kK64>(count, run, taps, icq, table, w, ps, os, s0, s1, tail_valid, tail_stride, uu);
    case F::kXnn: return RunForm<kAmx, F::kXnn>(count, run, taps, icq, table, w, ps, os, s0, s1, tail_valid, tail_stride, uu);
    case F::kXnnInRange: break;
  }
  return RunForm<kAmx, F::kXnnInRange>(count, run, taps, icq, table, w, ps, os, s0, s1, tail_valid, tail_stride, uu);
}
}  // namespace

void GemmTileVnni(int pixels, int taps, int icq, const uint8_t* const* rows_a, const uint8_t* const* rows_b,
                  const int8_t* w, int64_t panel_stride, int panels, const GemmOutput& os, int n,
                  uint8_t* const* out) {
  if (panels > 1) {
    if (pixels > 4)
      Tile<8, 2>(pixels, taps, icq, rows_a, rows_b, w, panel_stride, os, n, out);
    else
      Tile<4, 2>(pixels, taps, icq, rows_a, rows_a, w, panel_stride, os, n, out);
  } else {
    if (pixels > 4)
      Tile<8, 1>(pixels, taps, icq, rows_a, rows_b, w, panel_stride, os, n, out);
    else
      Tile<4, 1>(pixels, taps, icq, rows_a, rows_a, w, panel_stride, os, n, out);
  }
}

void GemmTilesVnni(const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                   int64_t panel_stride, int panels, const GemmOutput& os, int n) {
  const int64_t ts = (int64_t)taps * 4;
  int64_t t = 0;
  if (panels == 2 && n == 32 && taps > 0 && icq > 0 && !(os.mode == RequantMode::kTflite && !os.k64)) {
    // Leading pairs of full tiles: 8 pixels inside the image.
    int64_t pairs = std::min(run.tiles / 2, (run.M - run.m0) / 8);
    if (pairs < 0) pairs = 0;
    if (pairs > 0) RunForms<false>(pairs, run, taps, icq, table, w, panel_stride, os);
    t = 2 * pairs;
  }
  // The rest (a last tile of 4 pixels, pixels past the image, partial panels) tile by tile.
  for (; t < run.tiles; t += 2) {
    const bool two = t + 1 < run.tiles;
    const int64_t m = run.m0 + t * 4;
    const int pixels = (int)std::min<int64_t>(two ? 8 : 4, run.M - m);
    if (pixels <= 0) break;
    uint8_t* out[8];
    for (int r = 0; r < 8; ++r) out[r] = run.out + (m + std::min(r, pixels - 1)) * run.out_stride;
    const uint8_t* const* ra = table + t * ts;
    // (GemmTileVnni): no ADL, as x86 and x86::emulated both have one.
    (GemmTileVnni)(pixels, taps, icq, ra, two ? ra + ts : ra, w, panel_stride, panels, os, n, out);
  }
}

int64_t GemmTilesAmx(const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                     int64_t panel_stride, const GemmOutput& os, int64_t tail_stride, const AmxUU* uu) {
  if (taps <= 0 || icq <= 0 || (icq > 16 && icq % 16 != 0) || (os.mode == RequantMode::kTflite && !os.k64)) return 0;
  const int64_t pixels = std::min(run.M - run.m0, 4 * run.tiles);
  const int64_t blocks = pixels / 16;
  const int tail = tail_stride > 0 && taps == 1 ? (int)(pixels % 16) : 0;
  if (blocks <= 0 && tail == 0) return 0;
  const int64_t done = RunForms<true>(blocks, run, taps, icq, table, w, panel_stride, os, tail, tail_stride, uu);
  return done < 0 ? (pixels + 3) / 4 : 4 * done;  // < 0: the partial block too (every pixel)
}

void Im2colRowsAmx(const AmxIm2colRows& r, int64_t m0, int64_t rows, uint8_t* dst) {
  const int C = r.ic_pad4;
  const int64_t K = r.row_bytes;
  const int used = r.filter_h * r.filter_w * C;
  // Runs of n bytes (a multiple of 4): whole zmm, then one masked.
  auto copy = [](uint8_t* d, const uint8_t* src, int n) {
    int c = 0;
    for (; c + 64 <= n; c += 64) _mm512_storeu_si512(d + c, _mm512_loadu_si512(src + c));
    if (c < n) {
      const __mmask64 m = ((__mmask64)1 << (n - c)) - 1;
      _mm512_mask_storeu_epi8(d + c, m, _mm512_maskz_loadu_epi8(m, src + c));
    }
  };
  int ox = (int)(m0 % r.output_w);
  int oy = (int)((m0 / r.output_w) % r.output_h);
  int64_t b = m0 / ((int64_t)r.output_w * r.output_h);
  const int64_t row_stride = (int64_t)r.input_w * C;
  for (int64_t i = 0; i < rows; ++i) {
    uint8_t* d = dst + i * K;
    const int iy0 = oy * r.stride_h - r.pad_top, ix0 = ox * r.stride_w - r.pad_left;
    const uint8_t* image = r.input + b * r.input_h * row_stride;
    const bool x_inside = r.dilation_w == 1 && ix0 >= 0 && ix0 + r.filter_w <= r.input_w;
    for (int fy = 0; fy < r.filter_h; ++fy) {
      const int iy = iy0 + fy * r.dilation_h;
      uint8_t* dr = d + (int64_t)fy * r.filter_w * C;
      if (iy < 0 || iy >= r.input_h) {
        for (int fx = 0; fx < r.filter_w; ++fx) copy(dr + fx * C, r.zero_row, C);
      } else if (x_inside) {  // the filter row's taps are consecutive input pixels: one run
        copy(dr, image + iy * row_stride + (int64_t)ix0 * C, r.filter_w * C);
      } else {
        for (int fx = 0; fx < r.filter_w; ++fx) {
          const int ix = ix0 + fx * r.dilation_w;
          copy(dr + fx * C, ix >= 0 && ix < r.input_w ? image + iy * row_stride + (int64_t)ix * C : r.zero_row, C);
        }
      }
    }
    if (++ox == r.output_w) {
      ox = 0;
      if (++oy == r.output_h) {
        oy = 0;
        ++b;
      }
    }
  }
}

void RowSumsU8(const uint8_t* const* rows, int64_t n, int bytes, int32_t* out) {
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = rows[i];
    __m512i acc = _mm512_setzero_si512();
    int c = 0;
    for (; c + 64 <= bytes; c += 64) acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_loadu_si512(r + c), _mm512_setzero_si512()));
    if (c < bytes) {
      const __mmask64 m = ((__mmask64)1 << (bytes - c)) - 1;
      acc = _mm512_add_epi64(acc, _mm512_sad_epu8(_mm512_maskz_loadu_epi8(m, r + c), _mm512_setzero_si512()));
    }
    alignas(64) int64_t q[8];
    _mm512_storeu_si512(q, acc);
    out[i] = (int32_t)(q[0] + q[1] + q[2] + q[3] + q[4] + q[5] + q[6] + q[7]);
  }
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

}  // namespace qat::kernels::x86 (::emulated)
