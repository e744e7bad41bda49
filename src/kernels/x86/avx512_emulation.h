// Scalar emulation of the AVX-512 intrinsics that x86/gemm_avx512vnni.cpp uses, so that the VNNI
// GEMM's own source can be compiled a second time (x86/gemm_vnni_emulated_avx2.cpp, namespace
// x86::emulated, AVX2 flags) and tested bit-exact against the reference kernels on a CPU without
// AVX-512 (CI, the development VM). Only for that translation unit: it declares the intrinsics'
// names inside namespace qat::kernels::x86::emulated, where they hide the global ones for the
// kernel code compiled in that namespace, and aliases __m512i / __m512 to plain structs there.
//
// Each function follows Intel's pseudocode for the instruction (SDM vol. 2 / the Intrinsics Guide),
// lane by lane: wrapping integer adds, vpdpbusd's four u8 x s8 products added to the int32 lane
// without saturation, variable shifts that give 0 for counts past the lane width, vcvtps2dq's
// round-to-nearest-even with 0x80000000 for NaN and out-of-range values, vpmovdb's truncation,
// masked loads that never read a masked-off byte. Speed is not a goal.
#pragma once
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>

// Without optimisation GCC defines some immediate-operand intrinsics as macros; those would expand
// to the real builtins here.
#undef _mm512_srli_epi64
#undef _mm512_slli_epi64
#undef _mm512_cmp_ps_mask
#undef _mm512_inserti64x4
#undef _mm512_extracti64x4_epi64
#undef _mm512_dpwssd_epi32

namespace qat::kernels::x86::emulated {

struct alignas(64) EmuM512i {
  union {
    int8_t i8[64];
    uint8_t u8[64];
    int32_t i32[16];
    uint32_t u32[16];
    int64_t i64[8];
    uint64_t u64[8];
  };
};
struct alignas(64) EmuM512 {
  float f[16];
};
using __m512i = EmuM512i;  // hides the global vector types inside this namespace only
using __m512 = EmuM512;

inline EmuM512i _mm512_setzero_si512() {
  EmuM512i r;
  std::memset(r.u8, 0, 64);
  return r;
}
inline EmuM512i _mm512_set1_epi32(int a) {
  EmuM512i r;
  for (auto& x : r.i32) x = a;
  return r;
}
inline EmuM512i _mm512_set1_epi8(char a) {
  EmuM512i r;
  std::memset(r.u8, (unsigned char)a, 64);
  return r;
}
inline EmuM512 _mm512_set1_ps(float a) {
  EmuM512 r;
  for (auto& x : r.f) x = a;
  return r;
}
inline EmuM512i _mm512_loadu_si512(const void* p) {
  EmuM512i r;
  std::memcpy(r.u8, p, 64);
  return r;
}
inline EmuM512i _mm512_load_si512(const void* p) {
  EmuM512i r;
  std::memcpy(r.u8, p, 64);
  return r;
}
inline void _mm512_storeu_si512(void* p, EmuM512i a) { std::memcpy(p, a.u8, 64); }
inline EmuM512 _mm512_loadu_ps(const void* p) {
  EmuM512 r;
  std::memcpy(r.f, p, 64);
  return r;
}

// The 256-bit halves: the low one for a cast, imm & 1 for insert / extract. The cast's upper
// half is undefined in hardware; zero here.
inline EmuM512i _mm512_castsi256_si512(__m256i a) {
  EmuM512i r = _mm512_setzero_si512();
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(r.u8), a);
  return r;
}
inline __m256i _mm512_castsi512_si256(EmuM512i a) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.u8)); }
inline EmuM512i _mm512_inserti64x4(EmuM512i a, __m256i b, int imm) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(a.u8 + 32 * (imm & 1)), b);
  return a;
}
// Bit casts between the integer and float vectors.
inline EmuM512 _mm512_castsi512_ps(EmuM512i a) {
  EmuM512 r;
  std::memcpy(r.f, a.u8, 64);
  return r;
}
inline __m256i _mm512_extracti64x4_epi64(EmuM512i a, int imm) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.u8 + 32 * (imm & 1)));
}

