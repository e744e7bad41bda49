// MaxPool / AvgPool forward and backward on NHWC, TF semantics: padded positions never win a max
// and are not counted in an average. The innermost loop runs over channels (contiguous in NHWC),
// which the compiler vectorises; images are independent, so threads split the batch and the
// backward scatters need no atomics.
#include <cfloat>
#include <cstring>
#include <vector>
#ifdef __SSE4_1__
#include <smmintrin.h>
#endif

#include "ops/kernels/float_kernels.h"
#include "ops/kernels/parallel.h"
#include "ops/kernels/pool_impl.h"
#include "qat/error.h"

namespace qat::ops::kernels {
namespace detail {

void check_pool_geom(const PoolGeom& g, const char* op) {
  QAT_CHECK_T(ShapeError,
              g.N >= 1 && g.H >= 1 && g.W >= 1 && g.C >= 1 && g.KH >= 1 && g.KW >= 1 && g.stride_h >= 1 &&
                  g.stride_w >= 1 && g.pad_top >= 0 && g.pad_left >= 0 && g.pad_bottom >= 0 && g.pad_right >= 0,
              "{}: bad geometry (N={} H={} W={} C={} K={}x{} stride={}x{} pads={},{},{},{})", op, g.N, g.H, g.W, g.C,
              g.KH, g.KW, g.stride_h, g.stride_w, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right);
  int oh = (g.H + g.pad_top + g.pad_bottom - g.KH) / g.stride_h + 1;
  int ow = (g.W + g.pad_left + g.pad_right - g.KW) / g.stride_w + 1;
  QAT_CHECK_T(ShapeError,
              g.H + g.pad_top + g.pad_bottom >= g.KH && g.W + g.pad_left + g.pad_right >= g.KW && oh == g.OH &&
                  ow == g.OW,
              "{}: output {}x{} does not match input {}x{}, window {}x{}, stride and padding (expected {}x{})", op, g.OH,
              g.OW, g.H, g.W, g.KH, g.KW, oh, ow);
}

}  // namespace detail

namespace {

using detail::Window;
using detail::window;
void check_geom(const PoolGeom& g, const char* op) { detail::check_pool_geom(g, op); }

int64_t image_work(const PoolGeom& g) { return (int64_t)g.OH * g.OW * g.C * g.KH * g.KW; }

// Max and argmax of one window, per channel. Channels are the vector lanes: each block of 4 keeps
// its running max and index in registers over the whole window and is stored once. (Written
// with SSE4.1 intrinsics because GCC does not vectorise the two-output select loop, which left
// it 10x slower than a memory pass.)
void max_window_argmax(const float* x, const PoolGeom& g, const Window& win, int64_t n, float* y, int32_t* a) {
  const int C = g.C;
  const int64_t row = (int64_t)g.W * C;
  const int64_t first = ((n * g.H + win.h0) * g.W + win.w0) * C;
  int c = 0;
#ifdef __SSE4_1__
  for (; c + 4 <= C; c += 4) {
    __m128 best = _mm_loadu_ps(x + first + c);
    __m128i lane = _mm_setr_epi32(0, 1, 2, 3);
    __m128i arg = _mm_add_epi32(_mm_set1_epi32((int32_t)(first + c)), lane);
    for (int h = win.h0; h < win.h1; ++h) {
      int64_t base = ((n * g.H + h) * g.W + win.w0) * C + c;
      for (int w = win.w0; w < win.w1; ++w, base += C) {
        __m128 v = _mm_loadu_ps(x + base);
        __m128 gt = _mm_cmpgt_ps(v, best);  // strict: the first maximum wins ties
        best = _mm_blendv_ps(best, v, gt);
        __m128i idx = _mm_add_epi32(_mm_set1_epi32((int32_t)base), lane);
        arg = _mm_castps_si128(_mm_blendv_ps(_mm_castsi128_ps(arg), _mm_castsi128_ps(idx), gt));
      }
    }
    _mm_storeu_ps(y + c, best);
    _mm_storeu_si128((__m128i*)(a + c), arg);
  }
#endif
  for (; c < C; ++c) {
    float best = x[first + c];
    int32_t arg = (int32_t)(first + c);
    for (int h = win.h0; h < win.h1; ++h)
      for (int w = win.w0; w < win.w1; ++w) {
        int64_t i = first + (h - win.h0) * row + (w - win.w0) * C + c;
        if (x[i] > best) best = x[i], arg = (int32_t)i;
      }
    y[c] = best;
    a[c] = arg;
  }
}

inline void max_into(float* __restrict y, const float* __restrict x, int C) {
  for (int c = 0; c < C; ++c) y[c] = x[c] > y[c] ? x[c] : y[c];
}

}  // namespace

void max_pool_forward(const PoolGeom& g, const float* x, float* y, int32_t* argmax) {
  check_geom(g, "max_pool_forward");
  if (argmax)
    QAT_CHECK_T(ShapeError, (int64_t)g.N * g.H * g.W * g.C <= INT32_MAX,
                "max_pool_forward: input of {} elements too large for int32 argmax", (int64_t)g.N * g.H * g.W * g.C);
  const int C = g.C;
  detail::parallel_chunks(g.N, image_work(g), [&](int, int, int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      for (int oh = 0; oh < g.OH; ++oh)
        for (int ow = 0; ow < g.OW; ++ow) {
          Window win = window(g, oh, ow);
          int64_t o = ((n * g.OH + oh) * g.OW + ow) * C;
          float* yo = y + o;
          if (win.h0 >= win.h1 || win.w0 >= win.w1) {  // window entirely in padding
            for (int c = 0; c < C; ++c) yo[c] = 0.f;
            if (argmax)
              for (int c = 0; c < C; ++c) argmax[o + c] = -1;
            continue;
          }
          if (argmax) {
            max_window_argmax(x, g, win, n, yo, argmax + o);
          } else {
            const int64_t first = ((n * g.H + win.h0) * g.W + win.w0) * C;
            std::memcpy(yo, x + first, sizeof(float) * C);
            for (int h = win.h0; h < win.h1; ++h)
              for (int w = win.w0; w < win.w1; ++w) max_into(yo, x + ((n * g.H + h) * g.W + w) * C, C);
          }
        }
    }
  });
}

