// The AVX-512 emulation (avx512_emulation.h) against this CPU's own AVX2 instructions: every
// emulated operation that has an AVX2 twin (the same operation on 256 bits) is run on random and
// extreme 512-bit inputs and compared with the twin applied to each half, bit for bit; vpdpbusd
// and vpmovdb, which have none, against a scalar formulation written independently of the
// emulation. The emulated kernels' tests are only as good as this emulation (tests only).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include "kernels/x86/avx512_emulation.h"
#include "kernels/x86/int8_x86.h"

namespace qat::kernels::x86 {

namespace {
namespace em = ::qat::kernels::x86::emulated;

__m256i Half(const em::EmuM512i& v, int h) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(v.u8 + 32 * h)); }
__m256 HalfPs(const em::EmuM512& v, int h) { return _mm256_loadu_ps(v.f + 8 * h); }
bool Same(__m256i a, __m256i b) { return _mm256_movemask_epi8(_mm256_cmpeq_epi8(a, b)) == -1; }
// Floats bit for bit, except that any NaN equals any NaN: which input's payload a NaN result carries
// depends on the operand order the compiler picked for the emulation's scalar multiply (the
// kernels never multiply NaNs: float(int32) times a finite scale).
bool SamePs(__m256 a, __m256 b) {
  const __m256 both_nan = _mm256_and_ps(_mm256_cmp_ps(a, a, _CMP_UNORD_Q), _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
  const __m256i eq = _mm256_cmpeq_epi32(_mm256_castps_si256(a), _mm256_castps_si256(b));
  return _mm256_movemask_ps(_mm256_or_ps(_mm256_castsi256_ps(eq), both_nan)) == 0xFF;
}

// Random bytes with the int32 / int64 / float edge values sprinkled in.
em::EmuM512i RandomVec(std::mt19937& rng) {
  em::EmuM512i v;
  for (auto& x : v.u32) x = rng();
  static const uint32_t edges[] = {0u, 1u, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu, 0x7F800000u /* inf */,
                                   0x7FC00000u /* NaN */, 0x4F000000u /* 2^31 */, 0xCF000000u /* -2^31 */,
                                   0x4EFFFFFFu, 0x00008000u, 0x80008000u, 0x80808080u, 0x7F7F7F7Fu};
  for (int i = 0; i < 16; ++i)
    if (rng() % 4 == 0) v.u32[i] = edges[rng() % (sizeof(edges) / sizeof(edges[0]))];
  return v;
}
const float kZeroF = 0.f;
em::EmuM512 AsPs(const em::EmuM512i& v) {
  em::EmuM512 f;
  std::memcpy(f.f, v.u8, 64);
  return f;
}
// Shift counts: mostly in range, some past the lane width.
em::EmuM512i RandomCounts(std::mt19937& rng, int width) {
  em::EmuM512i v;
  for (auto& x : v.u32) x = rng() % 3 == 0 ? (uint32_t)(width + rng() % 40) : (uint32_t)(rng() % width);
  if (width == 64)
    for (int i = 0; i < 8; ++i) v.u64[i] = rng() % 3 == 0 ? (uint64_t)(64 + rng() % 100) : (uint64_t)(rng() % 64);
  return v;
}
}  // namespace

