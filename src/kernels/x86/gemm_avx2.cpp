// AVX2 implicit-GEMM micro-kernel of the optimised CONV_2D / FULLY_CONNECTED (see
// kernels/optimized/conv.h): 4 output pixels x 16 output channels, 8 int32 accumulators.
// Per int16 pair of the accumulation depth: 2 panel loads, 4 broadcasts, 8 vpmaddwd, 8 vpaddd.
// vpmaddwd multiplies int16 exactly and adds two products into int32 (it saturates only for
// (-32768)^2 * 2, impossible with |x| <= 255 and |w| <= 255), so the kernel is exact.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/x86/int8_common_avx2.h"
#include "kernels/x86/int8_x86.h"

namespace qat::kernels::x86 {

using namespace avx2;

namespace {
// kTflite output stage in one 64-bit floor division (as x86/depthwise_avx2.cpp derives):
//   h = floor((p + 2^30) / 2^31) with p = x * m, then RoundingDivideByPOT(h, r)
//     = floor((h + 2^(r-1) - [h < 0]) / 2^r)                      (r >= 1; r = 0: h)
//     = floor((p + 2^30 + 2^(30+r) - [h < 0] 2^31) / 2^(31+r))    (floor(floor(u/a)/b) = floor(u/ab))
// [h < 0] can be [p < 0] (they differ only where h = 0, and both roundings then give 0). 2^62 is
// added so the sum is positive (|p| < 2^62) and a logical vpsrlvq gives result + 2^(31-r) in the
// low 32 bits; zp64 = Z_out - 2^(31-r) takes that back out. Then the clamp.
// Four accumulator vectors (the tile's 4 pixels, channels c..c+7) with the channel constants loaded
// once. Not clamped: the caller packs with saturation and clamps the bytes (StoreTileInt).
// One vector (channels c .. c + 7); the callers' repeated constant loads are merged by the compiler.
inline __m256i K64Vec(__m256i x, const GemmOutput& os, int c) {
  const int64_t* k = os.k64 + (c / 8) * 24;
  const __m256i m = _mm256_loadu_si256((const __m256i*)(os.multiplier + c));
  const __m256i mo = _mm256_loadu_si256((const __m256i*)(os.multiplier_odd + c));
  const __m256d kpe = _mm256_load_pd((const double*)k), kne = _mm256_load_pd((const double*)(k + 4));
  const __m256d kpo = _mm256_load_pd((const double*)(k + 8)), kno = _mm256_load_pd((const double*)(k + 12));
  const __m256i she = _mm256_load_si256((const __m256i*)(k + 16)), sho = _mm256_load_si256((const __m256i*)(k + 20));
  const __m256i zp = _mm256_loadu_si256((const __m256i*)(os.zp64 + c));
  if (os.any_left) x = _mm256_sllv_epi32(x, _mm256_loadu_si256((const __m256i*)(os.left + c)));
  return _mm256_add_epi32(Floor64Div(x, m, mo, kpe, kne, kpo, kno, she, sho), zp);
}
inline void Requant4K64(__m256i* v, const GemmOutput& os, int c) {
  for (int r = 0; r < 4; ++r) v[r] = K64Vec(v[r], os, c);
}

// kXnnpack output stage of a 4-pixel x 16-channel tile when every scale is below 1
// (GemmOutput::fp32_in_range: vcvtps2dq needs no saturation fix-up), two pixels per vector:
// float(acc) * scale rounded to nearest even, vpackssdw to int16, + Z_out with int16 saturation,
// vpacksswb / vpackuswb, then the clamp on bytes, and one vpermd to restore the channel order.
// Saturating early cannot change a result: the clamp [act_min, act_max] lies inside the output
// type, |Z_out| <= 255, so any value that saturates in int16 (|v| >= 32767) clamps to the same
// bound as its exact v + Z_out would (|v + Z_out| >= 32512).
// Four pixels' 16 output bytes (b01: pixels 0 | 1, b23: 2 | 3); pixels past `pixels` are not stored.
inline void StorePixels4(__m256i b01, __m256i b23, int pixels, int n, uint8_t* const* out) {
  StoreBytes(out[0], _mm256_castsi256_si128(b01), n);
  if (pixels > 1) StoreBytes(out[1], _mm256_extracti128_si256(b01, 1), n);
  if (pixels > 2) StoreBytes(out[2], _mm256_castsi256_si128(b23), n);
  if (pixels > 3) StoreBytes(out[3], _mm256_extracti128_si256(b23, 1), n);
}

inline __m256i FpRound(__m256i a, __m256 s) { return _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(a), s)); }

inline void StoreTileFp32(__m256i a00, __m256i a01, __m256i a10, __m256i a11, __m256i a20, __m256i a21, __m256i a30,
                          __m256i a31, const GemmOutput& os, int pixels, int n, uint8_t* const* out) {
  const __m256 s0 = _mm256_loadu_ps(os.scale), s1 = _mm256_loadu_ps(os.scale + 8);
  const __m256i zp = _mm256_set1_epi16((short)os.output_offset);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const __m256i p0 = _mm256_adds_epi16(_mm256_packs_epi32(FpRound(a00, s0), FpRound(a01, s1)), zp);
  const __m256i p1 = _mm256_adds_epi16(_mm256_packs_epi32(FpRound(a10, s0), FpRound(a11, s1)), zp);
  const __m256i p2 = _mm256_adds_epi16(_mm256_packs_epi32(FpRound(a20, s0), FpRound(a21, s1)), zp);
  const __m256i p3 = _mm256_adds_epi16(_mm256_packs_epi32(FpRound(a30, s0), FpRound(a31, s1)), zp);
  __m256i b01, b23;
  if (os.is_uint8) {
    const __m256i lo = _mm256_set1_epi8((char)os.act_min), hi = _mm256_set1_epi8((char)os.act_max);
    b01 = _mm256_min_epu8(_mm256_max_epu8(_mm256_packus_epi16(p0, p1), lo), hi);
    b23 = _mm256_min_epu8(_mm256_max_epu8(_mm256_packus_epi16(p2, p3), lo), hi);
  } else {
    const __m256i lo = _mm256_set1_epi8((char)os.act_min), hi = _mm256_set1_epi8((char)os.act_max);
    b01 = _mm256_min_epi8(_mm256_max_epi8(_mm256_packs_epi16(p0, p1), lo), hi);
    b23 = _mm256_min_epi8(_mm256_max_epi8(_mm256_packs_epi16(p2, p3), lo), hi);
  }
  b01 = _mm256_permutevar8x32_epi32(b01, order);  // pixel 0 | pixel 1, 16 channels each
  b23 = _mm256_permutevar8x32_epi32(b23, order);
  StorePixels4(b01, b23, pixels, n, out);
}

