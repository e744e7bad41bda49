// The exact FMA form of TFLite's short ReLU output stage: the search (optimized/fma_stage.h).
// Compiled with -mfma: std::fmaf is one vfmadd, std::nearbyint one vroundss (round to nearest
// even, as vcvtps2dq in the kernels).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/x86/fma_stage_x86.h"

namespace qat::kernels::x86 {

namespace {
// g(x) - 128 as the kernels compute it.
inline int G(int64_t x, float s, float o) { return (int)std::nearbyint(std::fmaf((float)x, s, o)); }

// fp32 values in order as integers (monotone both ways), to step o by one ulp.
inline int32_t Ordered(float f) {
  int32_t i;
  std::memcpy(&i, &f, 4);
  return i < 0 ? std::numeric_limits<int32_t>::min() - i : i;
}
inline float FromOrdered(int32_t i) {
  if (i < 0) i = std::numeric_limits<int32_t>::min() - i;
  float f;
  std::memcpy(&f, &i, 4);
  return f;
}
// The least fp32 o with G(x, s, o) >= level, and the largest with G(x, s, o) < level, searched
// by single ulps from the real-valued boundary `guess` (a few steps: G is monotone in o).
float LeastOffset(int64_t x, float s, int level, double guess) {
  int32_t k = Ordered((float)guess);
  while (G(x, s, FromOrdered(k)) >= level) --k;
  while (G(x, s, FromOrdered(k)) < level) ++k;
  return FromOrdered(k);
}
float GreatestOffsetBelow(int64_t x, float s, int level, double guess) {
  int32_t k = Ordered((float)guess);
  while (G(x, s, FromOrdered(k)) < level) ++k;
  while (G(x, s, FromOrdered(k)) >= level) --k;
  return FromOrdered(k);
}
constexpr int kScaleNeighbours = 2;  // candidate scales within this many ulps of the nearest
constexpr int kCentres[] = {128, 96, 160, 64, 192};
}  // namespace

bool FindExactFmaStageAvx2(int32_t multiplier, int right, int lo, int hi, float* scale, float* offset, int* center) {
  if (right < 1 || right > 21 || multiplier <= 0 || lo < 0 || hi > 255 || hi <= lo) return false;
  // t_L = ceil(num_L / M) with num_L = L 2^(31+r) - 2^30 - 2^(30+r), the least x with f(x) >= L
  // (every t_L >= 1; num_L <= 255 2^52 fits int64). Stepping L by one adds D = 2^(31+r) = a M + b
  // to num_L: with e_L = t_L M - num_L in [0, M), t_(L+1) = t_L + a + [b > e_L]. Levels no int32
  // accumulator reaches are dropped; g must then stay below the first of them at INT32_MAX.
  int64_t t[257];
  int levels = 0;
  const int64_t D = int64_t{1} << (31 + right), a = D / multiplier, b = D % multiplier;
  const int64_t num0 = (int64_t)(lo + 1) * D - (int64_t{1} << 30) - (int64_t{1} << (30 + right));
  int64_t q = (num0 + multiplier - 1) / multiplier, e = q * multiplier - num0;
  for (int L = lo + 1; L <= hi; ++L) {
    if (q > std::numeric_limits<int32_t>::max()) break;
    t[levels++] = q;
    const bool carry = b > e;
    q += a + carry;
    e += (carry ? multiplier : 0) - b;
  }
  const bool capped = levels < hi - lo;
  if (capped) t[levels] = int64_t{std::numeric_limits<int32_t>::max()} + 1;  // only t - 1 is used
  const int n = levels + (capped ? 1 : 0);
  const float s0 = (float)((double)multiplier / std::ldexp(1.0, 31 + right));
  // The sum is centred on a level (the kernels add it back with Z_out): 128 first, where |y| < 128
  // has the least rounding error; other centres move the error to other levels.
  for (int c : kCentres) {
  const int first_level = lo + 1 - c;  // levels relative to the centre
  for (int d = 0; d <= kScaleNeighbours; ++d)
    for (int dir : {1, -1}) {
      if (d == 0 && dir < 0) continue;
      float s = s0;
      for (int i = 0; i < d; ++i) s = std::nextafterf(s, dir > 0 ? 1.f : 0.f);
      // The fp32 offsets that step at every threshold form an interval [o_lo, o_hi] (each
      // condition is monotone in o): g(t_L) >= L needs o >= LeastOffset, g(t_L - 1) < L needs
      // o <= GreatestOffsetBelow. Each exact bound lies within fp32's error of the real-valued
      // one, level - 1/2 - t s (|y| < 128: under 2^-16 with the offset's own rounding), so only
      // levels whose real bound is within kNear of the tightest can bind: the exact bounds are
      // computed for those, and the pair is then checked at every threshold.
      constexpr double kNear = 1.0 / (1 << 12);
      double r_lo = -1e300, r_hi = 1e300;
      for (int i = 0; i < n; ++i) {
        const double half = first_level + i - 0.5;
        if (i < levels) r_lo = std::max(r_lo, half - (double)t[i] * s);
        r_hi = std::min(r_hi, half - (double)(t[i] - 1) * s);
      }
      if (r_hi - r_lo < -2 * kNear) continue;
      float o_lo = -std::numeric_limits<float>::max(), o_hi = std::numeric_limits<float>::max();
      for (int i = 0; i < n; ++i) {
        const int level = first_level + i;
        const double b_lo = level - 0.5 - (double)t[i] * s, b_hi = level - 0.5 - (double)(t[i] - 1) * s;
        if (i < levels && b_lo > r_lo - kNear) o_lo = std::max(o_lo, LeastOffset(t[i], s, level, b_lo));
        if (b_hi < r_hi + kNear) o_hi = std::min(o_hi, GreatestOffsetBelow(t[i] - 1, s, level, b_hi));
      }
      if (o_lo > o_hi) continue;
      bool exact = true;
      for (int i = 0; i < n && exact; ++i) {
        const int level = first_level + i;
        exact = (i >= levels || G(t[i], s, o_lo) >= level) && G(t[i] - 1, s, o_lo) < level;
      }
      if (!exact) continue;
      *scale = s;
      *offset = o_lo;
      *center = c;
      return true;
    }
  }
  return false;
}

}  // namespace qat::kernels::x86