int CheckAvx512EmulationForTests(uint32_t seed, int trials, std::string* first_failure) {
  std::mt19937 rng(seed);
  int failures = 0;
  auto fail = [&](const char* op) {
    if (failures++ == 0 && first_failure) *first_failure = op;
  };
  for (int t = 0; t < trials; ++t) {
    const em::EmuM512i a = RandomVec(rng), b = RandomVec(rng), c = RandomVec(rng);
    const em::EmuM512 fa = AsPs(a), fb = AsPs(b), fc = AsPs(c);
    const em::EmuM512i n32 = RandomCounts(rng, 32), n64 = RandomCounts(rng, 64);
    const unsigned imm = rng() % 70;
    const uint16_t k16 = (uint16_t)rng();
    const uint8_t k8 = (uint8_t)rng();
    const em::EmuM512i add32 = em::_mm512_add_epi32(a, b), add64 = em::_mm512_add_epi64(a, b);
    const em::EmuM512i x = em::_mm512_xor_si512(a, b), mn = em::_mm512_min_epi32(a, b), mx = em::_mm512_max_epi32(a, b);
    const em::EmuM512i mul = em::_mm512_mul_epi32(a, b);
    const em::EmuM512i srli = em::_mm512_srli_epi64(a, imm), slli = em::_mm512_slli_epi64(a, imm);
    const em::EmuM512i srlv = em::_mm512_srlv_epi64(a, n64), sllv = em::_mm512_sllv_epi32(a, n32);
    const em::EmuM512i srav = em::_mm512_srav_epi32(a, n32);
    const em::EmuM512 cvt = em::_mm512_cvtepi32_ps(a), mulps = em::_mm512_mul_ps(fa, fb);
    const em::EmuM512 fma = em::_mm512_fmadd_ps(fa, fb, fc);
    const em::EmuM512i cvtps = em::_mm512_cvtps_epi32(fa);
    const em::EmuM512i dpwssd = em::_mm512_dpwssd_epi32(c, a, b);
    const em::EmuM512i blend32 = em::_mm512_mask_blend_epi32(k16, a, b), blend64 = em::_mm512_mask_blend_epi64(k8, a, b);
    const em::EmuM512i mov32 = em::_mm512_mask_mov_epi32(a, k16, b);
    const unsigned ge = em::_mm512_cmp_ps_mask(fa, fb, _CMP_GE_OQ), sign64 = em::_mm512_movepi64_mask(a);
    const em::EmuM512i pk32 = em::_mm512_packs_epi32(a, b), pk16 = em::_mm512_packs_epi16(a, b);
    const em::EmuM512i pku16 = em::_mm512_packus_epi16(a, b);
    const em::EmuM512i mn8 = em::_mm512_min_epi8(a, b), mx8 = em::_mm512_max_epi8(a, b);
    const em::EmuM512i mnu8 = em::_mm512_min_epu8(a, b), mxu8 = em::_mm512_max_epu8(a, b);
    const em::EmuM512 addps = em::_mm512_add_ps(fa, fb), maxps = em::_mm512_max_ps(fa, fb);
    const em::EmuM512 minps = em::_mm512_min_ps(fa, fb);
    for (int h = 0; h < 2; ++h) {
      const __m256i A = Half(a, h), B = Half(b, h), C = Half(c, h);
      const __m256 FA = HalfPs(fa, h), FB = HalfPs(fb, h), FC = HalfPs(fc, h);
      if (!Same(Half(add32, h), _mm256_add_epi32(A, B))) fail("add_epi32");
      if (!Same(Half(add64, h), _mm256_add_epi64(A, B))) fail("add_epi64");
      if (!Same(Half(x, h), _mm256_xor_si256(A, B))) fail("xor");
      if (!Same(Half(mn, h), _mm256_min_epi32(A, B))) fail("min_epi32");
      if (!Same(Half(mx, h), _mm256_max_epi32(A, B))) fail("max_epi32");
      if (!Same(Half(mul, h), _mm256_mul_epi32(A, B))) fail("mul_epi32");
      if (!Same(Half(srli, h), _mm256_srl_epi64(A, _mm_cvtsi32_si128((int)imm)))) fail("srli_epi64");
      if (!Same(Half(slli, h), _mm256_sll_epi64(A, _mm_cvtsi32_si128((int)imm)))) fail("slli_epi64");
      if (!Same(Half(srlv, h), _mm256_srlv_epi64(A, Half(n64, h)))) fail("srlv_epi64");
      if (!Same(Half(sllv, h), _mm256_sllv_epi32(A, Half(n32, h)))) fail("sllv_epi32");
      if (!Same(Half(srav, h), _mm256_srav_epi32(A, Half(n32, h)))) fail("srav_epi32");
      if (!SamePs(HalfPs(cvt, h), _mm256_cvtepi32_ps(A))) fail("cvtepi32_ps");
      if (!SamePs(HalfPs(mulps, h), _mm256_mul_ps(FA, FB))) fail("mul_ps");
      if (!SamePs(HalfPs(fma, h), _mm256_fmadd_ps(FA, FB, FC))) fail("fmadd_ps");
      if (!SamePs(HalfPs(addps, h), _mm256_add_ps(FA, FB))) fail("add_ps");
      if (!SamePs(HalfPs(maxps, h), _mm256_max_ps(FA, FB))) fail("max_ps");
      if (!SamePs(HalfPs(minps, h), _mm256_min_ps(FA, FB))) fail("min_ps");
      if (!Same(Half(pk32, h), _mm256_packs_epi32(A, B))) fail("packs_epi32");
      if (!Same(Half(pk16, h), _mm256_packs_epi16(A, B))) fail("packs_epi16");
      if (!Same(Half(pku16, h), _mm256_packus_epi16(A, B))) fail("packus_epi16");
      if (!Same(Half(mn8, h), _mm256_min_epi8(A, B))) fail("min_epi8");
      if (!Same(Half(mx8, h), _mm256_max_epi8(A, B))) fail("max_epi8");
      if (!Same(Half(mnu8, h), _mm256_min_epu8(A, B))) fail("min_epu8");
      if (!Same(Half(mxu8, h), _mm256_max_epu8(A, B))) fail("max_epu8");
      if (!Same(Half(cvtps, h), _mm256_cvtps_epi32(FA))) fail("cvtps_epi32");
      if (!Same(Half(dpwssd, h), _mm256_add_epi32(C, _mm256_madd_epi16(A, B)))) fail("dpwssd_epi32");
      const __m256i m32 = _mm256_setr_epi32(k16 >> (8 * h) & 1 ? -1 : 0, k16 >> (8 * h + 1) & 1 ? -1 : 0,
                                            k16 >> (8 * h + 2) & 1 ? -1 : 0, k16 >> (8 * h + 3) & 1 ? -1 : 0,
                                            k16 >> (8 * h + 4) & 1 ? -1 : 0, k16 >> (8 * h + 5) & 1 ? -1 : 0,
                                            k16 >> (8 * h + 6) & 1 ? -1 : 0, k16 >> (8 * h + 7) & 1 ? -1 : 0);
      if (!Same(Half(blend32, h), _mm256_blendv_epi8(A, B, m32))) fail("mask_blend_epi32");
      if (!Same(Half(mov32, h), _mm256_blendv_epi8(A, B, m32))) fail("mask_mov_epi32");
      const __m256i m64 = _mm256_setr_epi64x(k8 >> (4 * h) & 1 ? -1 : 0, k8 >> (4 * h + 1) & 1 ? -1 : 0,
                                             k8 >> (4 * h + 2) & 1 ? -1 : 0, k8 >> (4 * h + 3) & 1 ? -1 : 0);
      if (!Same(Half(blend64, h), _mm256_blendv_epi8(A, B, m64))) fail("mask_blend_epi64");
      if ((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(FA, FB, _CMP_GE_OQ)) != (ge >> (8 * h) & 0xFF)) fail("cmp_ps_mask");
      if ((unsigned)_mm256_movemask_pd(_mm256_castsi256_pd(A)) != (sign64 >> (4 * h) & 0xF)) fail("movepi64_mask");
    }
    // vpmovd2m and a masked float blend against vmovmskps / vblendvps, half by half.
    const __mmask16 sign32 = em::_mm512_movepi32_mask(a);
    const em::EmuM512 blendps =
        em::_mm512_mask_blend_ps(k16, em::_mm512_castsi512_ps(a), em::_mm512_castsi512_ps(b));
    for (int h = 0; h < 2; ++h) {
      const __m256i A = Half(a, h);
      const __m256 FA = _mm256_castsi256_ps(A), FB = _mm256_castsi256_ps(Half(b, h));
      if ((unsigned)_mm256_movemask_ps(FA) != (sign32 >> (8 * h) & 0xFFu)) fail("movepi32_mask");
      const __m256i m = _mm256_setr_epi32(k16 >> (8 * h) & 1 ? -1 : 0, k16 >> (8 * h + 1) & 1 ? -1 : 0,
                                          k16 >> (8 * h + 2) & 1 ? -1 : 0, k16 >> (8 * h + 3) & 1 ? -1 : 0,
                                          k16 >> (8 * h + 4) & 1 ? -1 : 0, k16 >> (8 * h + 5) & 1 ? -1 : 0,
                                          k16 >> (8 * h + 6) & 1 ? -1 : 0, k16 >> (8 * h + 7) & 1 ? -1 : 0);
      alignas(32) float want[8], got[8];
      _mm256_store_ps(want, _mm256_blendv_ps(FA, FB, _mm256_castsi256_ps(m)));
      std::memcpy(got, blendps.f + 8 * h, 32);
      if (std::memcmp(want, got, 32) != 0) fail("mask_blend_ps");
    }
    // vpermd across the whole register, and the masked float load / store (lanes off the mask
    // neither read nor written), against their definitions.
    const em::EmuM512i perm = em::_mm512_permutexvar_epi32(c, a);
    for (int i = 0; i < 16; ++i)
      if (perm.i32[i] != a.i32[c.u32[i] & 15]) fail("permutexvar_epi32");
    const unsigned neq = em::_mm512_cmpneq_epi32_mask(a, b);
    for (int i = 0; i < 16; ++i)
      if ((neq >> i & 1) != (unsigned)(a.i32[i] != b.i32[i])) fail("cmpneq_epi32_mask");
    const em::EmuM512i setv = em::_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (int i = 0; i < 16; ++i)
      if (setv.i32[i] != i) fail("set_epi32");
    {
      float buf[16], out[16];
      std::memcpy(buf, fa.f, 64);
      std::memcpy(out, fb.f, 64);
      const em::EmuM512 ld = em::_mm512_maskz_loadu_ps(k16, buf);
      em::_mm512_mask_storeu_ps(out, k16, fc);
      for (int i = 0; i < 16; ++i) {
        const bool on = k16 >> i & 1;
        if (std::memcmp(&ld.f[i], on ? &buf[i] : &kZeroF, 4) != 0) fail("maskz_loadu_ps");
        if (std::memcmp(&out[i], on ? &fc.f[i] : &fb.f[i], 4) != 0) fail("mask_storeu_ps");
      }
    }
    // No AVX2 twin: vpdpbusd (u8 x s8, four products per lane, wrapping), vpmovdb (truncation),
    // vpmovsdb / vpmovusdb (signed / unsigned saturation).
    const em::EmuM512i dpbusd = em::_mm512_dpbusd_epi32(c, a, b);
    alignas(16) uint8_t bytes[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(bytes), em::_mm512_cvtepi32_epi8(a));
    for (int i = 0; i < 16; ++i) {
      int64_t s = c.i32[i];
      for (int j = 0; j < 4; ++j) s += (int64_t)a.u8[4 * i + j] * (int64_t)b.i8[4 * i + j];
      if ((int32_t)(uint32_t)(uint64_t)s != dpbusd.i32[i]) fail("dpbusd_epi32");
      if (bytes[i] != (uint8_t)(a.u32[i] & 0xFF)) fail("cvtepi32_epi8");
    }
    alignas(16) int8_t sbytes[16];
    alignas(16) uint8_t ubytes[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(sbytes), em::_mm512_cvtsepi32_epi8(a));
    _mm_store_si128(reinterpret_cast<__m128i*>(ubytes), em::_mm512_cvtusepi32_epi8(a));
    for (int i = 0; i < 16; ++i) {
      if (sbytes[i] != (int8_t)std::clamp<int32_t>(a.i32[i], -128, 127)) fail("cvtsepi32_epi8");
      if (ubytes[i] != (uint8_t)std::min<uint32_t>(a.u32[i], 255u)) fail("cvtusepi32_epi8");
    }
    // Masked byte loads and stores: only the selected bytes, the others zero / untouched.
    const uint64_t k64 = ((uint64_t)rng() << 32) | rng();
    const em::EmuM512i ld = em::_mm512_maskz_loadu_epi8(k64, a.u8);
    em::EmuM512i st = c;
    em::_mm512_mask_storeu_epi8(st.u8, k64, b);
    for (int i = 0; i < 64; ++i) {
      if (ld.u8[i] != (k64 >> i & 1 ? a.u8[i] : 0)) fail("maskz_loadu_epi8");
      if (st.u8[i] != (k64 >> i & 1 ? b.u8[i] : c.u8[i])) fail("mask_storeu_epi8");
    }
  }
  return failures;
}

}  // namespace qat::kernels::x86
