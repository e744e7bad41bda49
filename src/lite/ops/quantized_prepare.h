// Prepare shared by the ops with weights: CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED.
// Given the input, weights, optional bias and output, PrepareWeights checks the type combination
// (float32; hybrid float32 x int8; int8 with symmetric per-tensor or per-channel weights and int32
// bias; uint8 with asymmetric per-tensor weights), and computes what the kernels' params need:
// the float clamp, or the zero-point offsets, the fused activation's integer clamp and the
// requantization multipliers. The op keeps its own shape checks, options and packing.
#pragma once
#include <vector>

#include "kernels/quant_math.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {

enum class WeightsKind { kFloat, kHybrid, kInt8, kUint8 };

struct WeightsSpec {
  const char* noun = "filter";         // "filter" or "weights", in messages
  const char* channels = "channels";   // what the scales count: "output channels", "outputs"
  // int8 weights with a single scale. false: one Requant per output channel, all from the same
  // double product of the scales (TFLite's per-channel conv kernels). true: a single Requant
  // from TFLite's float32 product of the scales (TFLite 2.2's per-tensor FULLY_CONNECTED).
  bool int8_per_tensor_single = false;
};

// The quantized output stage common to ref::ConvParams and ref::FullyConnectedParams.
struct OutputStage {
  int32_t input_offset = 0, filter_offset = 0, output_offset = 0;
  int32_t act_min = -128, act_max = 127;
  ref::FloatRange float_act;
};

struct WeightsSetup {
  WeightsKind kind = WeightsKind::kFloat;
  std::vector<float> hybrid_scales;       // kHybrid: the weights' scales (1 or `channels`)
  // kInt8: `channels` entries (or 1 with int8_per_tensor_single and one weight scale);
  // kUint8: 1 entry (made with TFLite's float32 product of the scales).
  std::vector<kernels::Requant> requant;
};

// `channels`: output channels (> 0), the length of per-channel scales and of the bias.
WeightsSetup PrepareWeights(const OpContext& ctx, const LiteTensor& in, const LiteTensor& weights,
                            const LiteTensor* bias, const LiteTensor& out, ref::Activation act, int channels,
                            const WeightsSpec& spec, OutputStage* stage);

// PrepareWeights writing the stage into the kernel's params (ConvParams, FullyConnectedParams).
template <class Params>
WeightsSetup PrepareWeights(const OpContext& ctx, const LiteTensor& in, const LiteTensor& weights,
                            const LiteTensor* bias, const LiteTensor& out, ref::Activation act, int channels,
                            const WeightsSpec& spec, Params* p) {
  OutputStage s;
  WeightsSetup r = PrepareWeights(ctx, in, weights, bias, out, act, channels, spec, &s);
  p->input_offset = s.input_offset;
  p->filter_offset = s.filter_offset;
  p->output_offset = s.output_offset;
  p->act_min = s.act_min;
  p->act_max = s.act_max;
  p->float_act = s.float_act;
  return r;
}

// Weights and bias are constants present in the model: the op may pack them once in prepare.
inline bool ConstantWeights(const LiteTensor& weights, const LiteTensor* bias) {
  return weights.is_const && weights.data && (!bias || (bias->is_const && bias->data));
}

// CONV_2D / DEPTHWISE_CONV_2D window: strides, dilations, padding and the output's height and
// width from Conv2DOptions or DepthwiseConv2DOptions (strides and dilations already checked
// positive); p's batches, input and filter sizes and output_c must be set. Resizes output 0.
template <class Options>
void PrepareConvWindow(OpContext& ctx, const Options& o, ref::ConvParams* p) {
  p->stride_h = o.stride_h();
  p->stride_w = o.stride_w();
  p->dilation_h = o.dilation_h_factor();
  p->dilation_w = o.dilation_w_factor();
  const ref::Padding pad = ToPadding(o.padding());
  ref::ComputePadding(pad, p->input_h, p->filter_h, p->stride_h, p->dilation_h, &p->output_h, &p->pad_top);
  ref::ComputePadding(pad, p->input_w, p->filter_w, p->stride_w, p->dilation_w, &p->output_w, &p->pad_left);
  ResizeOutput(ctx, 0, {p->batches, p->output_h, p->output_w, p->output_c});
}

}  // namespace qat::lite::ops
