// QUANTIZE: float32 -> int8/uint8 (per-tensor), or int8/uint8 -> int8/uint8 (requantize).
#include "kernels/reference/quantize.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::RequantizeParams requant;
  float scale = 1.f;
  int32_t zero_point = 0;
};

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  CheckArity(ctx, 1, 1);
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  ResizeOutput(ctx, 0, in.dims);
  if (!Is8Bit(out.type)) ctx.fail("output '{}' must be int8 or uint8, got {}", out.name, TypeName(out.type));
  if (out.quant.per_channel()) ctx.fail("per-channel output '{}' is not supported", out.name);
  d.scale = Scale(ctx, out);
  d.zero_point = ZeroPoint(out);
  if (in.type == DType::kFloat32) return;
  if (!Is8Bit(in.type)) ctx.fail("input '{}' type {} is not supported", in.name, TypeName(in.type));
  ref::PrepareRequantize(Scale(ctx, in), ZeroPoint(in), d.scale, d.zero_point, out.type == DType::kInt8, ctx.requant,
                         &d.requant);
}

void Eval(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  const int64_t n = in.num_elements();
  if (in.type == DType::kFloat32) {
    if (out.type == DType::kInt8)
      ref::QuantizeFloatToInt8(n, in.as<float>(), d.scale, d.zero_point, ctx.requant, out.as<int8_t>());
    else
      ref::QuantizeFloatToUint8(n, in.as<float>(), d.scale, d.zero_point, ctx.requant, out.as<uint8_t>());
  } else {
    ref::Requantize8(d.requant, n, in.data, in.type == DType::kInt8, out.data, out.type == DType::kInt8);
  }
}

}  // namespace

OpRegistration Register_QUANTIZE() { return MakeRegistration<OpData>("QUANTIZE", Prepare, Eval); }

}  // namespace qat::lite::ops
