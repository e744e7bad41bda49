// DEPTHWISE_CONV_2D: inputs (input NHWC, filter 1HWC, optional bias), DepthwiseConv2DOptions.
// The depth multiplier is output channels / input channels (the option is redundant since TF 2.1
// and is only cross-checked when set). Same type combinations as CONV_2D.
#include <memory>

#include "kernels/optimized/depthwise_conv.h"
#include "kernels/reference/depthwise_conv.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::ConvParams params;
  std::vector<kernels::Requant> per_channel;
  kernels::Requant requant;
  std::vector<float> filter_scales;
  enum class Kind { kFloat, kHybrid, kInt8, kUint8 } kind = Kind::kFloat;
  // int8/uint8 with constant filter and bias: weights packed once here for the optimised kernel
  // (kernels/optimized/depthwise_conv.h, bit-exact with the reference); null: the reference runs.
  std::unique_ptr<kernels::optimized::PackedDepthwise> packed;
};

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  CheckArity(ctx, 2, 3);
  const LiteTensor& in = ctx.in(0);
  const LiteTensor& filter = ctx.in(1);
  const LiteTensor* bias = HasInput(ctx, 2) ? ctx.inputs[2] : nullptr;
  LiteTensor& out = ctx.out(0);
  CheckRank(ctx, in, 4, "input");
  CheckRank(ctx, filter, 4, "filter");
  const auto* o = ctx.op ? ctx.op->builtin_options_as_DepthwiseConv2DOptions() : nullptr;
  if (!o) ctx.fail("missing DepthwiseConv2DOptions");
  if (o->stride_h() <= 0 || o->stride_w() <= 0 || o->dilation_h_factor() <= 0 || o->dilation_w_factor() <= 0)
    ctx.fail("strides and dilations must be positive");

  ref::ConvParams& p = d.params;
  p = ref::ConvParams{};
  p.batches = in.dims[0];
  p.input_h = in.dims[1];
  p.input_w = in.dims[2];
  p.input_c = in.dims[3];
  p.filter_h = filter.dims[1];
  p.filter_w = filter.dims[2];
  p.output_c = filter.dims[3];
  if (filter.dims[0] != 1) ctx.fail("filter '{}' must have shape [1, H, W, C]", filter.name);
  if (p.input_c <= 0 || p.output_c % p.input_c != 0)
    ctx.fail("filter '{}' has {} channels, not a multiple of the input's {}", filter.name, p.output_c, p.input_c);
  p.depth_multiplier = p.output_c / p.input_c;
  if (o->depth_multiplier() > 0 && o->depth_multiplier() != p.depth_multiplier)
    ctx.fail("depth_multiplier {} does not match filter channels {} / input channels {}", o->depth_multiplier(),
             p.output_c, p.input_c);
  if (bias && bias->num_elements() != p.output_c)
    ctx.fail("bias '{}' has {} elements, expected {}", bias->name, bias->num_elements(), p.output_c);
  for (int v : {p.batches, p.input_h, p.input_w, p.input_c, p.output_c, p.filter_h, p.filter_w})
    if (v <= 0) ctx.fail("input '{}' and filter '{}' must have positive dimensions", in.name, filter.name);
  p.stride_h = o->stride_h();
  p.stride_w = o->stride_w();
  p.dilation_h = o->dilation_h_factor();
  p.dilation_w = o->dilation_w_factor();
  const ref::Padding pad = ToPadding(o->padding());
  ref::ComputePadding(pad, p.input_h, p.filter_h, p.stride_h, p.dilation_h, &p.output_h, &p.pad_top);
  ref::ComputePadding(pad, p.input_w, p.filter_w, p.stride_w, p.dilation_w, &p.output_w, &p.pad_left);
  ResizeOutput(ctx, 0, {p.batches, p.output_h, p.output_w, p.output_c});
  const ref::Activation act = ToActivation(o->fused_activation_function());
  p.requant = ctx.requant;

  if (in.type == DType::kFloat32) {
    CheckType(ctx, out, DType::kFloat32, "output");
    p.float_act = FloatActivationRange(ctx, act);
    if (bias) CheckType(ctx, *bias, DType::kFloat32, "bias");
    if (filter.type == DType::kFloat32) {
      d.kind = OpData::Kind::kFloat;
    } else if (filter.type == DType::kInt8) {
      d.kind = OpData::Kind::kHybrid;
      d.filter_scales = filter.quant.scale;
      if (d.filter_scales.size() != 1 && (int)d.filter_scales.size() != p.output_c)
        ctx.fail("filter '{}' has {} scales for {} channels", filter.name, d.filter_scales.size(), p.output_c);
    } else {
      ctx.fail("float input with {} filter '{}' is not supported", TypeName(filter.type), filter.name);
    }
    return;
  }
  if (!Is8Bit(in.type)) ctx.fail("input '{}' type {} is not supported", in.name, TypeName(in.type));
  CheckType(ctx, filter, in.type, "filter");
  CheckType(ctx, out, in.type, "output");
  if (bias) CheckType(ctx, *bias, DType::kInt32, "bias");
  const float s_in = Scale(ctx, in), s_out = Scale(ctx, out);
  p.input_offset = -ZeroPoint(in);
  p.output_offset = ZeroPoint(out);
  QuantizedActivationRange(ctx, act, out, &p.act_min, &p.act_max);
  const auto& ws = filter.quant.scale;
  if (ws.empty()) ctx.fail("filter '{}' is not quantized", filter.name);
  if (in.type == DType::kInt8) {
    d.kind = OpData::Kind::kInt8;
    if (ws.size() != 1 && (int)ws.size() != p.output_c)
      ctx.fail("filter '{}' has {} scales for {} channels", filter.name, ws.size(), p.output_c);
    for (auto z : filter.quant.zero_point)
      if (z != 0) ctx.fail("int8 filter '{}' must be symmetric (zero point 0), got {}", filter.name, z);
    d.per_channel.resize(p.output_c);
    for (int c = 0; c < p.output_c; ++c)
      d.per_channel[c] = kernels::MakeRequant(s_in, ws.size() == 1 ? ws[0] : ws[c], s_out);
  } else {
    d.kind = OpData::Kind::kUint8;
    if (ws.size() != 1) ctx.fail("uint8 filter '{}' must be quantized per tensor", filter.name);
    p.filter_offset = -ZeroPoint(filter);
    d.requant = kernels::MakeRequant(s_in, ws[0], s_out, /*tflite_float_product=*/true);
  }
  d.packed.reset();
  if (filter.is_const && filter.data && (!bias || (bias->is_const && bias->data))) {
    const int32_t* b = bias ? bias->as<int32_t>() : nullptr;
    d.packed = std::make_unique<kernels::optimized::PackedDepthwise>(
        d.kind == OpData::Kind::kInt8
            ? kernels::optimized::PackDepthwiseInt8(p, d.per_channel.data(), (int)d.per_channel.size(),
                                                    filter.as<int8_t>(), b)
            : kernels::optimized::PackDepthwiseUint8(p, d.requant, filter.as<uint8_t>(), b));
    ctx.scratch_bytes = kernels::optimized::DepthwiseScratchBytes(*d.packed, ctx.pool);
  }
}

