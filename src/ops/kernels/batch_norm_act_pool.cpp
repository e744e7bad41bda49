// Fused batch norm (training) + ReLU / ReLU6 / none + max pool, forward and backward.
//
// Why: in SmallCNN the tensors between conv1 and pool1 are 4x larger than anything after the
// pool, and chaining BN, ReLU and MaxPool streams them ~10 times per step. Fused, the forward
// reads x twice (statistics, then normalise + activate + pool) and writes only the pooled q and
// argmax; the backward reads x once and writes dx once. The math is that of the chain: the
// activation is monotonic, so max(act(z)) = act(max(z)), and BN's backward only needs dz at the
// argmax positions (dz is zero elsewhere), so its sums run at pooled resolution.
#include <cstring>
#include <vector>
#ifdef __SSE4_1__
#include <smmintrin.h>
#endif

#include "ops/kernels/batch_norm_impl.h"
#include "ops/kernels/float_kernels.h"
#include "ops/kernels/parallel.h"
#include "ops/kernels/pool_impl.h"
#include "qat/error.h"

namespace qat::ops::kernels {
namespace {

using detail::Window;

// q[c] = act(max over the window of x*scale+shift), a[c] = flat index of that maximum.
template <Act A>
void window_bn_max(const float* x, const PoolGeom& g, const Window& win, int64_t n, const float* scale,
                   const float* shift, float* q, int32_t* a) {
  const int C = g.C;
  const int64_t first = ((n * g.H + win.h0) * g.W + win.w0) * C;
  int c = 0;
#ifdef __SSE4_1__
  for (; c + 4 <= C; c += 4) {
    const __m128 s = _mm_loadu_ps(scale + c), t = _mm_loadu_ps(shift + c);
    const __m128i lane = _mm_setr_epi32(0, 1, 2, 3);
    __m128 best = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(x + first + c), s), t);
    __m128i arg = _mm_add_epi32(_mm_set1_epi32((int32_t)(first + c)), lane);
    for (int h = win.h0; h < win.h1; ++h) {
      int64_t base = ((n * g.H + h) * g.W + win.w0) * C + c;
      for (int w = win.w0; w < win.w1; ++w, base += C) {
        __m128 v = _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(x + base), s), t);
        __m128 gt = _mm_cmpgt_ps(v, best);
        best = _mm_blendv_ps(best, v, gt);
        __m128i idx = _mm_add_epi32(_mm_set1_epi32((int32_t)base), lane);
        arg = _mm_castps_si128(_mm_blendv_ps(_mm_castsi128_ps(arg), _mm_castsi128_ps(idx), gt));
      }
    }
    if constexpr (A != Act::kNone) best = _mm_max_ps(best, _mm_setzero_ps());
    if constexpr (A == Act::kRelu6) best = _mm_min_ps(best, _mm_set1_ps(6.f));
    _mm_storeu_ps(q + c, best);
    _mm_storeu_si128((__m128i*)(a + c), arg);
  }
#endif
  for (; c < C; ++c) {
    float best = x[first + c] * scale[c] + shift[c];
    int32_t arg = (int32_t)(first + c);
    for (int h = win.h0; h < win.h1; ++h)
      for (int w = win.w0; w < win.w1; ++w) {
        int64_t i = ((n * g.H + h) * g.W + w) * C + c;
        float v = x[i] * scale[c] + shift[c];
        if (v > best) best = v, arg = (int32_t)i;
      }
    q[c] = detail::activate<A>(best);
    a[c] = arg;
  }
}

}  // namespace

