// MaxPool / AvgPool forward and backward on NHWC, TF semantics: padded positions never win a max
// and are not counted in an average. The innermost loop runs over channels (contiguous in NHWC),
// which the compiler vectorises; images are independent, so threads split the batch and the
// backward scatters need no atomics.
#include <cfloat>
#include <cstring>
#include <vector>

#include "ops/kernels/float_kernels.h"
#include "ops/kernels/parallel.h"
#include "qat/error.h"

namespace qat::ops::kernels {
namespace {

void check_geom(const PoolGeom& g, const char* op) {
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

// The window of output (oh, ow) clipped to the image: rows [h0, h1), cols [w0, w1).
struct Window {
  int h0, h1, w0, w1;
};
inline Window window(const PoolGeom& g, int oh, int ow) {
  int hs = oh * g.stride_h - g.pad_top, ws = ow * g.stride_w - g.pad_left;
  return {std::max(hs, 0), std::min(hs + g.KH, g.H), std::max(ws, 0), std::min(ws + g.KW, g.W)};
}

int64_t image_work(const PoolGeom& g) { return (int64_t)g.OH * g.OW * g.C * g.KH * g.KW; }

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
          int64_t first = ((n * g.H + win.h0) * g.W + win.w0) * C;
          std::memcpy(yo, x + first, sizeof(float) * C);
          if (argmax) {
            int32_t* ao = argmax + o;
            for (int c = 0; c < C; ++c) ao[c] = (int32_t)(first + c);
            for (int h = win.h0; h < win.h1; ++h)
              for (int w = win.w0; w < win.w1; ++w) {
                int64_t base = ((n * g.H + h) * g.W + w) * C;
                const float* xi = x + base;
                for (int c = 0; c < C; ++c) {
                  bool gt = xi[c] > yo[c];  // strict: the first maximum wins ties
                  yo[c] = gt ? xi[c] : yo[c];
                  ao[c] = gt ? (int32_t)(base + c) : ao[c];
                }
              }
          } else {
            for (int h = win.h0; h < win.h1; ++h)
              for (int w = win.w0; w < win.w1; ++w) {
                const float* xi = x + ((n * g.H + h) * g.W + w) * C;
                for (int c = 0; c < C; ++c) yo[c] = xi[c] > yo[c] ? xi[c] : yo[c];
              }
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