void Eval(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  const LiteTensor& in = ctx.in(0);
  const LiteTensor& filter = ctx.in(1);
  const LiteTensor* bias = HasInput(ctx, 2) ? ctx.inputs[2] : nullptr;
  LiteTensor& out = ctx.out(0);
  switch (d.kind) {
    case OpData::Kind::kFloat:
      ref::DepthwiseConvFloat(d.params, in.as<float>(), filter.as<float>(), bias ? bias->as<float>() : nullptr,
                              out.as<float>());
      break;
    case OpData::Kind::kHybrid:
      ref::DepthwiseConvHybridInt8(d.params, d.filter_scales.data(), (int)d.filter_scales.size(), in.as<float>(),
                                   filter.as<int8_t>(), bias ? bias->as<float>() : nullptr, out.as<float>());
      break;
    case OpData::Kind::kInt8:
      if (d.packed) {
        kernels::optimized::DepthwiseConvInt8(*d.packed, in.as<int8_t>(), out.as<int8_t>(), ctx.scratch, ctx.pool);
        break;
      }
      ref::DepthwiseConvPerChannelInt8(d.params, d.per_channel.data(), in.as<int8_t>(), filter.as<int8_t>(),
                                       bias ? bias->as<int32_t>() : nullptr, out.as<int8_t>());
      break;
    case OpData::Kind::kUint8:
      if (d.packed) {
        kernels::optimized::DepthwiseConvUint8(*d.packed, in.as<uint8_t>(), out.as<uint8_t>(), ctx.scratch,
                                               ctx.pool);
        break;
      }
      ref::DepthwiseConvUint8(d.params, d.requant, in.as<uint8_t>(), filter.as<uint8_t>(),
                              bias ? bias->as<int32_t>() : nullptr, out.as<uint8_t>());
      break;
  }
}

}  // namespace

OpRegistration Register_DEPTHWISE_CONV_2D() {
  return MakeRegistration<OpData>("DEPTHWISE_CONV_2D", Prepare, Eval);
}

}  // namespace qat::lite::ops
