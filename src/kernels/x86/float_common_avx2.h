// AVX2 + FMA helpers shared by the float kernels (x86/float_avx2.cpp, and the ymm tails of
// x86/float_avx512vnni.cpp and its emulated build). Include only from translation units compiled
// with -mavx2 -mfma, and from files that keep fp-contract off (the exact form must stay a
// multiply, then an add).
#pragma once
#include <immintrin.h>

namespace qat::kernels::x86::floatx {
// Internal linkage: translation units with different ISA flags include this header, and an
// out-of-line copy of an inline function with external linkage may be merged by the linker with
// another TU's, whose instructions this CPU may not have.
namespace {

// std::min(std::max(v, lo), hi) exactly, NaN included: _mm256_max_ps(lo, v) is (lo > v) ? lo : v
// and _mm256_min_ps(hi, x) is (hi < x) ? hi : x.
inline __m256 ClampVec(__m256 v, __m256 lo, __m256 hi) { return _mm256_min_ps(hi, _mm256_max_ps(lo, v)); }

// acc + x * w: two roundings (the reference's), or one FMA (kFused: FloatMath::kFused's value).
template <bool kFused>
inline __m256 MulAdd8(__m256 acc, __m256 x, __m256 w) {
  if constexpr (kFused)
    return _mm256_fmadd_ps(x, w, acc);
  else
    return _mm256_add_ps(acc, _mm256_mul_ps(x, w));
}

}  // namespace
}  // namespace qat::kernels::x86::floatx
