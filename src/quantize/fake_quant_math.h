// FakeQuant arithmetic: TF's FakeQuantWithMinMaxVars (and ..PerChannel) forward and gradient,
// bit for bit (REFERENCE.md §3; tensorflow/core/kernels/fake_quant_ops_functor.h), plus the
// range helpers of tf.contrib.quantize's quant_ops.py (widen to 0, symmetric ratio, EMA).
//
// Everything here is pure arithmetic on buffers; the graph ops (fake_quant_op.cpp, ...) call it.
// The per-element formulas stay in float32 exactly as TF writes them, because "bit for bit"
// means the same float operations in the same order: the nudged scale is a float division, the
// forward is floor((clamp(x) - nmin) / scale + 0.5f) * scale + nmin (a true division, not a
// multiplication by a reciprocal, which can differ in the last bit and flip a rounding).
#pragma once
#include <cstdint>

#include "qat/thread_pool.h"

namespace qat::quantize::fq {

// Integer grid of num_bits (2..16): [narrow ? 1 : 0, 2^num_bits - 1]. UsageError otherwise.
struct QuantRange {
  int qmin = 0, qmax = 255;
};
QuantRange quant_range(int num_bits, bool narrow_range);

// The nudged range: [nmin, nmax] contains 0 exactly on the grid (zero_point is its code).
// TF's Nudge(): scale = (max - min) / (qmax - qmin); zp_from_min = qmin - min / scale;
// zp = zp_from_min < qmin ? qmin : zp_from_min > qmax ? qmax : round(zp_from_min) (std::round,
// half away from zero; zp_from_min >= 0 here so that is half up); nmin = (qmin - zp) * scale,
// nmax = (qmax - zp) * scale.
// `zero` marks TF's special case min == max == 0: every output is 0 and the input gradient
// passes straight through.
struct Nudged {
  float min = 0.f, max = 0.f, scale = 0.f;
  int zero_point = 0;
  bool zero = false;
};
Nudged nudge(float min, float max, QuantRange r);

// One element, TF's formula (the reference the fast loops are tested against).
inline float fake_quant_one(float x, const Nudged& n) {
  if (n.zero) return 0.f;
  float c = x < n.min ? n.min : (x > n.max ? n.max : x);
  float q = __builtin_floorf((c - n.min) / n.scale + 0.5f);
  return q * n.scale + n.min;
}

// Per-tensor forward: y[i] = fake_quant_one(x[i]). y may equal x. Threaded over `pool`.
void forward(const float* x, int64_t n, Nudged nd, float* y, ThreadPool* pool = nullptr);
// Per-tensor gradient: dx = dy where nmin <= x <= nmax else 0; *dmin = sum of dy where x < nmin,
// *dmax = sum of dy where x > nmax (accumulated in double, returned as float). dx may equal dy.
void backward(const float* x, const float* dy, int64_t n, Nudged nd, float* dx, float* dmin, float* dmax,
              ThreadPool* pool = nullptr);
// The gradient through FakeQuant followed by the gradient of the activation that produced x
// (ReluGrad / Relu6Grad reading the activation's output `ref`, usually x itself), in one pass:
// dx = dy where nmin <= x <= nmax and ref passes the activation (ref > 0; 0 < ref < 6), else 0;
// dmin / dmax as backward() (the activation mask does not enter them). mask_gradient() is the
// activation mask alone (dx = dy where ref passes), for FakeQuant passing x through.
enum class ActMask { kNone, kRelu, kRelu6 };
void backward_masked(const float* x, const float* dy, const float* ref, ActMask mask, int64_t n, Nudged nd,
                     float* dx, float* dmin, float* dmax, ThreadPool* pool = nullptr);
void mask_gradient(const float* dy, const float* ref, ActMask mask, int64_t n, float* dx, ThreadPool* pool = nullptr);

// Per-channel (TF's ..PerChannel): x is [rows, channels] row-major, the channel is the fastest
// dimension (the last axis, or the flattened trailing axes of a depthwise filter); nd[c] is
// the nudged range of channel c.
void forward_per_channel(const float* x, int64_t rows, int channels, const Nudged* nd, float* y,
                         ThreadPool* pool = nullptr);
void backward_per_channel(const float* x, const float* dy, int64_t rows, int channels, const Nudged* nd,
                          float* dx, float* dmin, float* dmax, ThreadPool* pool = nullptr);

// min / max of x (per tensor), and per channel of x[rows, channels]. Empty input gives 0, 0.
void min_max(const float* x, int64_t n, float* mn, float* mx, ThreadPool* pool = nullptr);
void min_max_per_channel(const float* x, int64_t rows, int channels, float* mn, float* mx,
                         ThreadPool* pool = nullptr);

// quant_ops.py range policy applied to a batch range: widen to include 0
// (min(batch_min, 0), max(batch_max, 0)); with symmetric, range_min = min(bmin, bmax / ratio) and
// range_max = max(bmax, bmin * ratio) where ratio = -1 when narrow_range else
// -(2^b - 2) / 2^b (two's complement has one more negative code).
void widen_range(float* mn, float* mx, bool symmetric, int num_bits, bool narrow_range);

// assign_moving_average without zero debiasing: var -= (var - value) * (1 - decay). TF computes
// 1 - decay in Python double and casts the result to float32; ema_rate() does the same.
inline float ema_rate(double decay) { return (float)(1.0 - decay); }
inline float ema(float var, float value, float rate) { return var - (var - value) * rate; }

}  // namespace qat::quantize::fq
