// FULLY_CONNECTED: inputs (input [..., K], weights [N, K], optional bias [N]), options
// FullyConnectedOptions (fused activation, keep_num_dims; only the DEFAULT weights format).
// Output [batches, N], or the input's shape with the last dim replaced by N when keep_num_dims.
// Types: float32, hybrid (float32 input, int8 weights), int8 (per-tensor as in TFLite 2.2, or
// per-channel), uint8 (asymmetric weights).
#include "kernels/reference/fully_connected.h"
#include <memory>

#include "kernels/optimized/conv.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::FullyConnectedParams params;
  std::vector<kernels::Requant> requant;  // 1 (per-tensor) or N
  std::vector<float> weight_scales;       // hybrid
  enum class Kind { kFloat, kHybrid, kInt8, kUint8 } kind = Kind::kFloat;
  // int8/uint8 with constant weights and bias: packed once here for the optimised kernel (a 1x1
  // convolution over the batches, kernels/optimized/conv.h); null: the reference kernel runs.
  std::unique_ptr<kernels::optimized::PackedConv> packed;
};

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  CheckArity(ctx, 2, 3);
  const LiteTensor& in = ctx.in(0);
  const LiteTensor& w = ctx.in(1);
  const LiteTensor* bias = HasInput(ctx, 2) ? ctx.inputs[2] : nullptr;
  LiteTensor& out = ctx.out(0);
  const auto* o = ctx.op ? ctx.op->builtin_options_as_FullyConnectedOptions() : nullptr;
  const ref::Activation act = o ? ToActivation(o->fused_activation_function()) : ref::Activation::kNone;
  if (o && o->weights_format() != tflite::FullyConnectedOptionsWeightsFormat::DEFAULT)
    ctx.fail("only the DEFAULT weights format is supported");
  CheckRank(ctx, w, 2, "weights");
  ref::FullyConnectedParams& p = d.params;
  p = ref::FullyConnectedParams{};
  p.output_depth = w.dims[0];
  p.input_depth = w.dims[1];
  if (p.output_depth <= 0) ctx.fail("weights '{}' must have positive dimensions", w.name);
  const int64_t n_in = in.num_elements();
  if (p.input_depth <= 0 || n_in % p.input_depth != 0)
    ctx.fail("input '{}' has {} elements, not a multiple of the weights' depth {}", in.name, n_in, p.input_depth);
  p.batches = (int)(n_in / p.input_depth);
  if (bias && bias->num_elements() != p.output_depth)
    ctx.fail("bias '{}' has {} elements, expected {}", bias->name, bias->num_elements(), p.output_depth);
  std::vector<int32_t> out_dims;
  if (o && o->keep_num_dims()) {
    out_dims = in.dims;
    if (out_dims.empty() || out_dims.back() != p.input_depth)
      ctx.fail("keep_num_dims needs the input's last dim to equal {}", p.input_depth);
    out_dims.back() = p.output_depth;
  } else {
    out_dims = {p.batches, p.output_depth};
  }
  ResizeOutput(ctx, 0, out_dims);
  p.requant = ctx.requant;

  if (in.type == DType::kFloat32) {
    CheckType(ctx, out, DType::kFloat32, "output");
    if (bias) CheckType(ctx, *bias, DType::kFloat32, "bias");
    p.float_act = FloatActivationRange(ctx, act);
    if (w.type == DType::kFloat32) {
      d.kind = OpData::Kind::kFloat;
    } else if (w.type == DType::kInt8) {
      d.kind = OpData::Kind::kHybrid;
      d.weight_scales = w.quant.scale;
      if (d.weight_scales.size() != 1 && (int)d.weight_scales.size() != p.output_depth)
        ctx.fail("weights '{}' have {} scales for {} outputs", w.name, d.weight_scales.size(), p.output_depth);
    } else {
      ctx.fail("float input with {} weights '{}' is not supported", TypeName(w.type), w.name);
    }
    return;
  }
  if (!Is8Bit(in.type)) ctx.fail("input '{}' type {} is not supported", in.name, TypeName(in.type));
  CheckType(ctx, w, in.type, "weights");
  CheckType(ctx, out, in.type, "output");
  if (bias) CheckType(ctx, *bias, DType::kInt32, "bias");
  const float s_in = Scale(ctx, in), s_out = Scale(ctx, out);
  p.input_offset = -ZeroPoint(in);
  p.output_offset = ZeroPoint(out);
  QuantizedActivationRange(ctx, act, out, &p.act_min, &p.act_max);
  const auto& ws = w.quant.scale;
  if (ws.empty()) ctx.fail("weights '{}' are not quantized", w.name);
  d.requant.clear();
  if (in.type == DType::kInt8) {
    d.kind = OpData::Kind::kInt8;
    for (auto z : w.quant.zero_point)
      if (z != 0) ctx.fail("int8 weights '{}' must be symmetric (zero point 0), got {}", w.name, z);
    if (ws.size() == 1) {
      // TFLite's per-tensor FC multiplier: float32 product of the scales, then a double division.
      d.requant.push_back(kernels::MakeRequant(s_in, ws[0], s_out, /*tflite_float_product=*/true));
    } else {
      if ((int)ws.size() != p.output_depth)
        ctx.fail("weights '{}' have {} scales for {} outputs", w.name, ws.size(), p.output_depth);
      for (float s : ws) d.requant.push_back(kernels::MakeRequant(s_in, s, s_out));
    }
  } else {
    d.kind = OpData::Kind::kUint8;
    if (ws.size() != 1) ctx.fail("uint8 weights '{}' must be quantized per tensor", w.name);
    p.filter_offset = -ZeroPoint(w);
    d.requant.push_back(kernels::MakeRequant(s_in, ws[0], s_out, /*tflite_float_product=*/true));
  }
  d.packed.reset();
  if (w.is_const && w.data && (!bias || (bias->is_const && bias->data))) {
    const int32_t* b = bias ? bias->as<int32_t>() : nullptr;
    d.packed = std::make_unique<kernels::optimized::PackedConv>(
        d.kind == OpData::Kind::kInt8
            ? kernels::optimized::PackFullyConnectedInt8(p, d.requant.data(), (int)d.requant.size(), w.as<int8_t>(), b)
            : kernels::optimized::PackFullyConnectedUint8(p, d.requant[0], w.as<uint8_t>(), b));
    ctx.scratch_bytes = kernels::optimized::ConvScratchBytes(*d.packed);
  }
}

