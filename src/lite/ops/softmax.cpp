// SOFTMAX over the last axis, SoftmaxOptions.beta. float32, int8 (output (1/256, -128)), uint8
// (output (1/256, 0)): the quantized outputs are fixed by the TFLite spec and checked here.
#include "kernels/reference/softmax.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::SoftmaxParams params;
};

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  CheckArity(ctx, 1, 1);
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  CheckType(ctx, out, in.type, "output");
  if (in.dims.empty()) ctx.fail("input '{}' must have rank >= 1", in.name);
  ResizeOutput(ctx, 0, in.dims);
  const auto* o = ctx.op ? ctx.op->builtin_options_as_SoftmaxOptions() : nullptr;
  ref::SoftmaxParams& p = d.params;
  p = ref::SoftmaxParams{};
  p.beta = o ? o->beta() : 1.f;
  p.depth = in.dims.back();
  p.outer = p.depth > 0 ? in.num_elements() / p.depth : 0;
  p.requant = ctx.requant;
  if (in.type == DType::kFloat32) return;
  if (!Is8Bit(in.type)) ctx.fail("input '{}' type {} is not supported", in.name, TypeName(in.type));
  p.input_scale = Scale(ctx, in);
  p.input_zp = ZeroPoint(in);
  p.output_scale = Scale(ctx, out);
  p.output_zp = ZeroPoint(out);
  const int32_t want_zp = in.type == DType::kInt8 ? -128 : 0;
  if (p.output_scale != 1.f / 256 || p.output_zp != want_zp)
    ctx.fail("output '{}' must be quantized with scale 1/256 and zero point {}", out.name, want_zp);
  ref::PrepareSoftmaxQuantized(&p);
}

void Eval(OpContext& ctx) {
  const auto& p = Data<OpData>(ctx).params;
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  switch (in.type) {
    case DType::kFloat32: ref::SoftmaxFloat(p, in.as<float>(), out.as<float>()); break;
    case DType::kInt8: ref::SoftmaxInt8(p, in.as<int8_t>(), out.as<int8_t>()); break;
    default: ref::SoftmaxUint8(p, in.as<uint8_t>(), out.as<uint8_t>()); break;
  }
}

}  // namespace

OpRegistration Register_SOFTMAX() { return MakeRegistration<OpData>("SOFTMAX", Prepare, Eval); }

}  // namespace qat::lite::ops
