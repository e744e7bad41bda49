// FakeQuant arithmetic (see fake_quant_math.h for the formulas and why they are float32).
#include "quantize/fake_quant_math.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif
#ifdef __SSE4_1__
#include <smmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "qat/cpu_features.h"
#include "qat/error.h"

namespace qat::quantize::fq {
namespace {

ThreadPool& pick(ThreadPool* p) { return p ? *p : default_pool(); }
// Elementwise passes are memory bound: chunks of 16K floats keep the threads busy without
// paying the pool's wake-up on small tensors (weights, FC activations).
constexpr int64_t kGrain = 16384;

}  // namespace

QuantRange quant_range(int num_bits, bool narrow_range) {
  QAT_CHECK_T(UsageError, num_bits >= 2 && num_bits <= 16, "FakeQuant: num_bits must be in 2..16 (got {})",
              num_bits);
  return {narrow_range ? 1 : 0, (1 << num_bits) - 1};
}

Nudged nudge(float min, float max, QuantRange r) {
  Nudged n;
  if (min == 0.0f && max == 0.0f) {  // TF: "If min and max are both zero, we should just return zero."
    n.zero = true;
    return n;
  }
  QAT_CHECK_T(UsageError, min <= max && std::isfinite(min) && std::isfinite(max),
              "FakeQuant: invalid range [{}, {}] (min must be <= max, both finite)", min, max);
  const float qmin = (float)r.qmin, qmax = (float)r.qmax;
  n.scale = (max - min) / (qmax - qmin);
  if (!(n.scale > 0.0f)) {
    // min == max != 0 (a range of one value, never produced by the widened ranges of the
    // rewrite): TF would divide by zero. Quantize everything to that one value's nearest
    // representable neighbour of 0 instead of producing NaN.
    n.scale = std::max(std::fabs(min), std::fabs(max)) / (qmax - qmin);
    if (!(n.scale > 0.0f)) n.scale = std::numeric_limits<float>::min();
  }
  const float zp_from_min = qmin - min / n.scale;
  int zp;
  if (zp_from_min < qmin) zp = r.qmin;
  else if (zp_from_min > qmax) zp = r.qmax;
  else zp = (int)std::round(zp_from_min);
  n.zero_point = zp;
  n.min = (qmin - (float)zp) * n.scale;
  n.max = (qmax - (float)zp) * n.scale;
  return n;
}

// ---- per tensor -------------------------------------------------------------------------------
// The per-tensor loops are written with SSE4.1 intrinsics (the project's baseline ISA): GCC does
// not vectorise the clamp/floor/division chain when the output may alias the input, nor float sum
// or min/max reductions (no reassociation without -ffast-math), and the scalar loops ran at a
// fraction of memory speed. They run on OpenMP threads (the ops layer's threads; a second pool
// woken right after an OpenMP region competes with its spinning workers), split into fixed chunks
// per thread, so that reductions are deterministic for a given thread count.

namespace {

// fn(tid, nthreads, begin, end) over [0, n) in one chunk per thread; one thread below `grain`
// elements per thread.
template <class Fn>
void chunks(ThreadPool* pool, int64_t n, int64_t grain, Fn&& fn) {
  int64_t want = std::min<int64_t>(pick(pool).size(), n / grain);
  if (want <= 1) {
    fn(0, 1, int64_t{0}, n);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads((int)want)
  {
    int id = omp_get_thread_num(), nt = omp_get_num_threads();
    fn(id, nt, n * id / nt, n * (id + 1) / nt);
  }
#else
  pick(pool).run_tasks((int)want, [&](int t) { fn(t, (int)want, n * t / want, n * (t + 1) / want); });
#endif
}

#ifdef __SSE4_1__
inline float hsum(__m128 v) {  // ((v0 + v2) + (v1 + v3)), a fixed order
  __m128 s = _mm_add_ps(v, _mm_movehl_ps(v, v));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
#endif

}  // namespace

static void forward_range(const float* x, int64_t b, int64_t e, Nudged nd, float* y) {
  const float lo = nd.min, hi = nd.max, s = nd.scale;
  int64_t i = b;
#ifdef __SSE4_1__
  // Same operations as fake_quant_one, 4 lanes at a time: max_ps(lo, v) is `v < lo ? lo : v` and
  // min_ps(hi, v) is `v > hi ? hi : v` (both return v on NaN, as the scalar selects); a true
  // division; floor; then * scale + min (no FMA in this translation unit).
  const __m128 vlo = _mm_set1_ps(lo), vhi = _mm_set1_ps(hi), vs = _mm_set1_ps(s), half = _mm_set1_ps(0.5f);
  for (; i + 4 <= e; i += 4) {
    __m128 v = _mm_min_ps(vhi, _mm_max_ps(vlo, _mm_loadu_ps(x + i)));
    __m128 q = _mm_floor_ps(_mm_add_ps(_mm_div_ps(_mm_sub_ps(v, vlo), vs), half));
    _mm_storeu_ps(y + i, _mm_add_ps(_mm_mul_ps(q, vs), vlo));
  }
#endif
  for (; i < e; ++i) {
    float v = x[i];
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    y[i] = std::floor((v - lo) / s + 0.5f) * s + lo;
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same lane operations on 8 lanes (AVX; the true division is what bounds this loop, and a
// 256-bit divps does twice the work per cycle). No FMA: mul then add, as the scalar formula.
__attribute__((target("avx2"))) static void forward_range_avx2(const float* x, int64_t b, int64_t e, Nudged nd,
                                                               float* y) {
  const __m256 vlo = _mm256_set1_ps(nd.min), vhi = _mm256_set1_ps(nd.max), vs = _mm256_set1_ps(nd.scale),
               half = _mm256_set1_ps(0.5f);
  int64_t i = b;
  for (; i + 8 <= e; i += 8) {
    __m256 v = _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_loadu_ps(x + i)));
    __m256 q = _mm256_floor_ps(_mm256_add_ps(_mm256_div_ps(_mm256_sub_ps(v, vlo), vs), half));
    _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_mul_ps(q, vs), vlo));
  }
  forward_range(x, i, e, nd, y);
}
#endif

void forward(const float* x, int64_t n, Nudged nd, float* y, ThreadPool* pool) {
  if (nd.zero) {
    std::fill(y, y + n, 0.0f);
    return;
  }
#if defined(__x86_64__) && defined(__GNUC__)
  if (active_isa() >= Isa::kAvx2) {
    chunks(pool, n, kGrain, [&](int, int, int64_t b, int64_t e) { forward_range_avx2(x, b, e, nd, y); });
    return;
  }
#endif
  chunks(pool, n, kGrain, [&](int, int, int64_t b, int64_t e) { forward_range(x, b, e, nd, y); });
}

namespace {

// dx[i] = dy[i] where nmin <= x[i] <= nmax and mask(ref[i]), else 0; sums of dy below / above
// the range (independent of the mask) into *sl / *sh: float lanes per block of 1024, then double.
template <ActMask M>
void backward_range(const float* x, const float* dy, const float* ref, int64_t b,
                    int64_t e, Nudged nd, float* dx, double* sl, double* sh) {
  const float lo = nd.min, hi = nd.max;
  double al = 0.0, ah = 0.0;
  for (int64_t i0 = b; i0 < e; i0 += 1024) {
    const int64_t i1 = std::min(e, i0 + 1024);
    int64_t i = i0;
    float fl = 0.f, fh = 0.f;
#ifdef __SSE4_1__
    const __m128 vlo = _mm_set1_ps(lo), vhi = _mm_set1_ps(hi), zero = _mm_setzero_ps(), six = _mm_set1_ps(6.f);
    __m128 vl = zero, vh = zero;
    for (; i + 4 <= i1; i += 4) {
      __m128 g = _mm_loadu_ps(dy + i), v = _mm_loadu_ps(x + i);
      __m128 below = _mm_cmplt_ps(v, vlo), above = _mm_cmpgt_ps(v, vhi);
      vl = _mm_add_ps(vl, _mm_and_ps(below, g));
      vh = _mm_add_ps(vh, _mm_and_ps(above, g));
      __m128 out = _mm_andnot_ps(_mm_or_ps(below, above), g);
      if constexpr (M != ActMask::kNone) {
        __m128 r = _mm_loadu_ps(ref + i);
        __m128 keep = _mm_cmpgt_ps(r, zero);
        if constexpr (M == ActMask::kRelu6) keep = _mm_and_ps(keep, _mm_cmplt_ps(r, six));
        out = _mm_and_ps(out, keep);
      }
      _mm_storeu_ps(dx + i, out);
    }
    fl = hsum(vl), fh = hsum(vh);
#endif
    for (; i < i1; ++i) {
      float g = dy[i], v = x[i];
      bool below = v < lo, above = v > hi;
      fl += below ? g : 0.f;
      fh += above ? g : 0.f;
      bool keep = !(below || above);
      if constexpr (M == ActMask::kRelu) keep = keep && ref[i] > 0.f;
      if constexpr (M == ActMask::kRelu6) keep = keep && ref[i] > 0.f && ref[i] < 6.f;
      dx[i] = keep ? g : 0.f;
    }
    al += fl;
    ah += fh;
  }
  *sl = al, *sh = ah;
}

template <ActMask M>
void mask_only(const float* dy, const float* ref, int64_t b, int64_t e, float* dx) {
  for (int64_t i = b; i < e; ++i) {
    float g = dy[i], r = ref[i];
    bool keep = true;
    if constexpr (M == ActMask::kRelu) keep = r > 0.f;
    if constexpr (M == ActMask::kRelu6) keep = (r > 0.f) & (r < 6.f);
    dx[i] = keep ? g : 0.f;
  }
}

template <ActMask M>
void backward_impl(const float* x, const float* dy, const float* ref, int64_t n, Nudged nd, float* dx, float* dmin,
                   float* dmax, ThreadPool* pool) {
  if (nd.zero) {  // TF: propagate everything to the input, nothing to min/max
    if constexpr (M == ActMask::kNone) {
      if (dx != dy) std::copy(dy, dy + n, dx);
    } else {
      chunks(pool, n, kGrain, [&](int, int, int64_t b, int64_t e) { mask_only<M>(dy, ref, b, e, dx); });
    }
    *dmin = *dmax = 0.0f;
    return;
  }
  // Deterministic: fixed chunks per thread, each summed into its own slot, slots added in order.
  const int slots = std::max(1, pick(pool).size());
  std::vector<double> lo_sum(slots, 0.0), hi_sum(slots, 0.0);
  chunks(pool, n, kGrain, [&](int t, int, int64_t b, int64_t e) {
    backward_range<M>(x, dy, ref, b, e, nd, dx, &lo_sum[t], &hi_sum[t]);
  });
  double sl = 0.0, sh = 0.0;
  for (int i = 0; i < slots; ++i) sl += lo_sum[i], sh += hi_sum[i];
  *dmin = (float)sl;
  *dmax = (float)sh;
}

}  // namespace

void backward(const float* x, const float* dy, int64_t n, Nudged nd, float* dx, float* dmin, float* dmax,
              ThreadPool* pool) {
  backward_impl<ActMask::kNone>(x, dy, nullptr, n, nd, dx, dmin, dmax, pool);
}

void backward_masked(const float* x, const float* dy, const float* ref, ActMask mask, int64_t n, Nudged nd,
                     float* dx, float* dmin, float* dmax, ThreadPool* pool) {
  switch (mask) {
    case ActMask::kRelu: return backward_impl<ActMask::kRelu>(x, dy, ref, n, nd, dx, dmin, dmax, pool);
    case ActMask::kRelu6: return backward_impl<ActMask::kRelu6>(x, dy, ref, n, nd, dx, dmin, dmax, pool);
    default: return backward_impl<ActMask::kNone>(x, dy, ref, n, nd, dx, dmin, dmax, pool);
  }
}

void mask_gradient(const float* dy, const float* ref, ActMask mask, int64_t n, float* dx, ThreadPool* pool) {
  chunks(pool, n, kGrain, [&](int, int, int64_t b, int64_t e) {
    switch (mask) {
      case ActMask::kRelu: mask_only<ActMask::kRelu>(dy, ref, b, e, dx); break;
      case ActMask::kRelu6: mask_only<ActMask::kRelu6>(dy, ref, b, e, dx); break;
      default: mask_only<ActMask::kNone>(dy, ref, b, e, dx); break;
    }
  });
}

// ---- per channel ------------------------------------------------------------------------------

namespace {
struct ChannelTables {
  std::vector<float> lo, hi, s;
  std::vector<uint8_t> zero;
  explicit ChannelTables(const Nudged* nd, int c) : lo(c), hi(c), s(c), zero(c) {
    for (int i = 0; i < c; ++i) {
      lo[i] = nd[i].min, hi[i] = nd[i].max, s[i] = nd[i].zero ? 1.f : nd[i].scale, zero[i] = nd[i].zero;
    }
  }
};
int64_t row_grain(int channels) { return std::max<int64_t>(1, kGrain / std::max(channels, 1)); }
}  // namespace

void forward_per_channel(const float* x, int64_t rows, int channels, const Nudged* nd, float* y,
                         ThreadPool* pool) {
  ChannelTables t(nd, channels);
  bool any_zero = std::any_of(t.zero.begin(), t.zero.end(), [](uint8_t z) { return z != 0; });
  auto body = [&](int64_t r0, int64_t r1) {
    const float *lo = t.lo.data(), *hi = t.hi.data(), *s = t.s.data();
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * channels;
      float* yr = y + r * channels;
      for (int c = 0; c < channels; ++c) {
        float v = xr[c];
        v = v < lo[c] ? lo[c] : v;
        v = v > hi[c] ? hi[c] : v;
        yr[c] = std::floor((v - lo[c]) / s[c] + 0.5f) * s[c] + lo[c];
      }
      if (any_zero)
        for (int c = 0; c < channels; ++c)
          if (t.zero[c]) yr[c] = 0.f;
    }
  };
  if (rows * channels <= kGrain) return body(0, rows);
  pick(pool).parallel_for(rows, body, row_grain(channels));
}

void backward_per_channel(const float* x, const float* dy, int64_t rows, int channels, const Nudged* nd,
                          float* dx, float* dmin, float* dmax, ThreadPool* pool) {
  ChannelTables t(nd, channels);
  ThreadPool& p = pick(pool);
  int tasks = (int)std::clamp<int64_t>((rows * channels) / kGrain, 1, p.size());
  std::vector<double> lo_sum((size_t)tasks * channels, 0.0), hi_sum((size_t)tasks * channels, 0.0);
  int64_t per = (rows + tasks - 1) / tasks;
  auto body = [&](int task) {
    int64_t r0 = task * per, r1 = std::min(rows, r0 + per);
    double* sl = lo_sum.data() + (size_t)task * channels;
    double* sh = hi_sum.data() + (size_t)task * channels;
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * channels;
      const float* gr = dy + r * channels;
      float* dr = dx + r * channels;
      for (int c = 0; c < channels; ++c) {
        float g = gr[c], v = xr[c];
        if (t.zero[c]) {
          dr[c] = g;
          continue;
        }
        bool below = v < t.lo[c], above = v > t.hi[c];
        if (below) sl[c] += g;
        if (above) sh[c] += g;
        dr[c] = (below || above) ? 0.f : g;
      }
    }
  };
  if (tasks == 1) body(0);
  else p.run_tasks(tasks, body);
  for (int c = 0; c < channels; ++c) {
    double a = 0.0, b = 0.0;
    for (int k = 0; k < tasks; ++k) a += lo_sum[(size_t)k * channels + c], b += hi_sum[(size_t)k * channels + c];
    dmin[c] = (float)a;
    dmax[c] = (float)b;
  }
}