// The other output stages (kTflite; kXnnpack with a scale >= 1) of a 4 x 16 tile. acc: pixels 0-3
// channels 0-7, then 8-15. Pixels past `pixels` repeat pixel 0's rows, so all four are computed.
// Two pixels' int32 (lo: channels 0-7, hi: 8-15) as 32 bytes, pixel a then pixel b, saturated to
// the output type (clamped values pass unchanged; unclamped ones are clamped on the bytes after).
inline __m256i PackPixels2(__m256i lo_a, __m256i hi_a, __m256i lo_b, __m256i hi_b, bool is_uint8) {
  const __m256i a = _mm256_packs_epi32(lo_a, hi_a), b = _mm256_packs_epi32(lo_b, hi_b);
  const __m256i v = is_uint8 ? _mm256_packus_epi16(a, b) : _mm256_packs_epi16(a, b);
  return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// kTflite, the short ReLU form (GemmOutput::kshort): every right shift r in 1..kShortMaxRight, no
// left shift, act_min >= Z_out. The 64-bit form's sum with the zero point folded in,
//   S = p + 2^30 + 2^(30+r) + Z_out 2^(31+r),   |S| < 2^62 + 2^61 < 2^63 for r <= 21,
// gives floor(S / 2^(31+r)) = result + Z_out for p >= 0, and floor(S / 2^(31+r)) = floor(floor(S /
// 2^32) / 2^(r-1)): the high halves of the 64-bit sums (one blend) and one vpsravd by r - 1. The
// sign-dependent constant is dropped: for p < 0 the exact result is <= 0 (both roundings of a
// negative value are <= 0), and so is this one (p + 2^30 + 2^(30+r) < 2^(31+r)); both then give at
// most Z_out <= act_min, which the clamp maps to act_min. 8 instructions per 8 outputs instead of 12.
inline __m256i ShortVec(__m256i x, const GemmOutput& os, int c) {
  const int64_t* k = os.kshort + (c / 8) * 12;
  const __m256i m = _mm256_loadu_si256((const __m256i*)(os.multiplier + c));
  const __m256i mo = _mm256_loadu_si256((const __m256i*)(os.multiplier_odd + c));
  const __m256i ke = _mm256_load_si256((const __m256i*)k), ko = _mm256_load_si256((const __m256i*)(k + 4));
  const __m256i sh = _mm256_load_si256((const __m256i*)(k + 8));
  return ShortRelu(x, m, mo, ke, ko, sh);
}
// The same stage as one fp32 FMA where optimized/fma_stage.h proved it exact for the group's 8
// channels (GemmOutput::fma_groups): vcvtps2dq(fma(float(x), scale, offset)) gives the level
// minus the pair's centre, + centre + Z_out (fma_zero) as ShortVec's result has. 5 instructions
// per 8 outputs instead of 8.
inline bool FmaGroup(const GemmOutput& os, int c) { return os.fma_groups && os.fma_groups[c / 8]; }
inline __m256i FmaVec(__m256i x, const GemmOutput& os, int c) {
  return _mm256_add_epi32(FmaRound(x, _mm256_loadu_ps(os.fma_scale + c), _mm256_loadu_ps(os.fma_offset + c)),
                          _mm256_loadu_si256((const __m256i*)(os.fma_zero + c)));
}
inline void Requant4Fma(__m256i* v, const GemmOutput& os, int c) {
  for (int r = 0; r < 4; ++r) v[r] = FmaVec(v[r], os, c);
}
// kShort on a panel where only some groups have the FMA form: each group its own.
inline void Requant4Short(__m256i* v, const GemmOutput& os, int c) {
  if (FmaGroup(os, c)) return Requant4Fma(v, os, c);
  for (int r = 0; r < 4; ++r) v[r] = ShortVec(v[r], os, c);
}

// The tile's output stage, one instantiation each: the fp32 one (kXnnpack, scales < 1), the
// short ReLU one, its FMA form on every group of the call, and the k64 one (kTflite), and the
// others through StoreTileGeneric.
enum class Stage { kFp32, kK64, kShort, kFma, kGeneric };

// kTflite with the 64-bit division (GemmOutput::k64; kShort: its short ReLU form, kshort). The
// clamp comes after the saturating packs, on bytes (one min/max per 32 outputs instead of per 8);
// exact for the reason StoreTileFp32 gives. Inlined into the tile bodies (one tile instantiation
// per stage, so the other stages' code stays out of the loop's registers).
template <Stage kStage>
__attribute__((always_inline)) inline void StoreTileInt(const __m256i* acc, const GemmOutput& os, int pixels, int n,
                                                        uint8_t* const* out) {
  __m256i lo[4] = {acc[0], acc[1], acc[2], acc[3]}, hi[4] = {acc[4], acc[5], acc[6], acc[7]};
  if constexpr (kStage == Stage::kFma) {
    Requant4Fma(lo, os, 0);
    Requant4Fma(hi, os, 8);
  } else if constexpr (kStage == Stage::kShort) {
    Requant4Short(lo, os, 0);
    Requant4Short(hi, os, 8);
  } else {
    Requant4K64(lo, os, 0);
    Requant4K64(hi, os, 8);
  }
  __m256i b01 = PackPixels2(lo[0], hi[0], lo[1], hi[1], os.is_uint8);
  __m256i b23 = PackPixels2(lo[2], hi[2], lo[3], hi[3], os.is_uint8);
  const __m256i bmin = _mm256_set1_epi8((char)os.act_min), bmax = _mm256_set1_epi8((char)os.act_max);
  if (os.is_uint8) {
    b01 = _mm256_min_epu8(_mm256_max_epu8(b01, bmin), bmax);
    b23 = _mm256_min_epu8(_mm256_max_epu8(b23, bmin), bmax);
  } else {
    b01 = _mm256_min_epi8(_mm256_max_epi8(b01, bmin), bmax);
    b23 = _mm256_min_epi8(_mm256_max_epi8(b23, bmin), bmax);
  }
  StorePixels4(b01, b23, pixels, n, out);
}

// The remaining stages (kTflite without k64; kXnnpack with a scale >= 1): Requant8 per vector.
inline void StoreTileGeneric(const __m256i* acc, const GemmOutput& os, int pixels, int n, uint8_t* const* out) {
  __m256i lo[4], hi[4];
  for (int r = 0; r < 4; ++r) {
    lo[r] = Requant8(acc[r], os, 0);
    hi[r] = Requant8(acc[4 + r], os, 8);
  }
  StorePixels4(PackPixels2(lo[0], hi[0], lo[1], hi[1], os.is_uint8),
               PackPixels2(lo[2], hi[2], lo[3], hi[3], os.is_uint8), pixels, n, out);
}

// The 4 x 16 tiles' output (a<pixel><half>: pixel 0-3, channels 0-7 / 8-15) in stage kStage.
template <Stage kStage>
__attribute__((always_inline)) inline void StoreTile4x16(__m256i a00, __m256i a01, __m256i a10, __m256i a11, __m256i a20,
                                                         __m256i a21, __m256i a30, __m256i a31, const GemmOutput& os,
                                                         int pixels, int n, uint8_t* const* out) {
  if constexpr (kStage == Stage::kFp32) {
    StoreTileFp32(a00, a01, a10, a11, a20, a21, a30, a31, os, pixels, n, out);
  } else {
    const __m256i acc[8] = {a00, a10, a20, a30, a01, a11, a21, a31};
    if constexpr (kStage == Stage::kK64 || kStage == Stage::kShort || kStage == Stage::kFma)
      StoreTileInt<kStage>(acc, os, pixels, n, out);
    else
      StoreTileGeneric(acc, os, pixels, n, out);
  }
}

// Calls f(std::integral_constant<Stage, S>{}) with os's stage S for the call's n channels: kFma
// when every one of their 8-channel groups has the FMA form, else kShort checks each group.
template <class F>
inline void WithStage(const GemmOutput& os, int n, F&& f) {
  auto all_fma = [&] {
    if (!os.fma_groups) return false;
    for (int g = 0; g * 8 < n; ++g)
      if (!os.fma_groups[g]) return false;
    return true;
  };
  if (os.mode != RequantMode::kTflite && os.fp32_in_range)
    f(std::integral_constant<Stage, Stage::kFp32>{});
  else if (os.mode == RequantMode::kTflite && os.kshort && all_fma())
    f(std::integral_constant<Stage, Stage::kFma>{});
  else if (os.mode == RequantMode::kTflite && os.kshort)
    f(std::integral_constant<Stage, Stage::kShort>{});
  else if (os.mode == RequantMode::kTflite && os.k64)
    f(std::integral_constant<Stage, Stage::kK64>{});
  else
    f(std::integral_constant<Stage, Stage::kGeneric>{});
}

inline __m256i Bcast32(const int16_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
}  // namespace

namespace {
template <Stage kStage>
__attribute__((always_inline)) inline void Tile4x16(int pixels, int taps, int icp, const int16_t* const* rows,
                                                    const int16_t* w, const GemmOutput& os, int n, uint8_t* const* out) {
  // The accumulators start at the folded bias, which saves the bias add of every output vector.
  __m256i a00 = _mm256_loadu_si256((const __m256i*)os.bias), a01 = _mm256_loadu_si256((const __m256i*)(os.bias + 8));
  __m256i a10 = a00, a11 = a01, a20 = a00, a21 = a01, a30 = a00, a31 = a01;
  for (int t = 0; t < taps; ++t) {
    const int16_t* r0 = rows[t * 4 + 0];
    const int16_t* r1 = rows[t * 4 + 1];
    const int16_t* r2 = rows[t * 4 + 2];
    const int16_t* r3 = rows[t * 4 + 3];
    // One int16 pair of the depth per step; only two panel vectors live at a time, so the eight
    // accumulators, the panel and the broadcast fit the 16 ymm registers without spills.
#pragma GCC unroll 4
    for (int j = 0; j < icp; ++j) {
      const __m256i b0 = _mm256_load_si256((const __m256i*)w);
      const __m256i b1 = _mm256_load_si256((const __m256i*)(w + 16));
      __m256i x = Bcast32(r0 + 2 * j);
      a00 = _mm256_add_epi32(a00, _mm256_madd_epi16(x, b0));
      a01 = _mm256_add_epi32(a01, _mm256_madd_epi16(x, b1));
      x = Bcast32(r1 + 2 * j);
      a10 = _mm256_add_epi32(a10, _mm256_madd_epi16(x, b0));
      a11 = _mm256_add_epi32(a11, _mm256_madd_epi16(x, b1));
      x = Bcast32(r2 + 2 * j);
      a20 = _mm256_add_epi32(a20, _mm256_madd_epi16(x, b0));
      a21 = _mm256_add_epi32(a21, _mm256_madd_epi16(x, b1));
      x = Bcast32(r3 + 2 * j);
      a30 = _mm256_add_epi32(a30, _mm256_madd_epi16(x, b0));
      a31 = _mm256_add_epi32(a31, _mm256_madd_epi16(x, b1));
      w += 32;
    }
  }
  StoreTile4x16<kStage>(a00, a01, a10, a11, a20, a21, a30, a31, os, pixels, n, out);
}
}  // namespace

void GemmTile4x16Avx2(int pixels, int taps, int icp, const int16_t* const* rows, const int16_t* w,
                      const GemmOutput& os, int n, uint8_t* const* out) {
  WithStage(os, n, [&](auto s) { Tile4x16<decltype(s)::value>(pixels, taps, icp, rows, w, os, n, out); });
}

namespace {
// Calls tile(pixels, t, out) for every tile of the run (out: the tile's four pixel pointers; pixels
// past the end repeat the last one, never stored).
template <class F>
__attribute__((always_inline)) inline void ForTiles(const TileRun& run, F&& tile) {
  uint8_t* o = run.out + run.m0 * run.out_stride;
  const int64_t step = 4 * run.out_stride;
  for (int64_t t = 0; t < run.tiles; ++t, o += step) {
    const int pixels = (int)std::min<int64_t>(4, run.M - (run.m0 + 4 * t));
    uint8_t* out[4];
    for (int r = 0; r < 4; ++r) out[r] = o + (r < pixels ? r : pixels - 1) * run.out_stride;
    tile(pixels, t, out);
  }
}

template <Stage kStage>
void Tiles4x16(const TileRun& run, int taps, int icp, const int16_t* const* table, const int16_t* w,
               const GemmOutput& os, int n) {
  ForTiles(run, [&](int pixels, int64_t t, uint8_t* const* out) {
    Tile4x16<kStage>(pixels, taps, icp, table + t * taps * 4, w, os, n, out);
  });
}
}  // namespace

void GemmTiles4x16Avx2(const TileRun& run, int taps, int icp, const int16_t* const* table, const int16_t* w,
                       const GemmOutput& os, int n) {
  WithStage(os, n, [&](auto s) { Tiles4x16<decltype(s)::value>(run, taps, icp, table, w, os, n); });
}

void WidenRunAvx2(const void* src, bool is_uint8, int n, int16_t* dst) {
  const uint8_t* s = static_cast<const uint8_t*>(src);
  int c = 0;
  for (; c + 16 <= n; c += 16) {
    const __m128i b = _mm_loadu_si128((const __m128i*)(s + c));
    _mm256_storeu_si256((__m256i*)(dst + c), is_uint8 ? _mm256_cvtepu8_epi16(b) : _mm256_cvtepi8_epi16(b));
  }
  if (c + 8 <= n) {
    const __m128i b = _mm_loadl_epi64((const __m128i*)(s + c));
    _mm_storeu_si128((__m128i*)(dst + c), is_uint8 ? _mm_cvtepu8_epi16(b) : _mm_cvtepi8_epi16(b));
    c += 8;
  }
  for (; c < n; ++c) dst[c] = is_uint8 ? (int16_t)s[c] : (int16_t)(int8_t)s[c];
}

void WidenRowsAvx2(const void* input, bool is_uint8, int64_t rows, int ic, int ic_pad, int16_t* out) {
  const uint8_t* in = static_cast<const uint8_t*>(input);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = in + r * ic;
    int16_t* d = out + r * ic_pad;
    int c = 0;
    if (is_uint8) {
      for (; c + 16 <= ic; c += 16)
        _mm256_storeu_si256((__m256i*)(d + c), _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i*)(s + c))));
      for (; c < ic; ++c) d[c] = s[c];
    } else {
      for (; c + 16 <= ic; c += 16)
        _mm256_storeu_si256((__m256i*)(d + c), _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i*)(s + c))));
      for (; c < ic; ++c) d[c] = (int8_t)s[c];
    }
    for (; c < ic_pad; ++c) d[c] = 0;
  }
}

}  // namespace qat::kernels::x86

