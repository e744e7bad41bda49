// Shared helpers of the optimised-kernel tests: random layer parameters (seeded, reproducible)
// and the list of code paths this CPU can run.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/reference/types.h"
#include "qat/cpu_features.h"

namespace qat::kernels::testing {

// Every compiled path this machine supports: portable always, AVX2 where CPUID/XGETBV allow.
inline std::vector<KernelPath> PathsToTest() {
  std::vector<KernelPath> paths{KernelPath::kPortable};
  if (isa_supported(Isa::kAvx2)) paths.push_back(KernelPath::kAvx2);
  return paths;
}

inline int Uniform(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

// n floats uniform in [lo, hi) with NaN, +-infinity, -0 and +0 sprinkled in (1 % each).
inline std::vector<float> SpecialFloats(std::mt19937& rng, size_t n, float lo, float hi) {
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) {
    const int r = Uniform(rng, 0, 99);
    x = r == 0 ? std::numeric_limits<float>::quiet_NaN()
               : r == 1 ? std::numeric_limits<float>::infinity()
               : r == 2 ? -std::numeric_limits<float>::infinity()
               : r == 3 ? -0.f
               : r == 4 ? 0.f
               : u(rng);
  }
  return v;
}

// Equal bits, except that any NaN equals any NaN (payloads aside).
inline bool SameFloat(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

// A zero point, biased toward the extremes of the type.
inline int32_t ZeroPoint(std::mt19937& rng, bool is_uint8) {
  const int lo = is_uint8 ? 0 : -128, hi = is_uint8 ? 255 : 127;
  switch (Uniform(rng, 0, 3)) {
    case 0: return lo;
    case 1: return hi;
    default: return Uniform(rng, lo, hi);
  }
}

// A requantization multiplier: mostly the real range (1e-5..1), sometimes above 1 (left shift).
inline Requant RandomRequant(std::mt19937& rng) {
  const double e = std::uniform_real_distribution<double>(-12.0, Uniform(rng, 0, 9) == 0 ? 2.0 : 0.0)(rng);
  return MakeRequant(std::exp2(e));
}

// Output clamp: the full type range, a fused ReLU-like lower bound, or a random window.
inline void RandomClamp(std::mt19937& rng, bool is_uint8, int32_t* act_min, int32_t* act_max) {
  const int lo = is_uint8 ? 0 : -128, hi = is_uint8 ? 255 : 127;
  *act_min = lo;
  *act_max = hi;
  const int k = Uniform(rng, 0, 3);
  if (k == 1) *act_min = Uniform(rng, lo, hi);
  if (k == 2) {
    *act_min = Uniform(rng, lo, hi);
    *act_max = Uniform(rng, *act_min, hi);
  }
}

template <class T>
std::vector<T> RandomBytes(std::mt19937& rng, size_t n, bool symmetric_int8 = false) {
  std::vector<T> v(n);
  for (auto& x : v) {
    int lo = std::is_same_v<T, uint8_t> ? 0 : (symmetric_int8 ? -127 : -128);
    int hi = std::is_same_v<T, uint8_t> ? 255 : 127;
    x = (T)Uniform(rng, lo, hi);
  }
  return v;
}

inline std::vector<int32_t> RandomBias(std::mt19937& rng, int n) {
  std::vector<int32_t> b(n);
  for (auto& x : b) x = Uniform(rng, -(1 << 16), 1 << 16);
  return b;
}

}  // namespace qat::kernels::testing
