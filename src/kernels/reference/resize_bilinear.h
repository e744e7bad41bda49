// RESIZE_BILINEAR (NHWC), TFLite semantics including align_corners and half_pixel_centers:
//   scale = in / out (align_corners: (in - 1) / (out - 1));
//   src = half_pixel ? (dst + 0.5) * scale - 0.5 : dst * scale;
//   lo = max(floor(src), 0), hi = min(ceil(src), in - 1), weight = src - lo.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

struct ResizeBilinearParams {
  int batches = 1, input_h = 0, input_w = 0, channels = 0;
  int output_h = 0, output_w = 0;
  bool align_corners = false;
  bool half_pixel_centers = false;
  RequantMode mode = RequantMode::kTflite;  // 8-bit paths only
};

// The coordinate rule above, shared with the optimised kernel (the same floats, so the same bits):
// scale of one axis, and for output index dst its source coordinate, lower and upper input index.
inline float ResizeScale(int in, int out, bool align_corners) {
  return (align_corners && out > 1) ? (float)(in - 1) / (float)(out - 1) : (float)in / (float)out;
}
inline void ResizeCoord(int dst, float scale, bool half_pixel, int in_size, float* src, int* lo, int* hi) {
  *src = half_pixel ? ((float)dst + 0.5f) * scale - 0.5f : (float)dst * scale;
  *lo = std::max((int)std::floor(*src), 0);
  *hi = std::min((int)std::ceil(*src), in_size - 1);
}

void ResizeBilinearFloat(const ResizeBilinearParams& p, const float* input, float* output);
// 8-bit (same scale and zero point in and out):
//  kTflite: TFLite 2.2's reference kernel, the float interpolation of the raw values converted
//           with static_cast, i.e. truncated toward zero.
//  kXnnpack: XNNPACK's ibilinear kernels (LiteRT): weights quantized to Q11 (lrintf(alpha*2^11)),
//           t = (tl << 11) + (tr - tl) ax; b likewise; out = ((t << 11) + (b - t) ay + 2^21) >> 22,
//           with source coordinates clamped to the input as XNNPACK's indirection does.
void ResizeBilinearInt8(const ResizeBilinearParams& p, const int8_t* input, int8_t* output);
void ResizeBilinearUint8(const ResizeBilinearParams& p, const uint8_t* input, uint8_t* output);

}  // namespace qat::kernels::reference