namespace qat::kernels::x86 {

using namespace avx2;

namespace {
inline __m256i Bcast4u8(const uint8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}
// 8 int32 lanes += the 4-product sums of u8 quad x (broadcast) and the panel's 8 channels at b.
inline __m256i Dot4(__m256i acc, __m256i x, __m256i b, __m256i ones) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(x, b), ones));
}
// The same for two quads (x with panel b, y with panel c), their int16 lanes added before widening.
inline __m256i Dot8(__m256i acc, __m256i x, __m256i b, __m256i y, __m256i c, __m256i ones) {
  const __m256i s = _mm256_add_epi16(_mm256_maddubs_epi16(x, b), _mm256_maddubs_epi16(y, c));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(s, ones));
}
}  // namespace

namespace {
template <Stage kStage>
__attribute__((always_inline)) inline void SplitTile(int pixels, int taps, int icq, const uint8_t* const* rows,
                                                     const int8_t* w, const GemmOutput& os, int n, uint8_t* const* out,
                                                     const SplitLists& lists) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i a00 = _mm256_loadu_si256((const __m256i*)os.bias), a01 = _mm256_loadu_si256((const __m256i*)(os.bias + 8));
  __m256i a10 = a00, a11 = a01, a20 = a00, a21 = a01, a30 = a00, a31 = a01;
  for (int t = 0; t < taps; ++t) {
    const uint8_t* r0 = rows[t * 4 + 0];
    const uint8_t* r1 = rows[t * 4 + 1];
    const uint8_t* r2 = rows[t * 4 + 2];
    const uint8_t* r3 = rows[t * 4 + 3];
    const int8_t* wt = w + (int64_t)t * icq * 64;
    const int8_t* wp = wt;
    // Two quads per step: their vpmaddubsw lanes are added in int16 (exact: T bounds every
    // four-product sum, conv.cpp) and widened by one vpmaddwd, 3 multiplies per 64 MACs instead of 4.
    int j = 0;
    for (; j + 2 <= icq; j += 2, wp += 128) {
      const __m256i b0 = _mm256_load_si256((const __m256i*)wp);
      const __m256i b1 = _mm256_load_si256((const __m256i*)(wp + 32));
      const __m256i c0 = _mm256_load_si256((const __m256i*)(wp + 64));
      const __m256i c1 = _mm256_load_si256((const __m256i*)(wp + 96));
      __m256i x = Bcast4u8(r0 + 4 * j), y = Bcast4u8(r0 + 4 * j + 4);
      a00 = Dot8(a00, x, b0, y, c0, ones);
      a01 = Dot8(a01, x, b1, y, c1, ones);
      x = Bcast4u8(r1 + 4 * j), y = Bcast4u8(r1 + 4 * j + 4);
      a10 = Dot8(a10, x, b0, y, c0, ones);
      a11 = Dot8(a11, x, b1, y, c1, ones);
      x = Bcast4u8(r2 + 4 * j), y = Bcast4u8(r2 + 4 * j + 4);
      a20 = Dot8(a20, x, b0, y, c0, ones);
      a21 = Dot8(a21, x, b1, y, c1, ones);
      x = Bcast4u8(r3 + 4 * j), y = Bcast4u8(r3 + 4 * j + 4);
      a30 = Dot8(a30, x, b0, y, c0, ones);
      a31 = Dot8(a31, x, b1, y, c1, ones);
    }
    if (j < icq) {
      const __m256i b0 = _mm256_load_si256((const __m256i*)wp);
      const __m256i b1 = _mm256_load_si256((const __m256i*)(wp + 32));
      __m256i x = Bcast4u8(r0 + 4 * j);
      a00 = Dot4(a00, x, b0, ones);
      a01 = Dot4(a01, x, b1, ones);
      x = Bcast4u8(r1 + 4 * j);
      a10 = Dot4(a10, x, b0, ones);
      a11 = Dot4(a11, x, b1, ones);
      x = Bcast4u8(r2 + 4 * j);
      a20 = Dot4(a20, x, b0, ones);
      a21 = Dot4(a21, x, b1, ones);
      x = Bcast4u8(r3 + 4 * j);
      a30 = Dot4(a30, x, b0, ones);
      a31 = Dot4(a31, x, b1, ones);
    }
    // The residuals r = u - T of the four rows: one quad each, r at its byte, zeros elsewhere. The
    // four counts are read first and one test skips the tap when all are zero (the common case
    // when the layer's depth is small).
    auto index = [&](const uint8_t* row) {
      return lists.row_shift >= 0 ? (int64_t)(row - lists.base) >> lists.row_shift
                                  : (int64_t)((double)(row - lists.base) * lists.inv_row_bytes + 0.5);
    };
    const int64_t i0 = index(r0), i1 = index(r1), i2 = index(r2), i3 = index(r3);
    const int c0 = lists.counts[i0], c1 = pixels > 1 ? lists.counts[i1] : 0;
    const int c2 = pixels > 2 ? lists.counts[i2] : 0, c3 = pixels > 3 ? lists.counts[i3] : 0;
    const int most = std::max(std::max(c0, c1), std::max(c2, c3));
    if (most == 0) continue;
    // Entry k of all four rows per step (a row with fewer entries adds a zero entry, selected
    // without a branch): one data-dependent loop exit per tap instead of one per row.
    static const int32_t kNone[2] = {0, 0};
    const int32_t* e0 = lists.entries + i0 * 2 * lists.cap;
    const int32_t* e1 = lists.entries + i1 * 2 * lists.cap;
    const int32_t* e2 = lists.entries + i2 * 2 * lists.cap;
    const int32_t* e3 = lists.entries + i3 * 2 * lists.cap;
    for (int k = 0; k < most; ++k) {
      const int32_t* p0 = k < c0 ? e0 + 2 * k : kNone;
      const int32_t* p1 = k < c1 ? e1 + 2 * k : kNone;
      const int32_t* p2 = k < c2 ? e2 + 2 * k : kNone;
      const int32_t* p3 = k < c3 ? e3 + 2 * k : kNone;
      __m256i x = _mm256_set1_epi32(p0[1]);
      a00 = Dot4(a00, x, _mm256_load_si256((const __m256i*)(wt + p0[0])), ones);
      a01 = Dot4(a01, x, _mm256_load_si256((const __m256i*)(wt + p0[0] + 32)), ones);
      x = _mm256_set1_epi32(p1[1]);
      a10 = Dot4(a10, x, _mm256_load_si256((const __m256i*)(wt + p1[0])), ones);
      a11 = Dot4(a11, x, _mm256_load_si256((const __m256i*)(wt + p1[0] + 32)), ones);
      x = _mm256_set1_epi32(p2[1]);
      a20 = Dot4(a20, x, _mm256_load_si256((const __m256i*)(wt + p2[0])), ones);
      a21 = Dot4(a21, x, _mm256_load_si256((const __m256i*)(wt + p2[0] + 32)), ones);
      x = _mm256_set1_epi32(p3[1]);
      a30 = Dot4(a30, x, _mm256_load_si256((const __m256i*)(wt + p3[0])), ones);
      a31 = Dot4(a31, x, _mm256_load_si256((const __m256i*)(wt + p3[0] + 32)), ones);
    }
  }
  StoreTile4x16<kStage>(a00, a01, a10, a11, a20, a21, a30, a31, os, pixels, n, out);
}
}  // namespace

