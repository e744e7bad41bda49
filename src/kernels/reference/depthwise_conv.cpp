// DEPTHWISE_CONV_2D reference kernels (see depthwise_conv.h). For each output pixel the window
// is walked once with the channels innermost: input, filter and output are all contiguous along
// the channel axis, so the float path vectorises without any repacking.
#include "kernels/reference/depthwise_conv.h"


namespace qat::kernels::reference {

namespace {
// Taps are visited column by column (fx outer, fy inner): the order in which XNNPACK's
// depthwise kernels accumulate (its indirection buffer is kernel_x-major), which makes the float
// path match LiteRT bit for bit. Integer sums do not depend on the order.
template <class F>
inline void ForEachTap(const ConvParams& p, int b, int oy, int ox, F&& body) {
  const int iy0 = oy * p.stride_h - p.pad_top;
  const int ix0 = ox * p.stride_w - p.pad_left;
  for (int fx = 0; fx < p.filter_w; ++fx) {
    const int ix = ix0 + fx * p.dilation_w;
    if (ix < 0 || ix >= p.input_w) continue;
    for (int fy = 0; fy < p.filter_h; ++fy) {
      const int iy = iy0 + fy * p.dilation_h;
      if (iy < 0 || iy >= p.input_h) continue;
      body(((int64_t)fy * p.filter_w + fx) * p.output_c, (((int64_t)b * p.input_h + iy) * p.input_w + ix) * p.input_c);
    }
  }
}

inline int64_t OutOffset(const ConvParams& p, int b, int oy, int ox) {
  return (((int64_t)b * p.output_h + oy) * p.output_w + ox) * p.output_c;
}
}  // namespace

void DepthwiseConvFloat(const ConvParams& p, const float* input, const float* filter, const float* bias,
                        float* output) {
  const int M = p.depth_multiplier;
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox) {
        float* out = output + OutOffset(p, b, oy, ox);
        for (int oc = 0; oc < p.output_c; ++oc) out[oc] = bias ? bias[oc] : 0.f;
        ForEachTap(p, b, oy, ox, [&](int64_t w_off, int64_t in_off) {
          const float* w = filter + w_off;
          const float* in = input + in_off;
          if (M == 1) {
            for (int c = 0; c < p.output_c; ++c) out[c] += w[c] * in[c];
          } else {
            for (int oc = 0; oc < p.output_c; ++oc) out[oc] += in[oc / M] * w[oc];
          }
        });
        for (int oc = 0; oc < p.output_c; ++oc) out[oc] = ClampF(out[oc], p.float_act);
      }
}

void DepthwiseConvPerChannelInt8(const ConvParams& p, const Requant* per_channel, const int8_t* input,
                                 const int8_t* filter, const int32_t* bias, int8_t* output) {
  const int M = p.depth_multiplier;
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox) {
        int8_t* out = output + OutOffset(p, b, oy, ox);
        for (int oc = 0; oc < p.output_c; ++oc) {
          int32_t acc = 0;
          ForEachTap(p, b, oy, ox, [&](int64_t w_off, int64_t in_off) {
            acc += (int32_t)filter[w_off + oc] * ((int32_t)input[in_off + oc / M] + p.input_offset);
          });
          if (bias) acc = WrapAdd(acc, bias[oc]);
          acc = WrapAdd(Apply(p.requant, per_channel[oc], acc), p.output_offset);
          out[oc] = (int8_t)Clamp(acc, p.act_min, p.act_max);
        }
      }
}

void DepthwiseConvUint8(const ConvParams& p, const Requant& requant, const uint8_t* input, const uint8_t* filter,
                        const int32_t* bias, uint8_t* output) {
  const int M = p.depth_multiplier;
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox) {
        uint8_t* out = output + OutOffset(p, b, oy, ox);
        for (int oc = 0; oc < p.output_c; ++oc) {
          int32_t acc = 0;
          ForEachTap(p, b, oy, ox, [&](int64_t w_off, int64_t in_off) {
            acc += ((int32_t)filter[w_off + oc] + p.filter_offset) * ((int32_t)input[in_off + oc / M] + p.input_offset);
          });
          if (bias) acc = WrapAdd(acc, bias[oc]);
          acc = WrapAdd(Apply(p.requant, requant, acc), p.output_offset);
          out[oc] = (uint8_t)Clamp(acc, p.act_min, p.act_max);
        }
      }
}

void DepthwiseConvHybridInt8(const ConvParams& p, const float* filter_scales, int filter_scale_count,
                             const float* input, const int8_t* filter, const float* bias, float* output) {
  const int M = p.depth_multiplier;
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox) {
        float* out = output + OutOffset(p, b, oy, ox);
        for (int oc = 0; oc < p.output_c; ++oc) {
          float acc = 0.f;
          ForEachTap(p, b, oy, ox, [&](int64_t w_off, int64_t in_off) {
            acc += input[in_off + oc / M] * (float)filter[w_off + oc];
          });
          const float scale = filter_scales[filter_scale_count == 1 ? 0 : oc];
          out[oc] = ClampF(acc * scale + (bias ? bias[oc] : 0.f), p.float_act);
        }
      }
}

}  // namespace qat::kernels::reference
