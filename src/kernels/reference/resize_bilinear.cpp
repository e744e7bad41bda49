#include "kernels/reference/resize_bilinear.h"

namespace qat::kernels::reference {

namespace {

template <class T, class Store>
void Resize(const ResizeBilinearParams& p, const T* input, T* output, Store store) {
  const float sy = ResizeScale(p.input_h, p.output_h, p.align_corners);
  const float sx = ResizeScale(p.input_w, p.output_w, p.align_corners);
  const int C = p.channels;
  for (int b = 0; b < p.batches; ++b)
    for (int y = 0; y < p.output_h; ++y) {
      float iy;
      int y0, y1;
      ResizeCoord(y, sy, p.half_pixel_centers, p.input_h, &iy, &y0, &y1);
      const float wy = iy - (float)y0;
      for (int x = 0; x < p.output_w; ++x) {
        float ix;
        int x0, x1;
        ResizeCoord(x, sx, p.half_pixel_centers, p.input_w, &ix, &x0, &x1);
        const float wx = ix - (float)x0;
        const T* r0 = input + ((int64_t)b * p.input_h + y0) * p.input_w * C;
        const T* r1 = input + ((int64_t)b * p.input_h + y1) * p.input_w * C;
        T* out = output + (((int64_t)b * p.output_h + y) * p.output_w + x) * C;
        for (int c = 0; c < C; ++c) {
          const float v = (float)r0[x0 * C + c] * (1 - wy) * (1 - wx) + (float)r1[x0 * C + c] * wy * (1 - wx) +
                          (float)r0[x1 * C + c] * (1 - wy) * wx + (float)r1[x1 * C + c] * wy * wx;
          out[c] = store(v);
        }
      }
    }
}
}  // namespace

void ResizeBilinearFloat(const ResizeBilinearParams& p, const float* input, float* output) {
  Resize(p, input, output, [](float v) { return v; });
}
namespace {
// XNNPACK's q11 ibilinear (see resize_bilinear.h).
template <class T>
void ResizeXnnpack(const ResizeBilinearParams& p, const T* input, T* output) {
  const float sy = ResizeScale(p.input_h, p.output_h, p.align_corners);
  const float sx = ResizeScale(p.input_w, p.output_w, p.align_corners);
  const bool legacy = p.align_corners || !p.half_pixel_centers;
  auto coord = [&](int dst, float scale, int in_size, int* lo, int* hi, int32_t* alpha) {
    float src;
    if (legacy) {
      src = (float)dst * scale;
    } else {
      src = (float)dst * scale + (0.5f * scale - 0.5f);
      src = std::min(std::max(src, 0.f), (float)(in_size - 1));
    }
    *lo = (int)src;
    *hi = std::min(*lo + 1, in_size - 1);
    *alpha = (int32_t)std::nearbyint((src - (float)*lo) * 2048.f);
  };
  const int C = p.channels;
  for (int b = 0; b < p.batches; ++b)
    for (int y = 0; y < p.output_h; ++y) {
      int y0, y1;
      int32_t ay;
      coord(y, sy, p.input_h, &y0, &y1, &ay);
      for (int x = 0; x < p.output_w; ++x) {
        int x0, x1;
        int32_t ax;
        coord(x, sx, p.input_w, &x0, &x1, &ax);
        const T* r0 = input + ((int64_t)b * p.input_h + y0) * p.input_w * C;
        const T* r1 = input + ((int64_t)b * p.input_h + y1) * p.input_w * C;
        T* out = output + (((int64_t)b * p.output_h + y) * p.output_w + x) * C;
        for (int c = 0; c < C; ++c) {
          const int32_t tl = r0[x0 * C + c], tr = r0[x1 * C + c], bl = r1[x0 * C + c], br = r1[x1 * C + c];
          const int32_t t = (int32_t)((uint32_t)tl << 11) + (tr - tl) * ax;
          const int32_t bo = (int32_t)((uint32_t)bl << 11) + (br - bl) * ax;
          const int32_t acc = (int32_t)((uint32_t)t << 11) + (bo - t) * ay;
          out[c] = (T)((acc + (1 << 21)) >> 22);
        }
      }
    }
}
}  // namespace

void ResizeBilinearInt8(const ResizeBilinearParams& p, const int8_t* input, int8_t* output) {
  if (p.mode == RequantMode::kXnnpack) return ResizeXnnpack(p, input, output);
  Resize(p, input, output, [](float v) { return (int8_t)Clamp((int32_t)v, -128, 127); });
}
void ResizeBilinearUint8(const ResizeBilinearParams& p, const uint8_t* input, uint8_t* output) {
  if (p.mode == RequantMode::kXnnpack) return ResizeXnnpack(p, input, output);
  Resize(p, input, output, [](float v) { return (uint8_t)Clamp((int32_t)v, 0, 255); });
}

}  // namespace qat::kernels::reference