namespace {
template <Stage kStage>
void TilesSplit(const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                const GemmOutput& os, int n, const SplitLists& lists) {
  ForTiles(run, [&](int pixels, int64_t t, uint8_t* const* out) {
    SplitTile<kStage>(pixels, taps, icq, table + t * taps * 4, w, os, n, out, lists);
  });
}
}  // namespace

void GemmTilesSplitAvx2(const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                        const GemmOutput& os, int n, const SplitLists& lists) {
  WithStage(os, n, [&](auto s) { TilesSplit<decltype(s)::value>(run, taps, icq, table, w, os, n, lists); });
}

namespace {
// Per-vector forms of the tile stages for the 2 x 32 tile (one 8-channel group c .. c + 7 per
// vector): the value + Z_out before the clamp, saturated later by the packs as in StoreTileInt.
template <Stage kStage>
inline __m256i StageVec(__m256i x, const GemmOutput& os, int c) {
  if constexpr (kStage == Stage::kFp32) {
    return _mm256_add_epi32(FpRound(x, _mm256_loadu_ps(os.scale + c)), _mm256_set1_epi32(os.output_offset));
  } else if constexpr (kStage == Stage::kFma) {
    return FmaVec(x, os, c);
  } else if constexpr (kStage == Stage::kShort) {
    return FmaGroup(os, c) ? FmaVec(x, os, c) : ShortVec(x, os, c);
  } else if constexpr (kStage == Stage::kK64) {
    return K64Vec(x, os, c);
  } else {
    return Requant8(x, os, c);
  }
}

// A pixel's 32 bytes from its four group vectors (channels 0-7, 8-15, 16-23, 24-31), clamped.
// The clamp bounds as bytes, made once per tile run: built from os in every tile, they were
// reloaded and broadcast after each store (a byte store may alias os), ~10 % of a 32-deep layer.
struct Clamp {
  __m256i lo, hi;
  bool u8;
  explicit Clamp(const GemmOutput& os)
      : lo(_mm256_set1_epi8((char)os.act_min)), hi(_mm256_set1_epi8((char)os.act_max)), u8(os.is_uint8) {}
};
// The block pair's bias and kFma / kFp32 stage constants, copied once per tile run to the stack:
// read through os, every tile reloaded the pointers after its stores (a byte store may alias os).
// kFma / kFp32 add their zero points (Z_out, + the FMA pair's centre) after the first pack, in int16
// with saturation (zero16: the 32 channels in the order of PackGroups' vpackssdw, channels 0-3 8-11
// 4-7 12-15, then 16-19 24-27 20-23 28-31): one vpaddsw per 16 outputs instead of two vpaddd. Exact:
// |zero| <= 447 and [act_min, act_max] lies inside int8 / uint8, so a value that saturates in int16
// (|v| >= 32767) clamps to the same bound as v + zero (|v + zero| >= 32320) would.
struct RunConsts {
  alignas(32) int32_t bias[32];
  alignas(32) float scale[32];
  alignas(32) float offset[32];
  alignas(32) int16_t zero16[32];
  RunConsts(const GemmOutput& os, Stage stage) {
    std::memcpy(bias, os.bias, sizeof(bias));
    alignas(32) int32_t zero[32];
    if (stage == Stage::kFma) {
      std::memcpy(scale, os.fma_scale, sizeof(scale));
      std::memcpy(offset, os.fma_offset, sizeof(offset));
      std::memcpy(zero, os.fma_zero, sizeof(zero));
    } else if (stage == Stage::kFp32) {
      std::memcpy(scale, os.scale, sizeof(scale));
      for (int c = 0; c < 32; ++c) zero[c] = os.output_offset;
    } else {
      std::memset(zero, 0, sizeof(zero));
    }
    for (int h = 0; h < 2; ++h)
      _mm256_store_si256((__m256i*)(zero16 + 16 * h),
                         _mm256_packs_epi32(_mm256_load_si256((const __m256i*)(zero + 16 * h)),
                                            _mm256_load_si256((const __m256i*)(zero + 16 * h + 8))));
  }
};
constexpr bool kZero16(Stage s) { return s == Stage::kFma || s == Stage::kFp32; }
template <Stage kStage>
inline __m256i RunStageVec(__m256i x, const GemmOutput& os, const RunConsts& rc, int c) {
  if constexpr (kStage == Stage::kFma) {
    return FmaRound(x, _mm256_load_ps(rc.scale + c), _mm256_load_ps(rc.offset + c));
  } else if constexpr (kStage == Stage::kFp32) {
    return FpRound(x, _mm256_load_ps(rc.scale + c));
  } else {
    return StageVec<kStage>(x, os, c);
  }
}

// Both pixels' vectors of group c, each group's constants loaded once (rc is a local copy, so
// nothing in between can alias it).
template <Stage kStage>
inline void RunStage2(__m256i& a, __m256i& b, const GemmOutput& os, const RunConsts& rc, int c) {
  a = RunStageVec<kStage>(a, os, rc, c);
  b = RunStageVec<kStage>(b, os, rc, c);
}

template <Stage kStage>
inline __m256i PackGroups(__m256i g0, __m256i g1, __m256i g2, __m256i g3, const Clamp& cl, const RunConsts& rc) {
  __m256i a = _mm256_packs_epi32(g0, g1), b = _mm256_packs_epi32(g2, g3);
  if constexpr (kZero16(kStage)) {
    a = _mm256_adds_epi16(a, _mm256_load_si256((const __m256i*)rc.zero16));
    b = _mm256_adds_epi16(b, _mm256_load_si256((const __m256i*)(rc.zero16 + 16)));
  }
  __m256i v = cl.u8 ? _mm256_packus_epi16(a, b) : _mm256_packs_epi16(a, b);
  v = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  return cl.u8 ? _mm256_min_epu8(_mm256_max_epu8(v, cl.lo), cl.hi) : _mm256_min_epi8(_mm256_max_epi8(v, cl.lo), cl.hi);
}

inline void Store32(uint8_t* dst, __m256i v, int n) {
  if (n >= 32) {
    _mm256_storeu_si256((__m256i*)dst, v);
  } else if (n > 16) {
    _mm_storeu_si128((__m128i*)dst, _mm256_castsi256_si128(v));
    StoreBytes(dst + 16, _mm256_extracti128_si256(v, 1), n - 16);
  } else {
    StoreBytes(dst, _mm256_castsi256_si128(v), n);
  }
}

// Four quads of one pixel against the four panels of one 8-channel group (p: the group's first
// panel vector of quad 0; quad k at p + 128 k), added in int16 and widened once.
inline __m256i Dot16g(__m256i acc, __m256i x0, __m256i x1, __m256i x2, __m256i x3, const int8_t* p, __m256i ones) {
  const __m256i s01 = _mm256_add_epi16(_mm256_maddubs_epi16(x0, _mm256_load_si256((const __m256i*)p)),
                                       _mm256_maddubs_epi16(x1, _mm256_load_si256((const __m256i*)(p + 128))));
  const __m256i s23 = _mm256_add_epi16(_mm256_maddubs_epi16(x2, _mm256_load_si256((const __m256i*)(p + 256))),
                                       _mm256_maddubs_epi16(x3, _mm256_load_si256((const __m256i*)(p + 384))));
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_add_epi16(s01, s23), ones));
}

