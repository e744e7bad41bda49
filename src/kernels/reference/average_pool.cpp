#include "kernels/reference/average_pool.h"

namespace qat::kernels::reference {

namespace {
// Calls tap(input_offset_of_pixel) over the pooling window of output (b, oy, ox), clipped to the
// input; returns the number of taps.
template <class F>
inline int ForEachWindowTap(const PoolParams& p, int b, int oy, int ox, F&& tap) {
  const int iy0 = oy * p.stride_h - p.pad_top, ix0 = ox * p.stride_w - p.pad_left;
  const int fy0 = std::max(0, -iy0), fy1 = std::min(p.filter_h, p.input_h - iy0);
  const int fx0 = std::max(0, -ix0), fx1 = std::min(p.filter_w, p.input_w - ix0);
  int count = 0;
  for (int fy = fy0; fy < fy1; ++fy)
    for (int fx = fx0; fx < fx1; ++fx) {
      tap((((int64_t)b * p.input_h + iy0 + fy) * p.input_w + ix0 + fx) * p.channels);
      ++count;
    }
  return count;
}

template <class T, class Round>
void AveragePoolInteger(const PoolParams& p, const T* input, T* output, Round round) {
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox) {
        T* out = output + (((int64_t)b * p.output_h + oy) * p.output_w + ox) * p.channels;
        for (int c = 0; c < p.channels; ++c) {
          int32_t sum = 0;
          const int count = ForEachWindowTap(p, b, oy, ox, [&](int64_t off) { sum += input[off + c]; });
          // An empty window (padding larger than the kernel) gives count 0: output 0 + clamp,
          // instead of dividing by zero.
          const int32_t avg = count > 0 ? round(sum, count) : 0;
          out[c] = (T)Clamp(avg, p.act_min, p.act_max);
        }
      }
}
}  // namespace

void AveragePoolFloat(const PoolParams& p, const float* input, float* output) {
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox) {
        float* out = output + (((int64_t)b * p.output_h + oy) * p.output_w + ox) * p.channels;
        for (int c = 0; c < p.channels; ++c) out[c] = 0.f;
        const int count = ForEachWindowTap(p, b, oy, ox, [&](int64_t off) {
          for (int c = 0; c < p.channels; ++c) out[c] += input[off + c];
        });
        for (int c = 0; c < p.channels; ++c) out[c] = ClampF(count > 0 ? out[c] / (float)count : 0.f, p.float_act);
      }
}

void AveragePoolInt8(const PoolParams& p, const int8_t* input, int8_t* output) {
  AveragePoolInteger(p, input, output, [](int32_t sum, int count) {
    return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
  });
}

void AveragePoolUint8(const PoolParams& p, const uint8_t* input, uint8_t* output) {
  AveragePoolInteger(p, input, output, [](int32_t sum, int count) { return (sum + count / 2) / count; });
}

}  // namespace qat::kernels::reference
