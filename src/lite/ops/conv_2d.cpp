// CONV_2D: inputs (input NHWC, filter OHWI, optional bias), Conv2DOptions.
// Types: float32; float32 with int8 weights (hybrid); int8 with per-channel or per-tensor
// symmetric int8 weights and int32 bias; uint8 with asymmetric per-tensor weights.
#include <memory>

#include "kernels/optimized/conv.h"
#include "kernels/optimized/conv_float.h"
#include "kernels/reference/conv.h"
#include "lite/ops/quantized_prepare.h"

namespace qat::lite::ops {
namespace {

using Kind = WeightsKind;

struct OpData {
  ref::ConvParams params;
  std::vector<kernels::Requant> requant;      // int8: one per output channel; uint8: one
  std::vector<float> filter_scales;           // hybrid
  WeightsKind kind = WeightsKind::kFloat;
  // int8/uint8 with constant filter and bias: weights packed once here for the optimised kernel
  // (kernels/optimized/conv.h, bit-exact with the reference); null: the reference kernel runs.
  std::unique_ptr<kernels::optimized::PackedConv> packed;
  // float32 with constant filter and bias (DEQUANTIZE of a constant resolves to one): filter packed
  // once here for kernels/optimized/conv_float.h; null: the reference repacks per Invoke.
  std::unique_ptr<kernels::optimized::PackedConvFloat> fpacked;
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
  const auto* o = ctx.op ? ctx.op->builtin_options_as_Conv2DOptions() : nullptr;
  if (!o) ctx.fail("missing Conv2DOptions");
  if (o->stride_h() <= 0 || o->stride_w() <= 0 || o->dilation_h_factor() <= 0 || o->dilation_w_factor() <= 0)
    ctx.fail("strides and dilations must be positive");

  ref::ConvParams& p = d.params;
  p = ref::ConvParams{};
  p.batches = in.dims[0];
  p.input_h = in.dims[1];
  p.input_w = in.dims[2];
  p.input_c = in.dims[3];
  p.output_c = filter.dims[0];
  p.filter_h = filter.dims[1];
  p.filter_w = filter.dims[2];
  if (filter.dims[3] != p.input_c)
    ctx.fail("filter '{}' has {} input channels, input '{}' has {}", filter.name, filter.dims[3], in.name, p.input_c);
  if (bias && bias->num_elements() != p.output_c)
    ctx.fail("bias '{}' has {} elements, expected {}", bias->name, bias->num_elements(), p.output_c);
  for (int v : {p.batches, p.input_h, p.input_w, p.input_c, p.output_c, p.filter_h, p.filter_w})
    if (v <= 0) ctx.fail("input '{}' and filter '{}' must have positive dimensions", in.name, filter.name);
  PrepareConvWindow(ctx, *o, &p);
  p.requant = ctx.requant;
  const ref::Activation act = ToActivation(o->fused_activation_function());
  WeightsSetup ws = PrepareWeights(ctx, in, filter, bias, out, act, p.output_c, {"filter", "output channels"}, &p);
  d.kind = ws.kind;
  d.filter_scales = std::move(ws.hybrid_scales);
  d.requant = std::move(ws.requant);
  d.packed.reset();
  d.fpacked.reset();
  CheckFusedResidual(ctx, out);
  if (d.kind == Kind::kFloat && ConstantWeights(filter, bias)) {
    d.fpacked = std::make_unique<kernels::optimized::PackedConvFloat>(
        kernels::optimized::PackConvFloat(p, filter.as<float>(), bias ? bias->as<float>() : nullptr));
    ctx.scratch_bytes = kernels::optimized::ConvFloatScratchBytes(*d.fpacked, ctx.pool);
    return;
  }
  if (d.kind == Kind::kFloat) {
    // Scratch for the HWIO repack of the filter (the filter may be computed, e.g. by DEQUANTIZE).
    ctx.scratch_bytes = (size_t)p.filter_h * p.filter_w * p.input_c * p.output_c * sizeof(float);
    return;
  }
  if (d.kind == Kind::kHybrid) return;
  if (ConstantWeights(filter, bias)) {
    const int32_t* b = bias ? bias->as<int32_t>() : nullptr;
    d.packed = std::make_unique<kernels::optimized::PackedConv>(
        d.kind == Kind::kInt8
            ? kernels::optimized::PackConvInt8(p, d.requant.data(), (int)d.requant.size(), filter.as<int8_t>(), b)
            : kernels::optimized::PackConvUint8(p, d.requant[0], filter.as<uint8_t>(), b));
    ctx.scratch_bytes = kernels::optimized::ConvScratchBytes(*d.packed);
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
    case Kind::kFloat: {
      if (d.fpacked) {
        kernels::optimized::ConvFloat(*d.fpacked, in.as<float>(), out.as<float>(), ctx.scratch, ctx.pool,
                                      kernels::ActiveFloatPath(), ctx.residual ? &res : nullptr, ctx.float_math);
        break;
      }
      auto* packed = static_cast<float*>(ctx.scratch);
      ref::PackConvFilterHWIO(d.params, filter.as<float>(), packed);
      ref::ConvFloatHWIO(d.params, in.as<float>(), packed, bias ? bias->as<float>() : nullptr, out.as<float>());
      residual_after();
      break;
    }
    case Kind::kHybrid:
      ref::ConvHybridInt8(d.params, d.filter_scales.data(), (int)d.filter_scales.size(), in.as<float>(),
                          filter.as<int8_t>(), bias ? bias->as<float>() : nullptr, out.as<float>());
      residual_after();
      break;
    case Kind::kInt8:
      if (d.packed) {
        kernels::optimized::ConvInt8(*d.packed, in.as<int8_t>(), out.as<int8_t>(), ctx.scratch, ctx.pool);
        break;
      }
      ref::ConvPerChannelInt8(d.params, d.requant.data(), in.as<int8_t>(), filter.as<int8_t>(),
                              bias ? bias->as<int32_t>() : nullptr, out.as<int8_t>());
      break;
    case Kind::kUint8:
      if (d.packed) {
        kernels::optimized::ConvUint8(*d.packed, in.as<uint8_t>(), out.as<uint8_t>(), ctx.scratch, ctx.pool);
        break;
      }
      ref::ConvUint8(d.params, d.requant[0], in.as<uint8_t>(), filter.as<uint8_t>(),
                     bias ? bias->as<int32_t>() : nullptr, out.as<uint8_t>());
      break;
  }
}

}  // namespace

OpRegistration Register_CONV_2D() { return MakeRegistration<OpData>("CONV_2D", Prepare, Eval); }

// The float weights of a prepared CONV_2D node, for the expand + depthwise fusion
// (depthwise_conv_2d.cpp); null where the node has none.
const kernels::optimized::PackedConvFloat* Conv2DPackedFloat(const OpContext& conv) {
  if (conv.op_name != "CONV_2D" || !conv.user_data) return nullptr;
  const auto& d = *static_cast<const OpData*>(conv.user_data);
  return d.kind == Kind::kFloat ? d.fpacked.get() : nullptr;
}

}  // namespace qat::lite::ops
