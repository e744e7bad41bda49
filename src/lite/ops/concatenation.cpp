// CONCATENATION: N inputs along ConcatenationOptions.axis (negative counts from the end).
// Float and same-parameter quantized inputs are copied; quantized inputs with other parameters
// are requantized (TFLite's ConcatenationWithScaling). Fused activation: NONE only for quantized
// (TFLite's converter never fuses one there); float applies it.
#include "kernels/reference/concatenation.h"
#include "kernels/reference/activations.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::ConcatParams params;
  std::vector<int> axis_sizes;
  std::vector<ref::ConcatQuant> input_quant;
  ref::ConcatQuant output_quant;
  std::vector<const void*> inputs;  // filled at eval (pointers may move between runs)
  ref::FloatRange float_act;
  bool requantize = false;
};

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  if (ctx.inputs.empty()) ctx.fail("needs at least one input");
  CheckArity(ctx, 1, 1 << 20);
  const LiteTensor& in0 = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  CheckType(ctx, out, in0.type, "output");
  const auto* o = ctx.op ? ctx.op->builtin_options_as_ConcatenationOptions() : nullptr;
  const int rank = (int)in0.dims.size();
  int axis = o ? o->axis() : 0;
  if (axis < -rank || axis >= rank) ctx.fail("axis {} out of range for rank {}", axis, rank);
  if (axis < 0) axis += rank;
  const int n = (int)ctx.inputs.size();
  d.axis_sizes.assign(n, 0);
  std::vector<int32_t> out_dims = in0.dims;
  out_dims[axis] = 0;
  for (int i = 0; i < n; ++i) {
    const LiteTensor& t = ctx.in(i);
    CheckType(ctx, t, in0.type, "input");
    if ((int)t.dims.size() != rank) ctx.fail("input '{}' has rank {}, expected {}", t.name, t.dims.size(), rank);
    for (int k = 0; k < rank; ++k)
      if (k != axis && t.dims[k] != in0.dims[k])
        ctx.fail("input '{}' dim {} is {}, expected {}", t.name, k, t.dims[k], in0.dims[k]);
    d.axis_sizes[i] = t.dims[axis];
    out_dims[axis] += t.dims[axis];
  }
  ResizeOutput(ctx, 0, out_dims);
  d.params = ref::ConcatParams{};
  d.params.num_inputs = n;
  d.params.axis_sizes = d.axis_sizes.data();
  for (int k = 0; k < axis; ++k) d.params.outer *= in0.dims[k];
  for (int k = axis + 1; k < rank; ++k) d.params.inner *= in0.dims[k];
  d.inputs.assign(n, nullptr);
  const ref::Activation act = o ? ToActivation(o->fused_activation_function()) : ref::Activation::kNone;
  d.requantize = false;
  if (in0.type == DType::kFloat32) {
    d.float_act = FloatActivationRange(ctx, act);
  } else if (Is8Bit(in0.type)) {
    if (act != ref::Activation::kNone) ctx.fail("fused activation on a quantized concatenation");
    d.output_quant = {Scale(ctx, out), ZeroPoint(out)};
    d.input_quant.assign(n, {});
    for (int i = 0; i < n; ++i) {
      d.input_quant[i] = {Scale(ctx, ctx.in(i)), ZeroPoint(ctx.in(i))};
      if (d.input_quant[i].scale != d.output_quant.scale || d.input_quant[i].zero_point != d.output_quant.zero_point)
        d.requantize = true;
    }
  }
}

void Eval(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  for (size_t i = 0; i < d.inputs.size(); ++i) d.inputs[i] = ctx.in((int)i).data;
  LiteTensor& out = ctx.out(0);
  if (d.requantize && out.type == DType::kInt8) {
    ref::ConcatenationInt8(d.params, d.input_quant.data(), d.output_quant,
                           reinterpret_cast<const int8_t* const*>(d.inputs.data()), out.as<int8_t>());
  } else if (d.requantize) {
    ref::ConcatenationUint8(d.params, d.input_quant.data(), d.output_quant,
                            reinterpret_cast<const uint8_t* const*>(d.inputs.data()), out.as<uint8_t>());
  } else {
    ref::Concatenation(d.params, d.inputs.data(), out.data, dtype_size(out.type));
    if (out.type == DType::kFloat32 && (d.float_act.min > -INFINITY || d.float_act.max < INFINITY))
      ref::ReluXFloat(out.num_elements(), out.as<float>(), out.as<float>(), d.float_act.min, d.float_act.max);
  }
}

}  // namespace

OpRegistration Register_CONCATENATION() { return MakeRegistration<OpData>("CONCATENATION", Prepare, Eval); }

}  // namespace qat::lite::ops