void max_pool_backward(const PoolGeom& g, const float* dy, const int32_t* argmax, float* dx) {
  check_geom(g, "max_pool_backward");
  QAT_CHECK_T(ShapeError, argmax != nullptr, "max_pool_backward: argmax is required");
  const int64_t in_img = (int64_t)g.H * g.W * g.C, out_img = (int64_t)g.OH * g.OW * g.C;
  detail::parallel_chunks(g.N, in_img + out_img, [&](int, int, int64_t n0, int64_t n1) {
    std::memset(dx + n0 * in_img, 0, sizeof(float) * (n1 - n0) * in_img);
    // argmax of image n points into image n, so the chunks write disjoint parts of dx.
    for (int64_t i = n0 * out_img; i < n1 * out_img; ++i)
      if (argmax[i] >= 0) dx[argmax[i]] += dy[i];
  });
}

void avg_pool_forward(const PoolGeom& g, const float* x, float* y) {
  check_geom(g, "avg_pool_forward");
  const int C = g.C;
  detail::parallel_chunks(g.N, image_work(g), [&](int, int, int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n)
      for (int oh = 0; oh < g.OH; ++oh)
        for (int ow = 0; ow < g.OW; ++ow) {
          Window win = window(g, oh, ow);
          float* yo = y + ((n * g.OH + oh) * g.OW + ow) * C;
          for (int c = 0; c < C; ++c) yo[c] = 0.f;
          int count = std::max(0, win.h1 - win.h0) * std::max(0, win.w1 - win.w0);
          if (count == 0) continue;
          for (int h = win.h0; h < win.h1; ++h)
            for (int w = win.w0; w < win.w1; ++w) {
              const float* xi = x + ((n * g.H + h) * g.W + w) * C;
              for (int c = 0; c < C; ++c) yo[c] += xi[c];
            }
          const float inv = 1.f / (float)count;
          for (int c = 0; c < C; ++c) yo[c] *= inv;
        }
  });
}

void avg_pool_backward(const PoolGeom& g, const float* dy, float* dx) {
  check_geom(g, "avg_pool_backward");
  const int C = g.C;
  const int64_t in_img = (int64_t)g.H * g.W * C;
  detail::parallel_chunks(g.N, image_work(g) + in_img, [&](int, int, int64_t n0, int64_t n1) {
    std::memset(dx + n0 * in_img, 0, sizeof(float) * (n1 - n0) * in_img);
    for (int64_t n = n0; n < n1; ++n)
      for (int oh = 0; oh < g.OH; ++oh)
        for (int ow = 0; ow < g.OW; ++ow) {
          Window win = window(g, oh, ow);
          int count = std::max(0, win.h1 - win.h0) * std::max(0, win.w1 - win.w0);
          if (count == 0) continue;
          const float inv = 1.f / (float)count;
          const float* dyo = dy + ((n * g.OH + oh) * g.OW + ow) * C;
          for (int h = win.h0; h < win.h1; ++h)
            for (int w = win.w0; w < win.w1; ++w) {
              float* dxi = dx + ((n * g.H + h) * g.W + w) * C;
              for (int c = 0; c < C; ++c) dxi[c] += dyo[c] * inv;
            }
        }
  });
}

}  // namespace qat::ops::kernels
