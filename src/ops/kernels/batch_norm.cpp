// Training-mode batch norm over [rows, C] (rows = N*H*W of an NHWC tensor), forward and backward,
// optionally fused with the ReLU / ReLU6 that follows it.
//
// Both directions are two streaming passes: per-channel sums, then an elementwise affine map.
// Sums are taken per thread in float over short blocks of rows (vectorised over channels) and
// folded into double accumulators, so accuracy does not degrade with rows. The forward sums
// x - x[row 0] rather than x: the shift removes the cancellation of E[x^2] - E[x]^2 when the mean
// is large against the spread. Scratch buffers are thread_local and only grow (no allocation in
// steady state).
#include <cmath>
#include <vector>

#include "ops/kernels/batch_norm_impl.h"
#include "ops/kernels/float_kernels.h"
#include "ops/kernels/parallel.h"
#include "qat/error.h"

namespace qat::ops::kernels {
namespace detail {
void bn_stats(int64_t rows, int C, const float* x, float* mean, float* var) {
  thread_local std::vector<double> part;
  int nt = channel_sums(rows, C, part, [&](int64_t r, float* __restrict s, float* __restrict q) {
    const float* __restrict xr = x + r * C;
    const float* __restrict x0 = x;  // the shift: row 0
    for (int c = 0; c < C; ++c) {
      float d = xr[c] - x0[c];
      s[c] += d;
      q[c] += d * d;
    }
  });
  reduce_partials(part, nt, C);
  for (int c = 0; c < C; ++c) {
    double m = part[c] / (double)rows;
    mean[c] = (float)((double)x[c] + m);
    var[c] = (float)std::max(0.0, part[C + c] / (double)rows - m * m);
  }
}

void bn_scale_shift(int C, const float* gamma, const float* beta, const float* mean, const float* var, float eps,
                    float* scale, float* shift) {
  for (int c = 0; c < C; ++c) {
    double k = (double)gamma[c] / std::sqrt((double)var[c] + (double)eps);
    scale[c] = (float)k;
    shift[c] = (float)((double)beta[c] - (double)mean[c] * k);
  }
}

// dx = k * (dz - sdz/R - xhat * dgamma/R) with k = gamma * invstd, xhat = (x - mean) * invstd and
// dgamma = sdzx * invstd, folded into dx = a*dz + b*x + d per channel.
void bn_backward_coefs(int64_t rows, int C, const double* sdz, const double* sdzx, const float* gamma,
                       const float* mean, const float* var, float eps, float* dgamma, float* dbeta, float* a, float* b,
                       float* d) {
  const double R = (double)rows;
  for (int c = 0; c < C; ++c) {
    double invstd = 1.0 / std::sqrt((double)var[c] + (double)eps);
    double dg = sdzx[c] * invstd;
    dbeta[c] = (float)sdz[c];
    dgamma[c] = (float)dg;
    double k = (double)gamma[c] * invstd;
    double bx = -k * invstd * dg / R;
    a[c] = (float)k;
    b[c] = (float)bx;
    d[c] = (float)(-k * sdz[c] / R - bx * (double)mean[c]);
  }
}

}  // namespace detail

namespace {

void check_args(int64_t rows, int C, const char* op) {
  QAT_CHECK_T(ShapeError, rows >= 1 && C >= 1, "{}: needs rows >= 1 and C >= 1 (got rows={} C={})", op, rows, C);
}

}  // namespace

void batch_norm_act_forward_training(int64_t rows, int C, const float* x, const float* gamma, const float* beta,
                                     float eps, Act act, float* y, float* batch_mean, float* batch_var) {
  check_args(rows, C, "batch_norm_forward_training");
  thread_local std::vector<float> coef;
  detail::bn_stats(rows, C, x, batch_mean, batch_var);
  float* scale = detail::grow(coef, 2 * (size_t)C);
  float* shift = scale + C;
  detail::bn_scale_shift(C, gamma, beta, batch_mean, batch_var, eps, scale, shift);
  detail::dispatch_act(act, [&]<Act A>() {
    detail::parallel_chunks(rows, C, [&](int, int, int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* __restrict xr = x + r * C;
        float* __restrict yr = y + r * C;
        for (int c = 0; c < C; ++c) yr[c] = detail::activate<A>(xr[c] * scale[c] + shift[c]);
      }
    });
  });
}

void batch_norm_act_backward(int64_t rows, int C, const float* x, const float* y, const float* dy,
                             const float* gamma, const float* batch_mean, const float* batch_var, float eps, Act act,
                             float* dx, float* dgamma, float* dbeta) {
  check_args(rows, C, "batch_norm_backward");
  QAT_CHECK_T(ShapeError, act == Act::kNone || y != nullptr, "batch_norm_act_backward: y is required with an activation");
  thread_local std::vector<double> part;
  thread_local std::vector<float> coef;
  float* a = detail::grow(coef, 3 * (size_t)C);
  float* b = a + C;
  float* d = b + C;
  detail::dispatch_act(act, [&]<Act A>() {
    int nt = detail::channel_sums(rows, C, part, [&](int64_t r, float* __restrict s, float* __restrict q) {
      const float* __restrict xr = x + r * C;
      const float* __restrict dr = dy + r * C;
      const float* __restrict yr = A == Act::kNone ? dr : y + r * C;
      for (int c = 0; c < C; ++c) {
        // Unconditional load then select: a conditional load compiles to a branch that the
        // ~50% ReLU mask mispredicts (15x slower than this).
        float dv = dr[c];
        float dz = detail::passes<A>(yr[c]) ? dv : 0.f;
        s[c] += dz;
        q[c] += dz * (xr[c] - batch_mean[c]);
      }
    });
    detail::reduce_partials(part, nt, C);
    detail::bn_backward_coefs(rows, C, part.data(), part.data() + C, gamma, batch_mean, batch_var, eps, dgamma, dbeta,
                              a, b, d);
    detail::parallel_chunks(rows, C, [&](int, int, int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* __restrict xr = x + r * C;
        const float* __restrict dr = dy + r * C;
        const float* __restrict yr = A == Act::kNone ? dr : y + r * C;
        float* __restrict o = dx + r * C;
        for (int c = 0; c < C; ++c) {
          float dv = dr[c];
          float dz = detail::passes<A>(yr[c]) ? dv : 0.f;
          o[c] = a[c] * dz + b[c] * xr[c] + d[c];
        }
      }
    });
  });
}

void batch_norm_forward_training(int64_t rows, int C, const float* x, const float* gamma, const float* beta,
                                 float eps, float* y, float* batch_mean, float* batch_var) {
  batch_norm_act_forward_training(rows, C, x, gamma, beta, eps, Act::kNone, y, batch_mean, batch_var);
}

void batch_norm_backward(int64_t rows, int C, const float* x, const float* dy, const float* gamma,
                         const float* batch_mean, const float* batch_var, float eps, float* dx, float* dgamma,
                         float* dbeta) {
  batch_norm_act_backward(rows, C, x, nullptr, dy, gamma, batch_mean, batch_var, eps, Act::kNone, dx, dgamma, dbeta);
}

}  // namespace qat::ops::kernels