inline EmuM512i _mm512_add_epi32(EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 16; ++i) a.u32[i] += b.u32[i];
  return a;
}
inline EmuM512i _mm512_sub_epi32(EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 16; ++i) a.u32[i] -= b.u32[i];
  return a;
}
// vpsadbw: per 64-bit lane, the sum of |a - b| over its 8 bytes (zero-extended to 64 bits).
inline EmuM512i _mm512_sad_epu8(EmuM512i a, EmuM512i b) {
  EmuM512i r;
  for (int q = 0; q < 8; ++q) {
    uint64_t sum = 0;
    for (int j = 0; j < 8; ++j) {
      const int d = (int)a.u8[8 * q + j] - (int)b.u8[8 * q + j];
      sum += (uint64_t)(d < 0 ? -d : d);
    }
    r.u64[q] = sum;
  }
  return r;
}
inline EmuM512i _mm512_add_epi64(EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 8; ++i) a.u64[i] += b.u64[i];
  return a;
}
inline EmuM512i _mm512_xor_si512(EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 8; ++i) a.u64[i] ^= b.u64[i];
  return a;
}
inline EmuM512i _mm512_min_epi32(EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 16; ++i) a.i32[i] = b.i32[i] < a.i32[i] ? b.i32[i] : a.i32[i];
  return a;
}
inline EmuM512i _mm512_max_epi32(EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 16; ++i) a.i32[i] = b.i32[i] > a.i32[i] ? b.i32[i] : a.i32[i];
  return a;
}
// vpmuldq: the signed low dwords of each qword, full 64-bit product.
inline EmuM512i _mm512_mul_epi32(EmuM512i a, EmuM512i b) {
  EmuM512i r;
  for (int i = 0; i < 8; ++i) r.i64[i] = (int64_t)a.i32[2 * i] * (int64_t)b.i32[2 * i];
  return r;
}
inline EmuM512i _mm512_srli_epi64(EmuM512i a, unsigned imm) {
  for (auto& x : a.u64) x = imm > 63 ? 0 : x >> imm;
  return a;
}
inline EmuM512i _mm512_slli_epi64(EmuM512i a, unsigned imm) {
  for (auto& x : a.u64) x = imm > 63 ? 0 : x << imm;
  return a;
}
inline EmuM512i _mm512_srlv_epi64(EmuM512i a, EmuM512i n) {
  for (int i = 0; i < 8; ++i) a.u64[i] = n.u64[i] > 63 ? 0 : a.u64[i] >> n.u64[i];
  return a;
}
inline EmuM512i _mm512_sllv_epi32(EmuM512i a, EmuM512i n) {
  for (int i = 0; i < 16; ++i) a.u32[i] = n.u32[i] > 31 ? 0 : a.u32[i] << n.u32[i];
  return a;
}
// vpsravd: arithmetic; counts past 31 fill with the sign.
inline EmuM512i _mm512_srav_epi32(EmuM512i a, EmuM512i n) {
  for (int i = 0; i < 16; ++i) a.i32[i] = a.i32[i] >> (n.u32[i] > 31 ? 31 : n.u32[i]);
  return a;
}
inline __mmask8 _mm512_movepi64_mask(EmuM512i a) {
  unsigned k = 0;
  for (int i = 0; i < 8; ++i) k |= (unsigned)(a.u64[i] >> 63) << i;
  return (__mmask8)k;
}
inline EmuM512i _mm512_mask_blend_epi64(__mmask8 k, EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 8; ++i)
    if (k >> i & 1) a.u64[i] = b.u64[i];
  return a;
}
inline EmuM512i _mm512_mask_blend_epi32(__mmask16 k, EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) a.u32[i] = b.u32[i];
  return a;
}
// vpmovd2m: the sign bit of each int32 lane.
inline __mmask16 _mm512_movepi32_mask(EmuM512i a) {
  unsigned k = 0;
  for (int i = 0; i < 16; ++i) k |= (a.u32[i] >> 31) << i;
  return (__mmask16)k;
}
inline EmuM512 _mm512_mask_blend_ps(__mmask16 k, EmuM512 a, EmuM512 b) {
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) a.f[i] = b.f[i];
  return a;
}
inline EmuM512i _mm512_mask_mov_epi32(EmuM512i src, __mmask16 k, EmuM512i a) {
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) src.u32[i] = a.u32[i];
  return src;
}
// vpdpbusd: each int32 lane plus the four products of a's unsigned bytes with b's signed bytes,
// modulo 2^32 (the saturating form is vpdpbusds).
inline EmuM512i _mm512_dpbusd_epi32(EmuM512i src, EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 16; ++i) {
    uint32_t s = src.u32[i];
    for (int j = 0; j < 4; ++j) s += (uint32_t)((int32_t)a.u8[4 * i + j] * (int32_t)b.i8[4 * i + j]);
    src.u32[i] = s;
  }
  return src;
}

