// AVX2 quantized ADD/SUB (see kernels/optimized/add.h): 8 elements per step, each input widened
// to int32, offset, shifted left by 20 and scaled with the vector MultiplyByQuantizedMultiplier
// of int8_common_avx2.h, exactly as the reference does element by element.
#include <immintrin.h>

#include "kernels/quant_math.h"
#include "kernels/x86/int8_common_avx2.h"
#include "kernels/x86/int8_x86.h"

namespace qat::kernels::x86 {

using namespace avx2;

namespace {
struct VecRequant {
  __m256i mult, left, right, mask, half;
  bool any_left;
  explicit VecRequant(int32_t m, int32_t shift) {
    const int l = shift > 0 ? shift : 0, r = shift > 0 ? 0 : -shift;
    const int32_t mk = (int32_t)((1LL << r) - 1);
    mult = _mm256_set1_epi32(m);
    left = _mm256_set1_epi32(l);
    any_left = l != 0;
    right = _mm256_set1_epi32(r);
    mask = _mm256_set1_epi32(mk);
    half = _mm256_set1_epi32(mk >> 1);
  }
  __m256i operator()(__m256i x) const { return RequantTflite(x, mult, mult, left, any_left, right, mask, half); }
};

template <bool kU8>
inline __m256i Load8(const uint8_t* p) {
  const __m128i b = _mm_loadl_epi64((const __m128i*)p);
  return kU8 ? _mm256_cvtepu8_epi32(b) : _mm256_cvtepi8_epi32(b);
}

// XNNPACK's fixed-point ADD: |q| m < 2^8 2^21, so the int32 sum cannot overflow; >> is arithmetic.
template <bool kU8>
void AddXnnpack(const AddParams& p, const uint8_t* in1, const uint8_t* in2, int64_t stride2, uint8_t* out,
                int64_t n) {
  const __m256i m1 = _mm256_set1_epi32(p.xm1), m2 = _mm256_set1_epi32(p.xm2), bias = _mm256_set1_epi32(p.xbias);
  const __m128i shift = _mm_cvtsi32_si128(p.xshift);
  const __m256i zo = _mm256_set1_epi32(p.output_offset);
  const __m256i lo = _mm256_set1_epi32(p.act_min), hi = _mm256_set1_epi32(p.act_max);
  const __m256i b_scalar = _mm256_set1_epi32(kU8 ? (int32_t)in2[0] : (int32_t)(int8_t)in2[0]);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i b = stride2 ? Load8<kU8>(in2 + i) : b_scalar;
    __m256i acc = _mm256_add_epi32(bias, _mm256_mullo_epi32(Load8<kU8>(in1 + i), m1));
    acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(b, m2));
    __m256i v = _mm256_add_epi32(_mm256_sra_epi32(acc, shift), zo);
    v = _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i*)(out + i), kU8 ? _mm_packus_epi16(w16, w16) : _mm_packs_epi16(w16, w16));
  }
  for (; i < n; ++i) {
    const int32_t x1 = kU8 ? (int32_t)in1[i] : (int32_t)(int8_t)in1[i];
    const int32_t x2 = kU8 ? (int32_t)in2[i * stride2] : (int32_t)(int8_t)in2[i * stride2];
    const int32_t acc = p.xbias + x1 * p.xm1 + x2 * p.xm2;
    int32_t v = (acc >> p.xshift) + p.output_offset;
    out[i] = (uint8_t)(v < p.act_min ? p.act_min : (v > p.act_max ? p.act_max : v));
  }
}

template <bool kU8>
void Add(const AddParams& p, const uint8_t* in1, const uint8_t* in2, int64_t stride2, uint8_t* out, int64_t n) {
  const VecRequant r1(p.m1, p.s1), r2(p.m2, p.s2), ro(p.mo, p.so);
  const __m256i off1 = _mm256_set1_epi32(p.input1_offset), off2 = _mm256_set1_epi32(p.input2_offset);
  const __m256i shift = _mm256_set1_epi32(p.left_shift);
  const __m256i zo = _mm256_set1_epi32(p.output_offset);
  const __m256i lo = _mm256_set1_epi32(p.act_min), hi = _mm256_set1_epi32(p.act_max);
  const __m256i b_scalar = _mm256_set1_epi32(kU8 ? (int32_t)in2[0] : (int32_t)(int8_t)in2[0]);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i a = _mm256_sllv_epi32(_mm256_add_epi32(Load8<kU8>(in1 + i), off1), shift);
    const __m256i b = _mm256_sllv_epi32(_mm256_add_epi32(stride2 ? Load8<kU8>(in2 + i) : b_scalar, off2), shift);
    const __m256i sa = r1(a), sb = r2(b);
    const __m256i sum = p.sign > 0 ? _mm256_add_epi32(sa, sb) : _mm256_sub_epi32(sa, sb);
    __m256i v = _mm256_add_epi32(ro(sum), zo);
    v = _mm256_min_epi32(_mm256_max_epi32(v, lo), hi);
    const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i*)(out + i), kU8 ? _mm_packus_epi16(w16, w16) : _mm_packs_epi16(w16, w16));
  }
  for (; i < n; ++i) {
    const int32_t x1 = kU8 ? (int32_t)in1[i] : (int32_t)(int8_t)in1[i];
    const int32_t x2 = kU8 ? (int32_t)in2[i * stride2] : (int32_t)(int8_t)in2[i * stride2];
    const int32_t a = (x1 + p.input1_offset) * (1 << p.left_shift);
    const int32_t b = (x2 + p.input2_offset) * (1 << p.left_shift);
    const int32_t sa = MultiplyByQuantizedMultiplier(a, p.m1, p.s1);
    const int32_t sb = MultiplyByQuantizedMultiplier(b, p.m2, p.s2);
    int32_t v = MultiplyByQuantizedMultiplier(sa + p.sign * sb, p.mo, p.so) + p.output_offset;
    v = v < p.act_min ? p.act_min : (v > p.act_max ? p.act_max : v);
    out[i] = (uint8_t)v;
  }
}
}  // namespace

void AddAvx2(const AddParams& p, const void* in1, const void* in2, int64_t stride2, void* out, int64_t n) {
  auto* a = static_cast<const uint8_t*>(in1);
  auto* b = static_cast<const uint8_t*>(in2);
  auto* o = static_cast<uint8_t*>(out);
  if (p.xnnpack) {
    if (p.is_uint8)
      AddXnnpack<true>(p, a, b, stride2, o, n);
    else
      AddXnnpack<false>(p, a, b, stride2, o, n);
  } else if (p.is_uint8) {
    Add<true>(p, a, b, stride2, o, n);
  } else {
    Add<false>(p, a, b, stride2, o, n);
  }
}

}  // namespace qat::kernels::x86