// 2 pixels x 32 channels, four quads per step: the pixel's four quads broadcast once serve the four
// 8-channel groups, whose panel vectors are memory operands (per 1024 MACs 40 loads and 40
// multiplies, against 24 loads and 48 multiplies on the 4 x 16 tile, whose multiplies bound it).
// rows[t * 4 + r], r = 0, 1: the pixels' runs for tap t. kTwo false: one pixel (a batch-1 FULLY_CONNECTED,
// an odd last pixel), whose twin would be wasted work.
template <Stage kStage, bool kTwo>
__attribute__((always_inline)) inline void SplitTile2x32(int pixels, int taps, int icq, const uint8_t* const* rows,
                                                         const int8_t* w, const GemmOutput& os, const RunConsts& rc,
                                                         const Clamp& cl, int n, uint8_t* const* out,
                                                         const SplitLists& lists) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i a0 = _mm256_load_si256((const __m256i*)rc.bias), a1 = _mm256_load_si256((const __m256i*)(rc.bias + 8));
  __m256i a2 = _mm256_load_si256((const __m256i*)(rc.bias + 16)), a3 = _mm256_load_si256((const __m256i*)(rc.bias + 24));
  __m256i b0 = a0, b1 = a1, b2 = a2, b3 = a3;
  for (int t = 0; t < taps; ++t) {
    const uint8_t* r0 = rows[t * 4 + 0];
    const uint8_t* r1 = rows[t * 4 + 1];
    const int8_t* wt = w + (int64_t)t * icq * 128;
    const int8_t* wp = wt;
    int j = 0;
    for (; j + 4 <= icq; j += 4, wp += 512) {
      __m256i x0 = Bcast4u8(r0 + 4 * j), x1 = Bcast4u8(r0 + 4 * j + 4);
      __m256i x2 = Bcast4u8(r0 + 4 * j + 8), x3 = Bcast4u8(r0 + 4 * j + 12);
      a0 = Dot16g(a0, x0, x1, x2, x3, wp, ones);
      a1 = Dot16g(a1, x0, x1, x2, x3, wp + 32, ones);
      a2 = Dot16g(a2, x0, x1, x2, x3, wp + 64, ones);
      a3 = Dot16g(a3, x0, x1, x2, x3, wp + 96, ones);
      if (!kTwo) continue;
      x0 = Bcast4u8(r1 + 4 * j), x1 = Bcast4u8(r1 + 4 * j + 4);
      x2 = Bcast4u8(r1 + 4 * j + 8), x3 = Bcast4u8(r1 + 4 * j + 12);
      b0 = Dot16g(b0, x0, x1, x2, x3, wp, ones);
      b1 = Dot16g(b1, x0, x1, x2, x3, wp + 32, ones);
      b2 = Dot16g(b2, x0, x1, x2, x3, wp + 64, ones);
      b3 = Dot16g(b3, x0, x1, x2, x3, wp + 96, ones);
    }
    if (j < icq) {  // the last 1-3 quads of the tap: one lane group, added in int16 likewise
      const int q = icq - j;
      __m256i s[8];
      for (int g = 0; g < 8; ++g) s[g] = _mm256_setzero_si256();
      for (int k = 0; k < q; ++k) {
        const __m256i x = Bcast4u8(r0 + 4 * (j + k)), y = Bcast4u8(r1 + 4 * (j + k));
        const int8_t* pk = wp + 128 * k;
        for (int g = 0; g < 4; ++g) {
          const __m256i wv = _mm256_load_si256((const __m256i*)(pk + 32 * g));
          s[g] = _mm256_add_epi16(s[g], _mm256_maddubs_epi16(x, wv));
          s[4 + g] = _mm256_add_epi16(s[4 + g], _mm256_maddubs_epi16(y, wv));
        }
      }
      a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(s[0], ones));
      a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(s[1], ones));
      a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(s[2], ones));
      a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(s[3], ones));
      b0 = _mm256_add_epi32(b0, _mm256_madd_epi16(s[4], ones));
      b1 = _mm256_add_epi32(b1, _mm256_madd_epi16(s[5], ones));
      b2 = _mm256_add_epi32(b2, _mm256_madd_epi16(s[6], ones));
      b3 = _mm256_add_epi32(b3, _mm256_madd_epi16(s[7], ones));
    }
    // The residuals of the two rows (as in SplitTile): one quad each, r = u - T at its byte.
    auto index = [&](const uint8_t* row) {
      return lists.row_shift >= 0 ? (int64_t)(row - lists.base) >> lists.row_shift
                                  : (int64_t)((double)(row - lists.base) * lists.inv_row_bytes + 0.5);
    };
    const int64_t i0 = index(r0), i1 = index(r1);
    const int c0 = lists.counts[i0], c1 = pixels > 1 ? lists.counts[i1] : 0;
    const int most = std::max(c0, c1);
    if (most == 0) continue;
    static const int32_t kNone[2] = {0, 0};
    const int32_t* e0 = lists.entries + i0 * 2 * lists.cap;
    const int32_t* e1 = lists.entries + i1 * 2 * lists.cap;
    for (int k = 0; k < most; ++k) {
      const int32_t* p0 = k < c0 ? e0 + 2 * k : kNone;
      const int32_t* p1 = k < c1 ? e1 + 2 * k : kNone;
      __m256i x = _mm256_set1_epi32(p0[1]);
      const int8_t* q0 = wt + p0[0];
      a0 = Dot4(a0, x, _mm256_load_si256((const __m256i*)q0), ones);
      a1 = Dot4(a1, x, _mm256_load_si256((const __m256i*)(q0 + 32)), ones);
      a2 = Dot4(a2, x, _mm256_load_si256((const __m256i*)(q0 + 64)), ones);
      a3 = Dot4(a3, x, _mm256_load_si256((const __m256i*)(q0 + 96)), ones);
      x = _mm256_set1_epi32(p1[1]);
      const int8_t* q1 = wt + p1[0];
      b0 = Dot4(b0, x, _mm256_load_si256((const __m256i*)q1), ones);
      b1 = Dot4(b1, x, _mm256_load_si256((const __m256i*)(q1 + 32)), ones);
      b2 = Dot4(b2, x, _mm256_load_si256((const __m256i*)(q1 + 64)), ones);
      b3 = Dot4(b3, x, _mm256_load_si256((const __m256i*)(q1 + 96)), ones);
    }
  }
  if (kTwo && pixels > 1) {  // both pixels' stage first, so each group's constants load once
    RunStage2<kStage>(a0, b0, os, rc, 0);
    RunStage2<kStage>(a1, b1, os, rc, 8);
    RunStage2<kStage>(a2, b2, os, rc, 16);
    RunStage2<kStage>(a3, b3, os, rc, 24);
    Store32(out[0], PackGroups<kStage>(a0, a1, a2, a3, cl, rc), n);
    Store32(out[1], PackGroups<kStage>(b0, b1, b2, b3, cl, rc), n);
    return;
  }
  Store32(out[0], PackGroups<kStage>(RunStageVec<kStage>(a0, os, rc, 0), RunStageVec<kStage>(a1, os, rc, 8),
                                     RunStageVec<kStage>(a2, os, rc, 16), RunStageVec<kStage>(a3, os, rc, 24), cl, rc),
          n);
}