// vpdpwssd: each int32 lane plus the two products of its signed int16 pairs, wrapping (the
// saturating form is vpdpwssds).
inline EmuM512i _mm512_dpwssd_epi32(EmuM512i src, EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 16; ++i) {
    int16_t x[2], y[2];
    std::memcpy(x, a.u8 + 4 * i, 4);
    std::memcpy(y, b.u8 + 4 * i, 4);
    src.u32[i] += (uint32_t)((int32_t)x[0] * y[0]) + (uint32_t)((int32_t)x[1] * y[1]);
  }
  return src;
}
inline EmuM512 _mm512_cvtepi32_ps(EmuM512i a) {
  EmuM512 r;
  for (int i = 0; i < 16; ++i) r.f[i] = (float)a.i32[i];  // round to nearest even, as vcvtdq2ps
  return r;
}
// vfmadd: a * b + c with one rounding.
inline EmuM512 _mm512_fmadd_ps(EmuM512 a, EmuM512 b, EmuM512 c) {
  for (int i = 0; i < 16; ++i) a.f[i] = std::fmaf(a.f[i], b.f[i], c.f[i]);
  return a;
}
inline EmuM512 _mm512_mul_ps(EmuM512 a, EmuM512 b) {
  for (int i = 0; i < 16; ++i) {
    volatile float p = a.f[i] * b.f[i];  // one rounded single-precision product, never fused
    a.f[i] = p;
  }
  return a;
}
inline EmuM512 _mm512_add_ps(EmuM512 a, EmuM512 b) {
  for (int i = 0; i < 16; ++i) {
    volatile float v = a.f[i] + b.f[i];
    a.f[i] = v;
  }
  return a;
}
// vmaxps / vminps: (a > b) ? a : b and (a < b) ? a : b, so the second operand where either is NaN
// or both are zeros.
inline EmuM512 _mm512_max_ps(EmuM512 a, EmuM512 b) {
  for (int i = 0; i < 16; ++i) a.f[i] = a.f[i] > b.f[i] ? a.f[i] : b.f[i];
  return a;
}
inline EmuM512 _mm512_min_ps(EmuM512 a, EmuM512 b) {
  for (int i = 0; i < 16; ++i) a.f[i] = a.f[i] < b.f[i] ? a.f[i] : b.f[i];
  return a;
}
inline EmuM512 _mm512_load_ps(const void* p) { return _mm512_loadu_ps(p); }
inline void _mm512_storeu_ps(void* p, EmuM512 a) { std::memcpy(p, a.f, 64); }
// Masked float loads and stores touch only the lanes whose mask bit is set (zeros elsewhere).
inline EmuM512 _mm512_maskz_loadu_ps(__mmask16 k, const void* p) {
  EmuM512 r;
  const auto* s = static_cast<const float*>(p);
  for (int i = 0; i < 16; ++i) r.f[i] = k >> i & 1 ? s[i] : 0.f;
  return r;
}
inline void _mm512_mask_storeu_ps(void* p, __mmask16 k, EmuM512 a) {
  auto* d = static_cast<float*>(p);
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) d[i] = a.f[i];
}
// Only the predicate the kernel uses: greater or equal, ordered, quiet.
inline __mmask16 _mm512_cmp_ps_mask(EmuM512 a, EmuM512 b, int imm) {
  unsigned k = 0;
  for (int i = 0; i < 16; ++i) {
    bool v = false;
    if (imm == _CMP_GE_OQ) v = a.f[i] >= b.f[i];
    else std::abort();
    k |= (unsigned)v << i;
  }
  return (__mmask16)k;
}
// vcvtps2dq under the default MXCSR: round to nearest even; NaN and values outside the int32 range
// give the "integer indefinite" 0x80000000.
inline EmuM512i _mm512_cvtps_epi32(EmuM512 a) {
  EmuM512i r;
  for (int i = 0; i < 16; ++i) {
    const float f = a.f[i];
    r.i32[i] = f >= -2147483648.f && f < 2147483648.f ? (int32_t)std::nearbyint(f) : INT32_MIN;
  }
  return r;
}
inline __mmask16 _mm512_cmpneq_epi32_mask(EmuM512i a, EmuM512i b) {
  unsigned k = 0;
  for (int i = 0; i < 16; ++i) k |= (unsigned)(a.i32[i] != b.i32[i]) << i;
  return (__mmask16)k;
}
// _mm512_set_epi32: e15 is lane 15, e0 lane 0.
inline EmuM512i _mm512_set_epi32(int e15, int e14, int e13, int e12, int e11, int e10, int e9, int e8, int e7, int e6,
                                 int e5, int e4, int e3, int e2, int e1, int e0) {
  const int v[16] = {e0, e1, e2, e3, e4, e5, e6, e7, e8, e9, e10, e11, e12, e13, e14, e15};
  EmuM512i r;
  for (int i = 0; i < 16; ++i) r.i32[i] = v[i];
  return r;
}
// vpackssdw / vpacksswb / vpackuswb: per 128-bit lane, a's lane saturated, then b's.
inline EmuM512i _mm512_packs_epi32(EmuM512i a, EmuM512i b) {
  EmuM512i r;
  for (int l = 0; l < 4; ++l)
    for (int i = 0; i < 8; ++i) {
      const int32_t v = i < 4 ? a.i32[4 * l + i] : b.i32[4 * l + i - 4];
      const int16_t s = (int16_t)(v < -32768 ? -32768 : v > 32767 ? 32767 : v);
      std::memcpy(r.u8 + 16 * l + 2 * i, &s, 2);
    }
  return r;
}
inline EmuM512i _mm512_packs_epi16(EmuM512i a, EmuM512i b) {
  EmuM512i r;
  for (int l = 0; l < 4; ++l)
    for (int i = 0; i < 16; ++i) {
      int16_t v;
      std::memcpy(&v, (i < 8 ? a.u8 : b.u8) + 16 * l + 2 * (i % 8), 2);
      r.i8[16 * l + i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
  return r;
}
inline EmuM512i _mm512_packus_epi16(EmuM512i a, EmuM512i b) {
  EmuM512i r;
  for (int l = 0; l < 4; ++l)
    for (int i = 0; i < 16; ++i) {
      int16_t v;
      std::memcpy(&v, (i < 8 ? a.u8 : b.u8) + 16 * l + 2 * (i % 8), 2);
      r.u8[16 * l + i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  return r;
}
// vpermd: lane i of the result is lane idx[i] & 15 of a.
inline EmuM512i _mm512_permutexvar_epi32(EmuM512i idx, EmuM512i a) {
  EmuM512i r;
  for (int i = 0; i < 16; ++i) r.i32[i] = a.i32[idx.i32[i] & 15];
  return r;
}
inline EmuM512i _mm512_min_epi8(EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 64; ++i) a.i8[i] = a.i8[i] < b.i8[i] ? a.i8[i] : b.i8[i];
  return a;
}
inline EmuM512i _mm512_max_epi8(EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 64; ++i) a.i8[i] = a.i8[i] > b.i8[i] ? a.i8[i] : b.i8[i];
  return a;
}
inline EmuM512i _mm512_min_epu8(EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 64; ++i) a.u8[i] = a.u8[i] < b.u8[i] ? a.u8[i] : b.u8[i];
  return a;
}
inline EmuM512i _mm512_max_epu8(EmuM512i a, EmuM512i b) {
  for (int i = 0; i < 64; ++i) a.u8[i] = a.u8[i] > b.u8[i] ? a.u8[i] : b.u8[i];
  return a;
}
// vpmovsdb: each int32 lane saturated to int8; vpmovusdb: each lane, as unsigned, saturated to 255.
inline __m128i _mm512_cvtsepi32_epi8(EmuM512i a) {
  alignas(16) int8_t b[16];
  for (int i = 0; i < 16; ++i) b[i] = (int8_t)(a.i32[i] < -128 ? -128 : a.i32[i] > 127 ? 127 : a.i32[i]);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(b));
}
inline __m128i _mm512_cvtusepi32_epi8(EmuM512i a) {
  alignas(16) uint8_t b[16];
  for (int i = 0; i < 16; ++i) b[i] = (uint8_t)(a.u32[i] > 255u ? 255u : a.u32[i]);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(b));
}
// vpmovdb: each int32 lane truncated to its low byte.
inline __m128i _mm512_cvtepi32_epi8(EmuM512i a) {
  alignas(16) uint8_t b[16];
  for (int i = 0; i < 16; ++i) b[i] = (uint8_t)a.u32[i];
  return _mm_load_si128(reinterpret_cast<const __m128i*>(b));
}
// Masked byte loads and stores touch only the bytes whose mask bit is set.
inline EmuM512i _mm512_maskz_loadu_epi8(__mmask64 k, const void* p) {
  EmuM512i r = _mm512_setzero_si512();
  const auto* s = static_cast<const uint8_t*>(p);
  for (int i = 0; i < 64; ++i)
    if (k >> i & 1) r.u8[i] = s[i];
  return r;
}
inline void _mm512_mask_storeu_epi8(void* p, __mmask64 k, EmuM512i a) {
  auto* d = static_cast<uint8_t*>(p);
  for (int i = 0; i < 64; ++i)
    if (k >> i & 1) d[i] = a.u8[i];
}
inline void _mm_mask_storeu_epi8(void* p, __mmask16 k, __m128i a) {
  alignas(16) uint8_t b[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(b), a);
  auto* d = static_cast<uint8_t*>(p);
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) d[i] = b[i];
}

}  // namespace qat::kernels::x86::emulated
