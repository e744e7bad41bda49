// Training-mode batch norm over [rows, C] (rows = N*H*W of an NHWC tensor), forward and backward.
//
// Both directions are two streaming passes: per-channel sums, then an elementwise affine map.
// Sums are taken per thread in float over short blocks of rows (vectorised over channels) and
// folded into double accumulators, so accuracy does not degrade with rows. The forward sums
// x - x[row 0] rather than x: the shift removes the cancellation of E[x^2] - E[x]^2 when the mean
// is large against the spread. Scratch buffers are thread_local and only grow.
#include <cmath>
#include <vector>

#include "ops/kernels/float_kernels.h"
#include "ops/kernels/parallel.h"
#include "qat/error.h"

namespace qat::ops::kernels {
namespace {

constexpr int kBlockRows = 64;

template <class T>
T* scratch(std::vector<T>& v, size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

void check_args(int64_t rows, int C, const char* op) {
  QAT_CHECK_T(ShapeError, rows >= 1 && C >= 1, "{}: needs rows >= 1 and C >= 1 (got rows={} C={})", op, rows, C);
}

// part[t*2C + c] += sum_r a(r,c), part[t*2C + C + c] += sum_r b(r,c) over rows of thread t.
template <class Terms>
void channel_sums(int64_t rows, int C, std::vector<double>& part, int& nthreads, Terms&& terms) {
  int used = 1;
  const int max_t = qat::num_threads();
  double* P = scratch(part, (size_t)max_t * 2 * C);
  detail::parallel_chunks(rows, C, [&](int t, int nt, int64_t r0, int64_t r1) {
    if (t == 0) used = nt;
    thread_local std::vector<float> fbuf;
    float* s = scratch(fbuf, 2 * (size_t)C);
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
  nthreads = used;
}

}  // namespace

void batch_norm_forward_training(int64_t rows, int C, const float* x, const float* gamma, const float* beta,
                                 float eps, float* y, float* batch_mean, float* batch_var) {
  check_args(rows, C, "batch_norm_forward_training");
  thread_local std::vector<double> part;
  thread_local std::vector<float> coef;
  const float* x0 = x;  // row 0: the shift
  int nt = 1;
  channel_sums(rows, C, part, nt, [&](int64_t r, float* s, float* q) {
    const float* xr = x + r * C;
    for (int c = 0; c < C; ++c) {
      float d = xr[c] - x0[c];
      s[c] += d;
      q[c] += d * d;
    }
  });
  float* scale = scratch(coef, 2 * (size_t)C);
  float* shift = scale + C;
  for (int c = 0; c < C; ++c) {
    double S = 0, Q = 0;
    for (int t = 0; t < nt; ++t) {
      S += part[(size_t)t * 2 * C + c];
      Q += part[(size_t)t * 2 * C + C + c];
    }
    double m = S / (double)rows;
    double var = std::max(0.0, Q / (double)rows - m * m);
    double mean = (double)x0[c] + m;
    batch_mean[c] = (float)mean;
    batch_var[c] = (float)var;
    double k = (double)gamma[c] / std::sqrt(var + (double)eps);
    scale[c] = (float)k;
    shift[c] = (float)((double)beta[c] - mean * k);
  }
  detail::parallel_chunks(rows, C, [&](int, int, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      float* yr = y + r * C;
      for (int c = 0; c < C; ++c) yr[c] = xr[c] * scale[c] + shift[c];
    }
  });
}

void batch_norm_backward(int64_t rows, int C, const float* x, const float* dy, const float* gamma,
                         const float* batch_mean, const float* batch_var, float eps, float* dx, float* dgamma,
                         float* dbeta) {
  check_args(rows, C, "batch_norm_backward");
  thread_local std::vector<double> part;
  thread_local std::vector<float> coef;
  int nt = 1;
  channel_sums(rows, C, part, nt, [&](int64_t r, float* s, float* q) {
    const float* xr = x + r * C;
    const float* dr = dy + r * C;
    for (int c = 0; c < C; ++c) {
      s[c] += dr[c];
      q[c] += dr[c] * (xr[c] - batch_mean[c]);
    }
  });
  // dx = k * (dy - dbeta/R - xhat * dgamma/R) with k = gamma * invstd, xhat = (x - mean) * invstd,
  // folded into dx = k*dy + b*x + d per channel.
  float* a = scratch(coef, 3 * (size_t)C);
  float* b = a + C;
  float* d = b + C;
  const double R = (double)rows;
  for (int c = 0; c < C; ++c) {
    double sdy = 0, sdyx = 0;
    for (int t = 0; t < nt; ++t) {
      sdy += part[(size_t)t * 2 * C + c];
      sdyx += part[(size_t)t * 2 * C + C + c];
    }
    double invstd = 1.0 / std::sqrt((double)batch_var[c] + (double)eps);
    double dg = sdyx * invstd;
    dbeta[c] = (float)sdy;
    dgamma[c] = (float)dg;
    double k = (double)gamma[c] * invstd;
    double bx = -k * invstd * dg / R;
    a[c] = (float)k;
    b[c] = (float)bx;
    d[c] = (float)(-k * sdy / R - bx * (double)batch_mean[c]);
  }
  detail::parallel_chunks(rows, C, [&](int, int, int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * C;
      const float* dr = dy + r * C;
      float* o = dx + r * C;
      for (int c = 0; c < C; ++c) o[c] = a[c] * dr[c] + b[c] * xr[c] + d[c];
    }
  });
}

}  // namespace qat::ops::kernels