template <Stage kStage>
void TilesSplit32(const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                  const GemmOutput& os, int n, const SplitLists& lists_arg) {
  const Clamp cl(os);
  const RunConsts rc(os, kStage);
  const SplitLists lists = lists_arg;  // a local copy: no reloads of its fields after the stores
  auto tile = [&](int pixels, int64_t t, uint8_t* const* out) __attribute__((always_inline)) {
    const uint8_t* const* rows = table + t * taps * 4;
    if (pixels == 1) return SplitTile2x32<kStage, false>(1, taps, icq, rows, w, os, rc, cl, n, out, lists);
    SplitTile2x32<kStage, true>(2, taps, icq, rows, w, os, rc, cl, n, out, lists);
    // The second half's row table: rows[t * 4 + 2 + r], so the same indexing from rows + 2.
    if (pixels == 3) SplitTile2x32<kStage, false>(1, taps, icq, rows + 2, w, os, rc, cl, n, out + 2, lists);
    if (pixels == 4) SplitTile2x32<kStage, true>(2, taps, icq, rows + 2, w, os, rc, cl, n, out + 2, lists);
  };
  if (!run.prefetch) return ForTiles(run, tile);
  // The next run's weights into L2, a slice per tile, so that its first tile does not wait on
  // memory (mbv1's 7x7x1024 layers: a 32 KiB block pair from L3 / memory per run). A loop of its
  // own: the runs without it pay nothing per tile (their tiles can be ~100 cycles).
  const char* pf = static_cast<const char*>(run.prefetch);
  const int64_t pf_lines = (run.prefetch_bytes + 63) / 64;
  const int64_t pf_per_tile = run.tiles > 0 ? (pf_lines + run.tiles - 1) / run.tiles : 0;
  ForTiles(run, [&](int pixels, int64_t t, uint8_t* const* out) __attribute__((always_inline)) {
    const int64_t l0 = t * pf_per_tile, l1 = std::min(pf_lines, l0 + pf_per_tile);
    for (int64_t l = l0; l < l1; ++l) _mm_prefetch(pf + l * 64, _MM_HINT_T1);
    tile(pixels, t, out);
  });
}
}  // namespace