// ---- ranges -----------------------------------------------------------------------------------

void min_max(const float* x, int64_t n, float* mn, float* mx, ThreadPool* pool) {
  if (n == 0) {
    *mn = *mx = 0.f;
    return;
  }
  // min/max are exact in any order: 4 lanes (minps(v, l) is `v < l ? v : l`), then the lanes.
  auto body = [x](int64_t b, int64_t e, float& lo, float& hi) {
    float l = x[b], h = x[b];
    int64_t i = b;
#ifdef __SSE4_1__
    __m128 vl = _mm_set1_ps(l), vh = vl;
    for (; i + 4 <= e; i += 4) {
      __m128 v = _mm_loadu_ps(x + i);
      vl = _mm_min_ps(v, vl);
      vh = _mm_max_ps(v, vh);
    }
    alignas(16) float al[4], ah[4];
    _mm_store_ps(al, vl);
    _mm_store_ps(ah, vh);
    for (int k = 0; k < 4; ++k) {
      l = al[k] < l ? al[k] : l;
      h = ah[k] > h ? ah[k] : h;
    }
#endif
    for (; i < e; ++i) {
      float v = x[i];
      l = v < l ? v : l;
      h = v > h ? v : h;
    }
    lo = l, hi = h;
  };
  const int slots = std::max(1, pick(pool).size());
  std::vector<float> lo(slots, x[0]), hi(slots, x[0]);
  chunks(pool, n, kGrain, [&](int t, int, int64_t b, int64_t e) {
    if (b < e) body(b, e, lo[t], hi[t]);
  });
  *mn = *std::min_element(lo.begin(), lo.end());
  *mx = *std::max_element(hi.begin(), hi.end());
}

