#include "kernels/reference/max_pool.h"

namespace qat::kernels::reference {

namespace {
template <class T, class Clip>
void MaxPoolT(const PoolParams& p, const T* input, T* output, T lowest, Clip clip) {
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox) {
        const int iy0 = oy * p.stride_h - p.pad_top, ix0 = ox * p.stride_w - p.pad_left;
        const int fy0 = std::max(0, -iy0), fy1 = std::min(p.filter_h, p.input_h - iy0);
        const int fx0 = std::max(0, -ix0), fx1 = std::min(p.filter_w, p.input_w - ix0);
        T* out = output + (((int64_t)b * p.output_h + oy) * p.output_w + ox) * p.channels;
        for (int c = 0; c < p.channels; ++c) out[c] = lowest;
        for (int fy = fy0; fy < fy1; ++fy)
          for (int fx = fx0; fx < fx1; ++fx) {
            const T* in = input + (((int64_t)b * p.input_h + iy0 + fy) * p.input_w + ix0 + fx) * p.channels;
            for (int c = 0; c < p.channels; ++c) out[c] = std::max(out[c], in[c]);
          }
        for (int c = 0; c < p.channels; ++c) out[c] = clip(out[c]);
      }
}
}  // namespace

void MaxPoolFloat(const PoolParams& p, const float* input, float* output) {
  MaxPoolT<float>(p, input, output, std::numeric_limits<float>::lowest(),
                  [&](float v) { return ClampF(v, p.float_act); });
}
void MaxPoolInt8(const PoolParams& p, const int8_t* input, int8_t* output) {
  MaxPoolT<int8_t>(p, input, output, -128, [&](int8_t v) { return (int8_t)Clamp(v, p.act_min, p.act_max); });
}
void MaxPoolUint8(const PoolParams& p, const uint8_t* input, uint8_t* output) {
  MaxPoolT<uint8_t>(p, input, output, 0, [&](uint8_t v) { return (uint8_t)Clamp(v, p.act_min, p.act_max); });
}

}  // namespace qat::kernels::reference
