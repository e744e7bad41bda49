// FULLY_CONNECTED: inputs (input [..., K], weights [N, K], optional bias [N]), options
// FullyConnectedOptions (fused activation, keep_num_dims; only the DEFAULT weights format).
// Output [batches, N], or the input's shape with the last dim replaced by N when keep_num_dims.
// Types: float32, hybrid (float32 input, int8 weights), int8 (per-tensor as in TFLite 2.2, or
// per-channel), uint8 (asymmetric weights).
#include "kernels/reference/fully_connected.h"
#include <memory>

#include "kernels/optimized/conv.h"
#include "kernels/optimized/conv_float.h"
#include "lite/ops/quantized_prepare.h"

namespace qat::lite::ops {
namespace {

using Kind = WeightsKind;

struct OpData {
  ref::FullyConnectedParams params;
  // int8: N, or 1 for per-tensor weights (TFLite's per-tensor FC multiplier: float32 product of
  // the scales, then a double division); uint8: 1.
  std::vector<kernels::Requant> requant;
  std::vector<float> weight_scales;       // hybrid
  WeightsKind kind = WeightsKind::kFloat;
  // int8/uint8 with constant weights and bias: packed once here for the optimised kernel (a 1x1
  // convolution over the batches, kernels/optimized/conv.h); null: the reference kernel runs.
  std::unique_ptr<kernels::optimized::PackedConv> packed;
  // float32 with constant weights and bias: packed once for kernels/optimized/conv_float.h.
  std::unique_ptr<kernels::optimized::PackedConvFloat> fpacked;
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

  WeightsSetup ws = PrepareWeights(ctx, in, w, bias, out, act, p.output_depth,
                                   {"weights", "outputs", /*int8_per_tensor_single=*/true}, &p);
  d.kind = ws.kind;
  d.weight_scales = std::move(ws.hybrid_scales);
  d.requant = std::move(ws.requant);
  d.packed.reset();
  d.fpacked.reset();
  if (d.kind == Kind::kFloat && ConstantWeights(w, bias)) {
    d.fpacked = std::make_unique<kernels::optimized::PackedConvFloat>(
        kernels::optimized::PackFullyConnectedFloat(p, w.as<float>(), bias ? bias->as<float>() : nullptr));
    ctx.scratch_bytes = kernels::optimized::ConvFloatScratchBytes(*d.fpacked, ctx.pool);
  }
  if (d.kind == Kind::kFloat || d.kind == Kind::kHybrid) return;
  if (ConstantWeights(w, bias)) {
    const int32_t* b = bias ? bias->as<int32_t>() : nullptr;
    d.packed = std::make_unique<kernels::optimized::PackedConv>(
        d.kind == Kind::kInt8
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
    case Kind::kFloat:
      if (d.fpacked) {
        kernels::optimized::ConvFloat(*d.fpacked, in.as<float>(), out.as<float>(), ctx.scratch, ctx.pool,
                                      kernels::ActiveFloatPath(), nullptr, ctx.float_math);
        break;
      }
      ref::FullyConnectedFloat(d.params, in.as<float>(), w.as<float>(), bias ? bias->as<float>() : nullptr,
                               out.as<float>());
      break;
    case Kind::kHybrid:
      ref::FullyConnectedHybridInt8(d.params, d.weight_scales.data(), (int)d.weight_scales.size(), in.as<float>(),
                                    w.as<int8_t>(), bias ? bias->as<float>() : nullptr, out.as<float>());
      break;
    case Kind::kInt8:
      if (d.packed) {
        kernels::optimized::ConvInt8(*d.packed, in.as<int8_t>(), out.as<int8_t>(), ctx.scratch, ctx.pool);
        break;
      }
      ref::FullyConnectedInt8(d.params, d.requant.data(), (int)d.requant.size(), in.as<int8_t>(), w.as<int8_t>(),
                              bias ? bias->as<int32_t>() : nullptr, out.as<int8_t>());
      break;
    case Kind::kUint8:
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
