// CONV_2D reference kernels (see conv.h). Loop order: output pixel, then output channel, then
// the filter window, with the input channels innermost: filter (OHWI) and input (NHWC) are both
// contiguous along ic, so the inner loop is a dot product the compiler vectorises.
#include "kernels/reference/conv.h"

namespace qat::kernels::reference {

namespace {
// Calls body(fy, fx, input_pixel_offset) for each filter tap of output pixel (b, oy, ox) that lies
// inside the input; taps in the padding are skipped.
template <class F>
inline void ForEachTap(const ConvParams& p, int b, int oy, int ox, F&& body) {
  const int iy0 = oy * p.stride_h - p.pad_top;
  const int ix0 = ox * p.stride_w - p.pad_left;
  for (int fy = 0; fy < p.filter_h; ++fy) {
    const int iy = iy0 + fy * p.dilation_h;
    if (iy < 0 || iy >= p.input_h) continue;
    for (int fx = 0; fx < p.filter_w; ++fx) {
      const int ix = ix0 + fx * p.dilation_w;
      if (ix < 0 || ix >= p.input_w) continue;
      body(fy, fx, (((int64_t)b * p.input_h + iy) * p.input_w + ix) * p.input_c);
    }
  }
}
}  // namespace

void ConvFloat(const ConvParams& p, const float* input, const float* filter, const float* bias, float* output) {
  const int64_t filter_oc_stride = (int64_t)p.filter_h * p.filter_w * p.input_c;
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox) {
        float* out = output + (((int64_t)b * p.output_h + oy) * p.output_w + ox) * p.output_c;
        for (int oc = 0; oc < p.output_c; ++oc) {
          float acc = bias ? bias[oc] : 0.f;
          ForEachTap(p, b, oy, ox, [&](int fy, int fx, int64_t in_off) {
            const float* in = input + in_off;
            const float* w = filter + oc * filter_oc_stride + ((int64_t)fy * p.filter_w + fx) * p.input_c;
            for (int ic = 0; ic < p.input_c; ++ic) acc += w[ic] * in[ic];
          });
          out[oc] = ClampF(acc, p.float_act);
        }
      }
}

void PackConvFilterHWIO(const ConvParams& p, const float* filter_ohwi, float* filter_hwio) {
  const int64_t K = (int64_t)p.filter_h * p.filter_w * p.input_c;
  for (int oc = 0; oc < p.output_c; ++oc)
    for (int64_t k = 0; k < K; ++k) filter_hwio[k * p.output_c + oc] = filter_ohwi[oc * K + k];
}

void ConvFloatHWIO(const ConvParams& p, const float* input, const float* filter_hwio, const float* bias,
                   float* output) {
  const int OC = p.output_c;
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox) {
        float* out = output + (((int64_t)b * p.output_h + oy) * p.output_w + ox) * OC;
        for (int oc = 0; oc < OC; ++oc) out[oc] = bias ? bias[oc] : 0.f;
        ForEachTap(p, b, oy, ox, [&](int fy, int fx, int64_t in_off) {
          const float* in = input + in_off;
          const float* w = filter_hwio + ((int64_t)fy * p.filter_w + fx) * p.input_c * OC;
          for (int ic = 0; ic < p.input_c; ++ic) {
            const float v = in[ic];
            const float* wk = w + (int64_t)ic * OC;
            for (int oc = 0; oc < OC; ++oc) out[oc] += wk[oc] * v;
          }
        });
        for (int oc = 0; oc < OC; ++oc) out[oc] = ClampF(out[oc], p.float_act);
      }
}

// Overflow: |filter| <= 127 and |input + input_offset| <= 255, so one product is below 2^15 and
// an int32 accumulator holds at least 2^16 taps (K = fh*fw*ic), far beyond real layers.
void ConvPerChannelInt8(const ConvParams& p, const Requant* per_channel, const int8_t* input, const int8_t* filter,
                        const int32_t* bias, int8_t* output) {
  const int64_t filter_oc_stride = (int64_t)p.filter_h * p.filter_w * p.input_c;
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox) {
        int8_t* out = output + (((int64_t)b * p.output_h + oy) * p.output_w + ox) * p.output_c;
        for (int oc = 0; oc < p.output_c; ++oc) {
          int32_t acc = 0;
          ForEachTap(p, b, oy, ox, [&](int fy, int fx, int64_t in_off) {
            const int8_t* in = input + in_off;
            const int8_t* w = filter + oc * filter_oc_stride + ((int64_t)fy * p.filter_w + fx) * p.input_c;
            for (int ic = 0; ic < p.input_c; ++ic) acc += (int32_t)w[ic] * ((int32_t)in[ic] + p.input_offset);
          });
          if (bias) acc = WrapAdd(acc, bias[oc]);
          acc = WrapAdd(Apply(p.requant, per_channel[oc], acc), p.output_offset);
          out[oc] = (int8_t)Clamp(acc, p.act_min, p.act_max);
        }
      }
}

void ConvUint8(const ConvParams& p, const Requant& requant, const uint8_t* input, const uint8_t* filter,
               const int32_t* bias, uint8_t* output) {
  const int64_t filter_oc_stride = (int64_t)p.filter_h * p.filter_w * p.input_c;
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox) {
        uint8_t* out = output + (((int64_t)b * p.output_h + oy) * p.output_w + ox) * p.output_c;
        for (int oc = 0; oc < p.output_c; ++oc) {
          int32_t acc = 0;
          ForEachTap(p, b, oy, ox, [&](int fy, int fx, int64_t in_off) {
            const uint8_t* in = input + in_off;
            const uint8_t* w = filter + oc * filter_oc_stride + ((int64_t)fy * p.filter_w + fx) * p.input_c;
            for (int ic = 0; ic < p.input_c; ++ic)
              acc += ((int32_t)w[ic] + p.filter_offset) * ((int32_t)in[ic] + p.input_offset);
          });
          if (bias) acc = WrapAdd(acc, bias[oc]);
          acc = WrapAdd(Apply(p.requant, requant, acc), p.output_offset);
          out[oc] = (uint8_t)Clamp(acc, p.act_min, p.act_max);
        }
      }
}

void ConvHybridInt8(const ConvParams& p, const float* filter_scales, int filter_scale_count, const float* input,
                    const int8_t* filter, const float* bias, float* output) {
  const int64_t filter_oc_stride = (int64_t)p.filter_h * p.filter_w * p.input_c;
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox) {
        float* out = output + (((int64_t)b * p.output_h + oy) * p.output_w + ox) * p.output_c;
        for (int oc = 0; oc < p.output_c; ++oc) {
          const float scale = filter_scales[filter_scale_count == 1 ? 0 : oc];
          float acc = 0.f;
          ForEachTap(p, b, oy, ox, [&](int fy, int fx, int64_t in_off) {
            const float* in = input + in_off;
            const int8_t* w = filter + oc * filter_oc_stride + ((int64_t)fy * p.filter_w + fx) * p.input_c;
            for (int ic = 0; ic < p.input_c; ++ic) acc += in[ic] * (float)w[ic];
          });
          out[oc] = ClampF(acc * scale + (bias ? bias[oc] : 0.f), p.float_act);
        }
      }
}

}  // namespace qat::kernels::reference