void GemmTilesSplit32Avx2(const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                          const GemmOutput& os, int n, const SplitLists& lists) {
  WithStage(os, n, [&](auto s) { TilesSplit32<decltype(s)::value>(run, taps, icq, table, w, os, n, lists); });
}

namespace {
// CopyRowsSplitAvx2 for rows of 32, 64 or 128 values (no padding), where the per-row work of the
// general loop cost as much as the copy itself (112x112x32: 50 -> 20 us): the rows as one run of
// 32-byte chunks, two per step, the counts zeroed first and the rare chunk with values above their
// bound handled out of line.
int64_t CopyChunksSplit(const uint8_t* in, bool is_uint8, int64_t rows, int ic, uint8_t* out, int32_t* counts,
                        int32_t* entries, int cap, const uint8_t* tk, int quad_bytes) {
  const __m256i flip = _mm256_set1_epi8((char)0x80);
  std::memset(counts, 0, (size_t)rows * sizeof(int32_t));
  const int per_row = ic / 32;
  const int64_t chunks = rows * per_row;
  int64_t total = 0;
  // Chunk i (position k of its row): the clamped copy; returns the mask of its values above T.
  auto copy = [&](int64_t i, int k) {
    const __m256i v = _mm256_loadu_si256((const __m256i*)(in + i * 32));
    const __m256i vt = _mm256_loadu_si256((const __m256i*)(tk + k * 32));
    const __m256i sv = is_uint8 ? _mm256_xor_si256(v, flip) : v;  // u - 128 as a signed byte
    const __m256i u = is_uint8 ? v : _mm256_xor_si256(v, flip);
    _mm256_storeu_si256((__m256i*)(out + i * 32), _mm256_min_epu8(u, vt));
    return (uint32_t)_mm256_movemask_epi8(_mm256_cmpgt_epi8(sv, _mm256_xor_si256(vt, flip)));
  };
  // The entries of chunk i's values in `mask`, appended to its row's list; false: over cap.
  auto add = [&](int64_t i, uint32_t mask) {
    const int64_t r = i / per_row;
    const int k = (int)(i - r * per_row);
    int32_t* e = entries + r * 2 * cap;
    const uint8_t* s = in + i * 32;
    int count = counts[r];
    const int before = count;
    do {
      const int b = __builtin_ctz(mask);
      mask &= mask - 1;
      const int c = k * 32 + b;
      const int u = (uint8_t)(s[b] ^ (is_uint8 ? 0 : 0x80));
      if (count < cap) {
        e[2 * count] = c / 4 * quad_bytes;
        e[2 * count + 1] = (int32_t)((uint32_t)(u - tk[c]) << (8 * (c & 3)));
      }
      ++count;
    } while (mask);
    counts[r] = count;
    total += count - before;
    return count <= cap;
  };
  int64_t i = 0;
  for (int k = 0; i + 2 <= chunks; i += 2) {  // per_row 1: two rows per step; 2 or 4: k steps by 2
    const int k1 = per_row == 1 ? 0 : k + 1;
    const uint32_t m0 = copy(i, k), m1 = copy(i + 1, k1);
    if (__builtin_expect((m0 | m1) != 0, 0)) {
      if (m0 && !add(i, m0)) return -1;
      if (m1 && !add(i + 1, m1)) return -1;
    }
    if (per_row > 1 && (k += 2) == per_row) k = 0;
  }
  if (i < chunks) {  // per_row 1, odd rows
    const uint32_t m = copy(i, 0);
    if (m && !add(i, m)) return -1;
  }
  return total;
}
}  // namespace