void batch_norm_act_max_pool_forward_training(const PoolGeom& g, const float* x, const float* gamma,
                                              const float* beta, float eps, Act act, float* q, int32_t* argmax,
                                              float* batch_mean, float* batch_var) {
  detail::check_pool_geom(g, "batch_norm_act_max_pool_forward_training");
  QAT_CHECK_T(ShapeError, argmax != nullptr && (int64_t)g.N * g.H * g.W * g.C <= INT32_MAX,
              "batch_norm_act_max_pool_forward_training: needs argmax and fewer than 2^31 input elements");
  const int C = g.C;
  thread_local std::vector<float> coef;
  detail::bn_stats((int64_t)g.N * g.H * g.W, C, x, batch_mean, batch_var);
  float* scale = detail::grow(coef, 2 * (size_t)C);
  float* shift = scale + C;
  detail::bn_scale_shift(C, gamma, beta, batch_mean, batch_var, eps, scale, shift);
  detail::dispatch_act(act, [&]<Act A>() {
    detail::parallel_chunks(g.N, (int64_t)g.H * g.W * C, [&](int, int, int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n)
        for (int oh = 0; oh < g.OH; ++oh)
          for (int ow = 0; ow < g.OW; ++ow) {
            Window win = detail::window(g, oh, ow);
            int64_t o = ((n * g.OH + oh) * g.OW + ow) * C;
            if (win.h0 >= win.h1 || win.w0 >= win.w1) {
              for (int c = 0; c < C; ++c) q[o + c] = 0.f, argmax[o + c] = -1;
              continue;
            }
            window_bn_max<A>(x, g, win, n, scale, shift, q + o, argmax + o);
          }
    });
  });
}

void batch_norm_act_max_pool_backward(const PoolGeom& g, const float* x, const float* q, const float* dq,
                                      const int32_t* argmax, const float* gamma, const float* batch_mean,
                                      const float* batch_var, float eps, Act act, float* dx, float* dgamma,
                                      float* dbeta) {
  detail::check_pool_geom(g, "batch_norm_act_max_pool_backward");
  QAT_CHECK_T(ShapeError, argmax != nullptr, "batch_norm_act_max_pool_backward: argmax is required");
  const int C = g.C;
  const int64_t positions = (int64_t)g.N * g.OH * g.OW;
  thread_local std::vector<double> part;
  thread_local std::vector<float> coef;
  float* a = detail::grow(coef, 3 * (size_t)C);
  float* b = a + C;
  float* d = b + C;
  detail::dispatch_act(act, [&]<Act A>() {
    // Sums of dz and dz * (x - mean) over the pooled positions (dz = 0 everywhere else).
    int nt = detail::channel_sums(positions, C, part, [&](int64_t r, float* __restrict s, float* __restrict qs) {
      const float* qr = q + r * C;
      const float* dr = dq + r * C;
      const int32_t* ar = argmax + r * C;
      for (int c = 0; c < C; ++c) {
        // Branch-free (the ReLU mask is ~50% random); argmax -1 (window in padding) reads x[0].
        int32_t i = ar[c] < 0 ? 0 : ar[c];
        float dv = dr[c], xv = x[i];
        float dz = ar[c] >= 0 && detail::passes<A>(qr[c]) ? dv : 0.f;
        s[c] += dz;
        qs[c] += dz * (xv - batch_mean[c]);
      }
    });
    detail::reduce_partials(part, nt, C);
    detail::bn_backward_coefs((int64_t)g.N * g.H * g.W, C, part.data(), part.data() + C, gamma, batch_mean, batch_var,
                              eps, dgamma, dbeta, a, b, d);
    const int64_t in_img = (int64_t)g.H * g.W * C, out_img = (int64_t)g.OH * g.OW * C;
    detail::parallel_chunks(g.N, in_img, [&](int, int, int64_t n0, int64_t n1) {
      // dx = b*x + d everywhere, plus a*dz at the argmax positions (all inside image n). One image
      // at a time, so that the scatter finds dx still in L2.
      for (int64_t n = n0; n < n1; ++n) {
        const float* __restrict xn = x + n * in_img;
        float* __restrict dxn = dx + n * in_img;
        for (int64_t p = 0; p < (int64_t)g.H * g.W; ++p)
          for (int c = 0; c < C; ++c) dxn[p * C + c] = b[c] * xn[p * C + c] + d[c];
        for (int64_t r = n * out_img / C; r < (n + 1) * out_img / C; ++r)
          for (int c = 0; c < C; ++c) {
            int32_t i = argmax[r * C + c];
            float dv = dq[r * C + c];
            float dz = detail::passes<A>(q[r * C + c]) ? dv : 0.f;
            if (i >= 0) dx[i] += a[c] * dz;  // predictable: i < 0 only for windows in padding
          }
      }
    });
  });
}

}  // namespace qat::ops::kernels
