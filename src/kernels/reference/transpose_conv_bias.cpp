#include "kernels/reference/transpose_conv_bias.h"

namespace qat::kernels::reference {

void TransposeConvBiasFloat(const ConvParams& p, const float* input, const float* filter, const float* bias,
                            float* output) {
  const int64_t oc_stride = (int64_t)p.filter_h * p.filter_w * p.input_c;
  for (int b = 0; b < p.batches; ++b) {
    float* out_b = output + (int64_t)b * p.output_h * p.output_w * p.output_c;
    for (int64_t i = 0; i < (int64_t)p.output_h * p.output_w; ++i)
      for (int oc = 0; oc < p.output_c; ++oc) out_b[i * p.output_c + oc] = bias ? bias[oc] : 0.f;
    for (int iy = 0; iy < p.input_h; ++iy)
      for (int ix = 0; ix < p.input_w; ++ix) {
        const float* in = input + (((int64_t)b * p.input_h + iy) * p.input_w + ix) * p.input_c;
        for (int fy = 0; fy < p.filter_h; ++fy) {
          const int oy = iy * p.stride_h - p.pad_top + fy;
          if (oy < 0 || oy >= p.output_h) continue;
          for (int fx = 0; fx < p.filter_w; ++fx) {
            const int ox = ix * p.stride_w - p.pad_left + fx;
            if (ox < 0 || ox >= p.output_w) continue;
            float* out = out_b + ((int64_t)oy * p.output_w + ox) * p.output_c;
            const float* w = filter + ((int64_t)fy * p.filter_w + fx) * p.input_c;
            for (int oc = 0; oc < p.output_c; ++oc) {
              float acc = out[oc];
              for (int ic = 0; ic < p.input_c; ++ic) acc += in[ic] * w[oc * oc_stride + ic];
              out[oc] = acc;
            }
          }
        }
      }
  }
}

void TransposeConvBiasFloatHWIO(const ConvParams& p, const float* input, const float* filter_hwio,
                                const float* bias, float* output) {
  const int OC = p.output_c;
  for (int b = 0; b < p.batches; ++b) {
    float* out_b = output + (int64_t)b * p.output_h * p.output_w * OC;
    for (int64_t i = 0; i < (int64_t)p.output_h * p.output_w; ++i)
      for (int oc = 0; oc < OC; ++oc) out_b[i * OC + oc] = bias ? bias[oc] : 0.f;
    for (int iy = 0; iy < p.input_h; ++iy)
      for (int ix = 0; ix < p.input_w; ++ix) {
        const float* in = input + (((int64_t)b * p.input_h + iy) * p.input_w + ix) * p.input_c;
        for (int fy = 0; fy < p.filter_h; ++fy) {
          const int oy = iy * p.stride_h - p.pad_top + fy;
          if (oy < 0 || oy >= p.output_h) continue;
          for (int fx = 0; fx < p.filter_w; ++fx) {
            const int ox = ix * p.stride_w - p.pad_left + fx;
            if (ox < 0 || ox >= p.output_w) continue;
            float* out = out_b + ((int64_t)oy * p.output_w + ox) * OC;
            const float* w = filter_hwio + ((int64_t)fy * p.filter_w + fx) * p.input_c * OC;
            for (int ic = 0; ic < p.input_c; ++ic) {
              const float v = in[ic];
              for (int oc = 0; oc < OC; ++oc) out[oc] += v * w[(int64_t)ic * OC + oc];
            }
          }
        }
      }
  }
}

}  // namespace qat::kernels::reference