int64_t CopyRowsSplitAvx2(const void* input, bool is_uint8, int64_t rows, int ic, int ic_pad4, uint8_t* out,
                          int32_t* counts, int32_t* entries, int cap, const uint8_t* tk, int quad_bytes) {
  const uint8_t* in = static_cast<const uint8_t*>(input);
  const __m256i flip = _mm256_set1_epi8((char)0x80);
  int64_t total = 0;
  if ((ic == 32 || ic == 64 || ic == 128) && ic == ic_pad4)
    return CopyChunksSplit(in, is_uint8, rows, ic, out, counts, entries, cap, tk, quad_bytes);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = in + r * ic;
    uint8_t* d = out + r * ic_pad4;
    int32_t* e = entries + r * 2 * cap;
    int count = 0;
    auto add = [&](int k, int u) {
      if (count < cap) {
        e[2 * count] = k / 4 * quad_bytes;
        e[2 * count + 1] = (int32_t)((uint32_t)(u - tk[k]) << (8 * (k & 3)));
      }
      ++count;
    };
    int c = 0;
    for (; c + 32 <= ic; c += 32) {
      __m256i v = _mm256_loadu_si256((const __m256i*)(s + c));
      const __m256i vt = _mm256_loadu_si256((const __m256i*)(tk + c));
      // sv: the value as a signed byte of u - 128 (int8 input: x itself; uint8: q ^ 0x80); st: T_c
      // the same way.
      const __m256i sv = is_uint8 ? _mm256_xor_si256(v, flip) : v;
      const __m256i u = is_uint8 ? v : _mm256_xor_si256(v, flip);
      _mm256_storeu_si256((__m256i*)(d + c), _mm256_min_epu8(u, vt));
      uint32_t mask = (uint32_t)_mm256_movemask_epi8(_mm256_cmpgt_epi8(sv, _mm256_xor_si256(vt, flip)));
      while (mask) {
        const int b = __builtin_ctz(mask);
        mask &= mask - 1;
        add(c + b, (uint8_t)(s[c + b] ^ (is_uint8 ? 0 : 0x80)));
      }
    }
    for (; c < ic; ++c) {
      const int u = (uint8_t)(s[c] ^ (is_uint8 ? 0 : 0x80));
      d[c] = (uint8_t)std::min<int>(u, tk[c]);
      if (u > tk[c]) add(c, u);
    }
    for (; c < ic_pad4; ++c) d[c] = 0;
    counts[r] = count;
    if (count > cap) return -1;
    total += count;
  }
  return total;
}

int64_t CopyRowsSplitColdAvx2(const void* input, bool is_uint8, int64_t rows, int ic, int row_bytes, uint8_t* out,
                              int32_t* counts, int32_t* entries, int cap, const uint8_t* tk, int quad_bytes,
                              const SplitColdCopy& cc) {
  const uint8_t* in = static_cast<const uint8_t*>(input);
  const uint8_t flip = is_uint8 ? 0 : 0x80;
  const __m256i flip32 = _mm256_set1_epi8((char)0x80);
  const __m128i vflip16 = _mm_set1_epi8((char)flip);
  const int chunks = ic / 16, live = cc.ic_live;
  // The compacted row: each chunk's store writes 16 bytes at its offset, the next chunk's overwrites
  // what lies past its kept values, so the row needs 16 bytes of slack.
  thread_local std::vector<uint8_t> row;
  row.resize((size_t)live + 32);
  uint8_t* t = row.data();
  int64_t total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = in + r * ic;
    uint8_t* d = out + r * row_bytes;
    int32_t* e = entries + r * 2 * cap;
    int count = 0;
    auto add = [&](int k, int r) {  // k: permuted position, r: the excess there
      if (count < cap) {
        e[2 * count] = k / 4 * quad_bytes;
        e[2 * count + 1] = (int32_t)((uint32_t)r << (8 * (k & 3)));
      }
      ++count;
    };
    for (int k = 0; k < chunks; ++k) {
      const __m128i v = _mm_loadu_si128((const __m128i*)(s + 16 * k));
      _mm_storeu_si128((__m128i*)(t + cc.off[k]),
                       _mm_shuffle_epi8(v, _mm_load_si128((const __m128i*)(cc.ctl + 16 * k))));
      if (cc.skip_mask[k]) {
        // A skipped channel off its constant: the difference is a residual (bound 0).
        const __m128i u = _mm_xor_si128(v, vflip16);
        const __m128i want = _mm_loadu_si128((const __m128i*)(cc.expect + 16 * k));
        uint32_t m = ~(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(u, want)) & cc.skip_mask[k];
        while (m) {
          const int c = 16 * k + __builtin_ctz(m);
          m &= m - 1;
          const int d = (int)(uint8_t)(s[c] ^ flip) - (int)cc.expect[c];
          if (d > 0)
            add(cc.pos[c], d);
          else
            add(cc.neg[c], -d);
        }
      }
    }
    // The kept values: min(u, T) and the excess, as CopyRowsSplitAvx2 (t holds the raw bytes).
    for (int c = 0; c < live; c += 16) {
      const __m128i v = _mm_loadu_si128((const __m128i*)(t + c));
      const __m128i vt = _mm_loadu_si128((const __m128i*)(tk + c));
      const __m128i sv = _mm_xor_si128(v, _mm_set1_epi8((char)(flip ^ 0x80)));  // u - 128, signed
      const __m128i u = _mm_xor_si128(v, vflip16);
      _mm_storeu_si128((__m128i*)(d + c), _mm_min_epu8(u, vt));
      uint32_t mask = (uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi8(sv, _mm_xor_si128(vt, _mm256_castsi256_si128(flip32))));
      while (mask) {
        const int b = __builtin_ctz(mask);
        mask &= mask - 1;
        add(c + b, (uint8_t)(t[c + b] ^ flip) - tk[c + b]);
      }
    }
    counts[r] = count;
    if (count > cap) return -1;
    total += count;
  }
  return total;
}

void ChannelRangeAvx2(const void* input, bool is_uint8, int64_t rows, int ic, uint8_t* min, uint8_t* max) {
  const uint8_t* in = static_cast<const uint8_t*>(input);
  const uint8_t flip = is_uint8 ? 0 : 0x80;
  const __m256i vflip = _mm256_set1_epi8((char)flip);
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = in + r * ic;
    int c = 0;
    for (; c + 32 <= ic; c += 32) {
      const __m256i u = _mm256_xor_si256(_mm256_loadu_si256((const __m256i*)(s + c)), vflip);
      _mm256_storeu_si256((__m256i*)(min + c), _mm256_min_epu8(u, _mm256_loadu_si256((const __m256i*)(min + c))));
      _mm256_storeu_si256((__m256i*)(max + c), _mm256_max_epu8(u, _mm256_loadu_si256((const __m256i*)(max + c))));
    }
    for (; c < ic; ++c) {
      min[c] = std::min<uint8_t>(min[c], (uint8_t)(s[c] ^ flip));
      max[c] = std::max<uint8_t>(max[c], (uint8_t)(s[c] ^ flip));
    }
  }
}

void SplitHistogramAvx2(const void* input, bool is_uint8, int64_t rows, int ic, int floor, int32_t* hist) {
  const uint8_t* in = static_cast<const uint8_t*>(input);
  const uint8_t flip = is_uint8 ? 0 : 0x80;
  const __m256i vflip = _mm256_set1_epi8((char)flip);
  const __m256i vfloor = _mm256_set1_epi8((char)(floor - 128));  // floor as a signed byte of u - 128
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = in + r * ic;
    int c = 0;
    for (; c + 32 <= ic; c += 32) {
      __m256i v = _mm256_loadu_si256((const __m256i*)(s + c));
      const __m256i sv = is_uint8 ? _mm256_xor_si256(v, vflip) : v;  // u - 128, signed
      uint32_t mask = (uint32_t)_mm256_movemask_epi8(_mm256_cmpgt_epi8(sv, vfloor));
      while (mask) {
        const int b = __builtin_ctz(mask);
        mask &= mask - 1;
        ++hist[(c + b) * 32 + ((uint8_t)(s[c + b] ^ flip) >> 3)];
      }
    }
    for (; c < ic; ++c) {
      const int u = (uint8_t)(s[c] ^ flip);
      if (u > floor) ++hist[c * 32 + (u >> 3)];
    }
  }
}

}  // namespace qat::kernels::x86