void Eval(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  const LiteTensor& in = ctx.in(0);
  const LiteTensor& w = ctx.in(1);
  const LiteTensor* bias = HasInput(ctx, 2) ? ctx.inputs[2] : nullptr;
  LiteTensor& out = ctx.out(0);
  switch (d.kind) {
    case OpData::Kind::kFloat:
      ref::FullyConnectedFloat(d.params, in.as<float>(), w.as<float>(), bias ? bias->as<float>() : nullptr,
                               out.as<float>());
      break;
    case OpData::Kind::kHybrid:
      ref::FullyConnectedHybridInt8(d.params, d.weight_scales.data(), (int)d.weight_scales.size(), in.as<float>(),
                                    w.as<int8_t>(), bias ? bias->as<float>() : nullptr, out.as<float>());
      break;
    case OpData::Kind::kInt8:
      if (d.packed) {
        kernels::optimized::ConvInt8(*d.packed, in.as<int8_t>(), out.as<int8_t>(), ctx.scratch, ctx.pool);
        break;
      }
      ref::FullyConnectedInt8(d.params, d.requant.data(), (int)d.requant.size(), in.as<int8_t>(), w.as<int8_t>(),
                              bias ? bias->as<int32_t>() : nullptr, out.as<int8_t>());
      break;
    case OpData::Kind::kUint8:
      if (d.packed) {
        kernels::optimized::ConvUint8(*d.packed, in.as<uint8_t>(), out.as<uint8_t>(), ctx.scratch, ctx.pool);
        break;
      }
      ref::FullyConnectedUint8(d.params, d.requant[0], in.as<uint8_t>(), w.as<uint8_t>(),
                               bias ? bias->as<int32_t>() : nullptr, out.as<uint8_t>());
      break;
  }
}

}  // namespace

OpRegistration Register_FULLY_CONNECTED() { return MakeRegistration<OpData>("FULLY_CONNECTED", Prepare, Eval); }

}  // namespace qat::lite::ops
