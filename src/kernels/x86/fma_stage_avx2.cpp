// The exact FMA form of TFLite's short ReLU output stage: the search (optimized/fma_stage.h).
// Compiled with -mfma: std::fmaf is one vfmadd, std::nearbyint one vroundss (round to nearest
// even, as vcvtps2dq in the kernels).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

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
// The least fp32 o with G(x, s, o) >= level, and the largest with G(x, s, o) < level: G is
// monotone in o, so from the real-valued boundary `guess` an exponential search over the ordered
// fp32 values brackets the step, and bisection finds it (offsets near 0, whose ulps are tiny, once
// took minutes by single ulps).
int64_t LeastOrdered(int64_t x, float s, int level, double guess) {
  constexpr int64_t kMin = -2139095039, kMax = 2139095039;  // Ordered(-FLT_MAX), Ordered(FLT_MAX)
  auto at = [&](int64_t k) { return G(x, s, FromOrdered((int32_t)std::clamp(k, kMin, kMax))) >= level; };
  int64_t lo, hi;  // at(lo) false, at(hi) true
  const int64_t k = Ordered((float)guess);
  if (at(k)) {
    hi = k;
    int64_t step = 1;
    for (lo = k - step; lo > kMin && at(lo); step *= 2) {
      hi = lo;
      lo = std::max(kMin, k - 2 * step);
    }
    if (at(lo)) return lo;  // every finite offset reaches the level
  } else {
    lo = k;
    int64_t step = 1;
    for (hi = k + step; hi < kMax && !at(hi); step *= 2) {
      lo = hi;
      hi = std::min(kMax, k + 2 * step);
    }
  }
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    (at(mid) ? hi : lo) = mid;
  }
  return hi;
}
float LeastOffset(int64_t x, float s, int level, double guess) {
  return FromOrdered((int32_t)LeastOrdered(x, s, level, guess));
}
float GreatestOffsetBelow(int64_t x, float s, int level, double guess) {
  return FromOrdered((int32_t)(LeastOrdered(x, s, level, guess) - 1));
}
constexpr int kScaleNeighbours = 2;  // candidate scales within this many ulps of the nearest
constexpr int kCentres[] = {128, 96, 160, 64, 192};

// One condition on g(x) - c: G(x, s, o) >= level (ge), or < level.
struct Condition {
  int64_t x;
  int level;
  bool ge;
};

// The least fp32 offset o that meets every condition for scale s, if any. The offsets that meet
// them form an interval [o_lo, o_hi] (each condition is monotone in o): g(x) >= L needs
// o >= LeastOffset, g(x) < L needs o <= GreatestOffsetBelow. Each exact bound lies within fp32's
// error of the real-valued one, level - 1/2 - x s (|y| < 128: under 2^-16 with the offset's own
// rounding), so only conditions whose real bound is within kNear of the tightest can bind: their
// exact bounds are computed, and o_lo is then checked against every condition.
bool SearchOffset(const std::vector<Condition>& cs, float s, float* o) {
  constexpr double kNear = 1.0 / (1 << 12);
  double r_lo = -1e300, r_hi = 1e300;
  for (const Condition& c : cs) {
    const double b = c.level - 0.5 - (double)c.x * s;
    if (c.ge)
      r_lo = std::max(r_lo, b);
    else
      r_hi = std::min(r_hi, b);
  }
  if (r_hi - r_lo < -2 * kNear) return false;
  float o_lo = -std::numeric_limits<float>::max(), o_hi = std::numeric_limits<float>::max();
  for (const Condition& c : cs) {
    const double b = c.level - 0.5 - (double)c.x * s;
    if (c.ge && b > r_lo - kNear) o_lo = std::max(o_lo, LeastOffset(c.x, s, c.level, b));
    if (!c.ge && b < r_hi + kNear) o_hi = std::min(o_hi, GreatestOffsetBelow(c.x, s, c.level, b));
  }
  if (o_lo > o_hi) return false;
  for (const Condition& c : cs)
    if ((G(c.x, s, o_lo) >= c.level) != c.ge) return false;
  *o = o_lo;
  return true;
}

// ceil(a / b) for b > 0, any sign of a.
inline int64_t CeilDiv(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
}  // namespace