void min_max_per_channel(const float* x, int64_t rows, int channels, float* mn, float* mx, ThreadPool* pool) {
  if (rows == 0) {
    std::fill(mn, mn + channels, 0.f);
    std::fill(mx, mx + channels, 0.f);
    return;
  }
  ThreadPool& p = pick(pool);
  int tasks = (int)std::clamp<int64_t>((rows * channels) / kGrain, 1, p.size());
  tasks = (int)std::min<int64_t>(tasks, rows);
  std::vector<float> lo((size_t)tasks * channels), hi((size_t)tasks * channels);
  int64_t per = (rows + tasks - 1) / tasks;
  auto body = [&](int t) {
    int64_t r0 = t * per, r1 = std::min(rows, r0 + per);
    float* l = lo.data() + (size_t)t * channels;
    float* h = hi.data() + (size_t)t * channels;
    std::copy(x + r0 * channels, x + (r0 + 1) * channels, l);
    std::copy(x + r0 * channels, x + (r0 + 1) * channels, h);
    for (int64_t r = r0 + 1; r < r1; ++r) {
      const float* xr = x + r * channels;
      for (int c = 0; c < channels; ++c) {
        l[c] = xr[c] < l[c] ? xr[c] : l[c];
        h[c] = xr[c] > h[c] ? xr[c] : h[c];
      }
    }
  };
  if (tasks == 1) body(0);
  else p.run_tasks(tasks, body);
  for (int c = 0; c < channels; ++c) {
    float l = lo[c], h = hi[c];
    for (int t = 1; t < tasks; ++t) {
      l = std::min(l, lo[(size_t)t * channels + c]);
      h = std::max(h, hi[(size_t)t * channels + c]);
    }
    mn[c] = l, mx[c] = h;
  }
}

void widen_range(float* mn, float* mx, bool symmetric, int num_bits, bool narrow_range) {
  float lo = std::min(*mn, 0.0f), hi = std::max(*mx, 0.0f);
  if (symmetric) {
    // quant_ops.py computes the ratio in Python double and TF casts it to float32.
    float ratio = narrow_range ? -1.0f : (float)(-(double)((1 << num_bits) - 2) / (double)(1 << num_bits));
    float rlo = std::min(lo, hi / ratio), rhi = std::max(hi, lo * ratio);
    lo = rlo, hi = rhi;
  }
  *mn = lo, *mx = hi;
}

}  // namespace qat::quantize::fq
