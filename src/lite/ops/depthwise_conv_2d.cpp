// DEPTHWISE_CONV_2D: inputs (input NHWC, filter 1HWC, optional bias), DepthwiseConv2DOptions.
// The depth multiplier is output channels / input channels (the option is redundant since TF 2.1
// and is only cross-checked when set). Same type combinations as CONV_2D.
#include <memory>

#include "kernels/optimized/depthwise_conv.h"
#include "kernels/optimized/depthwise_float.h"
#include "kernels/optimized/expand_depthwise_float.h"
#include "kernels/reference/depthwise_conv.h"
#include "lite/ops/quantized_prepare.h"

namespace qat::lite::ops {

const kernels::optimized::PackedConvFloat* Conv2DPackedFloat(const OpContext& conv);  // conv_2d.cpp

namespace {

using Kind = WeightsKind;

struct OpData {
  ref::ConvParams params;
  std::vector<kernels::Requant> requant;  // int8: one per output channel; uint8: one
  std::vector<float> filter_scales;       // hybrid
  WeightsKind kind = WeightsKind::kFloat;
  // int8/uint8 with constant filter and bias: weights packed once here for the optimised kernel
  // (kernels/optimized/depthwise_conv.h, bit-exact with the reference); null: the reference runs.
  std::unique_ptr<kernels::optimized::PackedDepthwise> packed;
  // float32, depth multiplier 1, constant filter and bias: packed once for
  // kernels/optimized/depthwise_float.h; null: the reference runs.
  std::unique_ptr<kernels::optimized::PackedDepthwiseFloat> fpacked;
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
  PrepareConvWindow(ctx, *o, &p);
  p.requant = ctx.requant;
  const ref::Activation act = ToActivation(o->fused_activation_function());
  WeightsSetup ws = PrepareWeights(ctx, in, filter, bias, out, act, p.output_c, {"filter", "channels"}, &p);
  d.kind = ws.kind;
  d.filter_scales = std::move(ws.hybrid_scales);
  d.requant = std::move(ws.requant);
  d.packed.reset();
  d.fpacked.reset();
  CheckFusedResidual(ctx, out);
  if (d.kind == Kind::kFloat && p.depth_multiplier == 1 && ConstantWeights(filter, bias))
    d.fpacked = std::make_unique<kernels::optimized::PackedDepthwiseFloat>(
        kernels::optimized::PackDepthwiseFloat(p, filter.as<float>(), bias ? bias->as<float>() : nullptr));
  if (d.kind == Kind::kFloat || d.kind == Kind::kHybrid) return;
  if (ConstantWeights(filter, bias)) {
    const int32_t* b = bias ? bias->as<int32_t>() : nullptr;
    d.packed = std::make_unique<kernels::optimized::PackedDepthwise>(
        d.kind == Kind::kInt8
            ? kernels::optimized::PackDepthwiseInt8(p, d.requant.data(), (int)d.requant.size(),
                                                    filter.as<int8_t>(), b)
            : kernels::optimized::PackDepthwiseUint8(p, d.requant[0], filter.as<uint8_t>(), b));
    ctx.scratch_bytes = kernels::optimized::DepthwiseScratchBytes(*d.packed, ctx.pool);
  }
}

void Eval(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  const LiteTensor& in = ctx.in(0);
  const LiteTensor& filter = ctx.in(1);
  const LiteTensor* bias = HasInput(ctx, 2) ? ctx.inputs[2] : nullptr;
  LiteTensor& out = ctx.out(0);
  const kernels::optimized::FloatResidual res = FusedResidual(ctx);
  // The reference kernels: the fused ADD over the whole output after them.
  auto residual_after = [&] {
    if (ctx.residual) kernels::optimized::ApplyFloatResidual(res, 0, out.as<float>(), out.num_elements());
  };
  switch (d.kind) {
    case Kind::kFloat:
      if (ctx.expand) {  // the absorbed 1x1 CONV_2D and this op in one pass, from the conv's input
        kernels::optimized::ExpandDepthwiseFloat(*Conv2DPackedFloat(*ctx.expand), *d.fpacked,
                                                 ctx.inputs.back()->as<float>(), out.as<float>(), ctx.pool,
                                                 kernels::ActiveFloatPath(), ctx.float_math);
        break;
      }
      if (d.fpacked) {
        kernels::optimized::DepthwiseConvFloat(*d.fpacked, in.as<float>(), out.as<float>(), ctx.pool,
                                               kernels::ActiveFloatPath(), ctx.residual ? &res : nullptr,
                                               ctx.float_math);
        break;
      }
      ref::DepthwiseConvFloat(d.params, in.as<float>(), filter.as<float>(), bias ? bias->as<float>() : nullptr,
                              out.as<float>());
      residual_after();
      break;
    case Kind::kHybrid:
      ref::DepthwiseConvHybridInt8(d.params, d.filter_scales.data(), (int)d.filter_scales.size(), in.as<float>(),
                                   filter.as<int8_t>(), bias ? bias->as<float>() : nullptr, out.as<float>());
      residual_after();
      break;
    case Kind::kInt8:
      if (d.packed) {
        kernels::optimized::DepthwiseConvInt8(*d.packed, in.as<int8_t>(), out.as<int8_t>(), ctx.scratch, ctx.pool);
        break;
      }
      ref::DepthwiseConvPerChannelInt8(d.params, d.requant.data(), in.as<int8_t>(), filter.as<int8_t>(),
                                       bias ? bias->as<int32_t>() : nullptr, out.as<int8_t>());
      break;
    case Kind::kUint8:
      if (d.packed) {
        kernels::optimized::DepthwiseConvUint8(*d.packed, in.as<uint8_t>(), out.as<uint8_t>(), ctx.scratch,
                                               ctx.pool);
        break;
      }
      ref::DepthwiseConvUint8(d.params, d.requant[0], in.as<uint8_t>(), filter.as<uint8_t>(),
                              bias ? bias->as<int32_t>() : nullptr, out.as<uint8_t>());
      break;
  }
}

}  // namespace

bool ExpandDepthwiseReady(const OpContext& depthwise) {
  if (!depthwise.expand || !depthwise.user_data || depthwise.residual) return false;
  const auto& d = *static_cast<const OpData*>(depthwise.user_data);
  const kernels::optimized::PackedConvFloat* pc = Conv2DPackedFloat(*depthwise.expand);
  return d.kind == Kind::kFloat && d.fpacked && pc && kernels::optimized::ExpandDepthwiseApplies(*pc, *d.fpacked);
}

OpRegistration Register_DEPTHWISE_CONV_2D() {
  return MakeRegistration<OpData>("DEPTHWISE_CONV_2D", Prepare, Eval);
}

}  // namespace qat::lite::ops