bool FindExactFmaStageAvx2(int32_t multiplier, int right, int lo, int hi, float* scale, float* offset,
                           float* offset_neg, int* center) {
  if (right < 1 || right > 21 || multiplier <= 0 || lo < -256 || hi > 255 || hi <= lo) return false;
  // TFLite's result for accumulator x (optimized/fma_stage.h; derivation in x86/gemm_avx2.cpp):
  //   f(x) = floor((x M + 2^30 + 2^(30+r) - 2^31 [x < 0]) / 2^(31+r)),
  // so t_L = min{x : f(x) >= L} is ceil(num_L / M) on the negative side, with
  // num_L = L 2^(31+r) - 2^30 - 2^(30+r) + 2^31, where that is negative, else
  // max(0, ceil((num_L - 2^31) / M)). Every level L >= 1 has t_L >= 1 (the positive side); levels
  // <= 0 (signed ranges: act_min below Z_out) can have t_L <= 0. |t_L| < 255 2^22 + 2 < 2^31 for
  // r <= 21, and |num_L| <= 256 2^52 fits int64. Levels no int32 accumulator reaches from above are
  // dropped; g must then stay below the first of them at INT32_MAX.
  int64_t t[513];
  int levels = 0;
  const int64_t D = int64_t{1} << (31 + right);
  for (int L = lo + 1; L <= hi; ++L) {
    const int64_t num = (int64_t)L * D - (int64_t{1} << 30) - (int64_t{1} << (30 + right));
    const int64_t neg = CeilDiv(num + (int64_t{1} << 31), multiplier);
    const int64_t q = neg <= -1 ? neg : std::max<int64_t>(0, CeilDiv(num, multiplier));
    if (q > std::numeric_limits<int32_t>::max()) break;
    if (q <= std::numeric_limits<int32_t>::min()) return false;  // cannot happen for r <= 21
    t[levels++] = q;
  }
  const bool capped = levels < hi - lo;
  if (capped) t[levels] = int64_t{std::numeric_limits<int32_t>::max()} + 1;  // only t - 1 is used
  const int n = levels + (capped ? 1 : 0);
  const float s0 = (float)((double)multiplier / std::ldexp(1.0, 31 + right));
  // The sum is centred on a level (the kernels add it back with Z_out): 128 first, where |y| < 128
  // has the least rounding error; other centres move the error to other levels. Signed ranges
  // (lo < 0) take the same offsets from their middle level.
  const bool is_signed = lo < 0;
  const int mid = is_signed ? (lo + 1 + hi) / 2 : 128;
  std::vector<Condition> pos, neg;
  for (int c0 : kCentres) {
    const int c = c0 - 128 + mid;
    const int first_level = lo + 1 - c;  // levels relative to the centre
    // The conditions on g (monotone in x) for it to step exactly where f does. Unsigned ranges:
    // g(t_L) >= L and g(t_L - 1) < L on one g for all x (every t_L >= 1; a negative x gives f <= 0
    // <= lo and g(x) <= g(t_(lo+1) - 1) < lo + 1, so both clamp to lo). Signed ranges: f's
    // rounding differs by sign (half away from zero), its negative-side thresholds lie 2^31 / M
    // below the line of the positive ones, so g takes one offset for x >= 0 and another for x < 0,
    // each half checked on its own: on x >= 0 the first x with f >= L is max(0, t_L), on x < 0 it
    // is t_L if t_L < 0, else no x (g(-1) < L).
    pos.clear();
    neg.clear();
    for (int i = 0; i < n; ++i) {
      const int level = first_level + i;
      const int64_t tl = t[i];  // > INT32_MAX: no accumulator reaches the level
      if (!is_signed) {
        if (i < levels) pos.push_back({tl, level, true});
        pos.push_back({tl - 1, level, false});
        continue;
      }
      if (tl <= 0) {
        pos.push_back({0, level, true});
      } else {
        if (i < levels) pos.push_back({tl, level, true});
        pos.push_back({tl - 1, level, false});
      }
      if (tl <= -1) {
        neg.push_back({tl, level, true});
        if (tl - 1 >= std::numeric_limits<int32_t>::min()) neg.push_back({tl - 1, level, false});
      } else {
        neg.push_back({-1, level, false});
      }
    }
    for (int d = 0; d <= kScaleNeighbours; ++d)
      for (int dir : {1, -1}) {
        if (d == 0 && dir < 0) continue;
        float sc = s0;
        for (int i = 0; i < d; ++i) sc = std::nextafterf(sc, dir > 0 ? 1.f : 0.f);
        float o_pos, o_neg;
        if (!SearchOffset(pos, sc, &o_pos)) continue;
        if (is_signed && !SearchOffset(neg, sc, &o_neg)) continue;
        *scale = sc;
        *offset = o_pos;
        *offset_neg = is_signed ? o_neg : o_pos;
        *center = c;
        return true;
      }
  }
  return false;
}

}  // namespace qat::kernels::x86
