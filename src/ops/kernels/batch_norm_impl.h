// Private: the pieces of training-mode batch norm shared by batch_norm.cpp and the fused
// BN + activation + max pool kernels (batch_norm_act_pool.cpp).
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "ops/kernels/float_kernels.h"
#include "ops/kernels/parallel.h"

namespace qat::ops::kernels::detail {

// Per-channel batch mean and biased variance of x [rows, C].
void bn_stats(int64_t rows, int C, const float* x, float* mean, float* var);
// Forward affine map y = x * scale + shift from gamma, beta and the batch statistics.
void bn_scale_shift(int C, const float* gamma, const float* beta, const float* mean, const float* var, float eps,
                    float* scale, float* shift);
// Backward, given per-channel sums sdz = sum dz and sdzx = sum dz * (x - mean) of the gradient dz
// w.r.t. the BN output: dgamma, dbeta and the map dx = a * dz + b * x + d.
void bn_backward_coefs(int64_t rows, int C, const double* sdz, const double* sdzx, const float* gamma,
                       const float* mean, const float* var, float eps, float* dgamma, float* dbeta, float* a, float* b,
                       float* d);

template <class T>
T* grow(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

template <Act A>
inline float activate(float z) {
  if constexpr (A == Act::kRelu) return std::max(z, 0.f);
  if constexpr (A == Act::kRelu6) return std::min(std::max(z, 0.f), 6.f);
  return z;
}
// Whether the gradient passes the activation, judged from its output y.
template <Act A>
inline bool passes(float y) {
  if constexpr (A == Act::kRelu) return y > 0.f;
  if constexpr (A == Act::kRelu6) return y > 0.f && y < 6.f;
  return true;
}

constexpr int kBlockRows = 64;

// Per-thread partial sums: part[t*2C + c] = sum_r s(r,c), part[t*2C + C + c] = sum_r q(r,c),
// where terms(r, s, q) adds row r's contributions to the float block accumulators s, q. Returns
// the number of threads whose partials are in part.
template <class Terms>
int channel_sums(int64_t rows, int C, std::vector<double>& part, Terms&& terms) {
  int used = 1;
  double* P = grow(part, (size_t)qat::num_threads() * 2 * C);
  parallel_chunks(rows, C, [&](int t, int nt, int64_t r0, int64_t r1) {
    if (t == 0) used = nt;
    thread_local std::vector<float> fbuf;
    float* s = grow(fbuf, 2 * (size_t)C);
    float* q = s + C;
    double* S = P + (size_t)t * 2 * C;
    double* Q = S + C;
    for (int c = 0; c < C; ++c) S[c] = Q[c] = 0.0;
    for (int64_t b = r0; b < r1; b += kBlockRows) {
      int64_t e = std::min(r1, b + kBlockRows);
      for (int c = 0; c < C; ++c) s[c] = q[c] = 0.f;
      for (int64_t r = b; r < e; ++r) terms(r, s, q);
      for (int c = 0; c < C; ++c) {
        S[c] += s[c];
        Q[c] += q[c];
      }
    }
  });
  return used;
}

// Folds the per-thread partials into part[0..2C).
inline void reduce_partials(std::vector<double>& part, int nt, int C) {
  for (int t = 1; t < nt; ++t)
    for (int i = 0; i < 2 * C; ++i) part[i] += part[(size_t)t * 2 * C + i];
}

// Runs f.template operator()<A>() for the runtime act (one instantiation per activation).
template <class F>
void dispatch_act(Act act, F&& f) {
  switch (act) {
    case Act::kRelu: f.template operator()<Act::kRelu>(); break;
    case Act::kRelu6: f.template operator()<Act::kRelu6>(); break;
    default: f.template operator()<Act::kNone>(); break;
  }
}

}  // namespace qat::ops::kernels::detail
