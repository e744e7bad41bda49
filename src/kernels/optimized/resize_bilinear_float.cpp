// Optimised float32 RESIZE_BILINEAR (see resize_bilinear_float.h). Contraction off: the portable
// row must not fuse either.
#pragma GCC optimize("fp-contract=off")
#include "kernels/optimized/resize_bilinear_float.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/optimized/parallel.h"
#include "kernels/x86/float_x86.h"

namespace qat::kernels::optimized {

namespace {
void RowPortable(const float* r0, const float* r1, int C, int ow, const int* x0, const int* x1, const float* wx,
                 float wy, float* out) {
  const float omy = 1 - wy;
  for (int x = 0; x < ow; ++x) {
    const float w = wx[x], omx = 1 - w;
    const float *a = r0 + (int64_t)x0[x] * C, *b = r1 + (int64_t)x0[x] * C;
    const float *c = r0 + (int64_t)x1[x] * C, *d = r1 + (int64_t)x1[x] * C;
    float* o = out + (int64_t)x * C;
    for (int ch = 0; ch < C; ++ch) o[ch] = a[ch] * omy * omx + b[ch] * wy * omx + c[ch] * omy * w + d[ch] * wy * w;
  }
}
}  // namespace

void ResizeBilinearFloat(const reference::ResizeBilinearParams& p, const float* input, float* output,
                         ThreadPool* pool, KernelPath path) {
  const float sy = reference::ResizeScale(p.input_h, p.output_h, p.align_corners);
  const float sx = reference::ResizeScale(p.input_w, p.output_w, p.align_corners);
  const int C = p.channels;
  std::vector<int> x0(p.output_w), x1(p.output_w);
  std::vector<float> wx(p.output_w);
  for (int x = 0; x < p.output_w; ++x) {
    float ix;
    reference::ResizeCoord(x, sx, p.half_pixel_centers, p.input_w, &ix, &x0[x], &x1[x]);
    wx[x] = ix - (float)x0[x];
  }
  const int64_t rows = (int64_t)p.batches * p.output_h;
  const int64_t row_values = std::max<int64_t>(1, (int64_t)p.output_w * C);
  ParallelFor(pool, rows, std::max<int64_t>(1, 16384 / row_values), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int b = (int)(r / p.output_h), y = (int)(r % p.output_h);
      float iy;
      int y0, y1;
      reference::ResizeCoord(y, sy, p.half_pixel_centers, p.input_h, &iy, &y0, &y1);
      const float wy = iy - (float)y0;
      const float* in0 = input + ((int64_t)b * p.input_h + y0) * p.input_w * C;
      const float* in1 = input + ((int64_t)b * p.input_h + y1) * p.input_w * C;
      float* out = output + r * p.output_w * C;
#if defined(__x86_64__) || defined(_M_X64)
      if (path != KernelPath::kPortable) {
        x86::ResizeBilinearRowAvx2(in0, in1, C, p.output_w, x0.data(), x1.data(), wx.data(), wy, out);
        continue;
      }
#endif
      RowPortable(in0, in1, C, p.output_w, x0.data(), x1.data(), wx.data(), wy, out);
    }
  });
}

}  // namespace qat::kernels::optimized
