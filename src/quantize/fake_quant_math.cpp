// FakeQuant arithmetic (see fake_quant_math.h for the formulas and why they are float32).
#include "quantize/fake_quant_math.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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

static void forward_range(const float* x, int64_t b, int64_t e, Nudged nd, float* y) {
  const float lo = nd.min, hi = nd.max, s = nd.scale;
  // Same expression as fake_quant_one, written so that the compiler vectorises it
  // (minps/maxps, divps, roundps): no branches other than the selects.
  for (int64_t i = b; i < e; ++i) {
    float v = x[i];
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    y[i] = std::floor((v - lo) / s + 0.5f) * s + lo;
  }
}

void forward(const float* x, int64_t n, Nudged nd, float* y, ThreadPool* pool) {
  if (nd.zero) {
    std::fill(y, y + n, 0.0f);
    return;
  }
  if (n <= kGrain) return forward_range(x, 0, n, nd, y);
  pick(pool).parallel_for(n, [&](int64_t b, int64_t e) { forward_range(x, b, e, nd, y); }, kGrain);
}

void backward(const float* x, const float* dy, int64_t n, Nudged nd, float* dx, float* dmin, float* dmax,
              ThreadPool* pool) {
  if (nd.zero) {  // TF: propagate everything to the input, nothing to min/max
    if (dx != dy) std::copy(dy, dy + n, dx);
    *dmin = *dmax = 0.0f;
    return;
  }
  ThreadPool& p = pick(pool);
  const int slots = p.size();
  std::vector<double> lo_sum(slots, 0.0), hi_sum(slots, 0.0);
  std::vector<int64_t> chunk_begin;
  auto body = [&](int64_t b, int64_t e, int slot) {
    const float lo = nd.min, hi = nd.max;
    // Partial sums per block of 1024 in float (vectorisable), then into double.
    double sl = 0.0, sh = 0.0;
    for (int64_t i0 = b; i0 < e; i0 += 1024) {
      int64_t i1 = std::min(e, i0 + 1024);
      float fl = 0.f, fh = 0.f;
      for (int64_t i = i0; i < i1; ++i) {
        float g = dy[i], v = x[i];
        bool below = v < lo, above = v > hi;
        fl += below ? g : 0.f;
        fh += above ? g : 0.f;
        dx[i] = (below || above) ? 0.f : g;
      }
      sl += fl;
      sh += fh;
    }
    lo_sum[slot] += sl;
    hi_sum[slot] += sh;
  };
  if (n <= kGrain || slots == 1) {
    body(0, n, 0);
  } else {
    // Deterministic: fixed chunks, each summed into its own slot, slots added in order.
    int tasks = (int)std::min<int64_t>(slots, (n + kGrain - 1) / kGrain);
    lo_sum.assign(tasks, 0.0);
    hi_sum.assign(tasks, 0.0);
    int64_t per = (n + tasks - 1) / tasks;
    p.run_tasks(tasks, [&](int t) {
      int64_t b = t * per, e = std::min(n, b + per);
      if (b < e) body(b, e, t);
    });
  }
  double sl = 0.0, sh = 0.0;
  for (size_t i = 0; i < lo_sum.size(); ++i) sl += lo_sum[i], sh += hi_sum[i];
  *dmin = (float)sl;
  *dmax = (float)sh;
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
  auto body = [&](int64_t b, int64_t e, float& lo, float& hi) {
    float l = x[b], h = x[b];
    for (int64_t i = b; i < e; ++i) {
      float v = x[i];
      l = v < l ? v : l;
      h = v > h ? v : h;
    }
    lo = l, hi = h;
  };
  ThreadPool& p = pick(pool);
  if (n <= kGrain || p.size() == 1) return body(0, n, *mn, *mx);
  int tasks = (int)std::min<int64_t>(p.size(), (n + kGrain - 1) / kGrain);
  std::vector<float> lo(tasks, x[0]), hi(tasks, x[0]);
  int64_t per = (n + tasks - 1) / tasks;
  p.run_tasks(tasks, [&](int t) {
    int64_t b = t * per, e = std::min(n, b + per);
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
