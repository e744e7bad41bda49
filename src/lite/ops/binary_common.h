// Shared Prepare/Eval of the broadcasting binary ops ADD, SUB, MUL.
#pragma once
#include "kernels/reference/arithmetic.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {

struct BinaryOpData {
  ref::ArithmeticParams params;
  ref::BroadcastShape shape;
};

enum class BinaryKind { kAdd, kSub, kMul };

inline void PrepareBinary(OpContext& ctx, BinaryKind kind, tflite::ActivationFunctionType fused) {
  auto& d = Data<BinaryOpData>(ctx);
  CheckArity(ctx, 2, 2);
  const LiteTensor& a = ctx.in(0);
  const LiteTensor& b = ctx.in(1);
  LiteTensor& out = ctx.out(0);
  if (a.type != b.type) ctx.fail("inputs '{}' and '{}' have different types", a.name, b.name);
  CheckType(ctx, out, a.type, "output");
  if (!ref::MakeBroadcastShape(a.dims.data(), (int)a.dims.size(), b.dims.data(), (int)b.dims.size(), &d.shape))
    ctx.fail("shapes of '{}' and '{}' do not broadcast (or rank > {})", a.name, b.name, ref::kMaxBroadcastRank);
  std::vector<int32_t> dims(d.shape.dims, d.shape.dims + d.shape.rank);
  if (a.dims.empty() && b.dims.empty()) dims.clear();  // scalar op scalar
  ResizeOutput(ctx, 0, dims);
  const ref::Activation act = ToActivation(fused);
  d.params = ref::ArithmeticParams{};
  if (a.type == DType::kFloat32) {
    d.params.float_act = FloatActivationRange(ctx, act);
    return;
  }
  if (!Is8Bit(a.type)) ctx.fail("type {} is not supported", TypeName(a.type));
  if (kind == BinaryKind::kMul)
    ref::PrepareMulQuantized(Scale(ctx, a), ZeroPoint(a), Scale(ctx, b), ZeroPoint(b), Scale(ctx, out),
                             ZeroPoint(out), &d.params);
  else
    ref::PrepareAddSubQuantized(Scale(ctx, a), ZeroPoint(a), Scale(ctx, b), ZeroPoint(b), Scale(ctx, out),
                                ZeroPoint(out), &d.params);
  if (kind == BinaryKind::kAdd)
    ref::PrepareAddXnnpack(Scale(ctx, a), ZeroPoint(a), Scale(ctx, b), ZeroPoint(b), Scale(ctx, out), &d.params);
  // SUB stays on TFLite's algorithm in both modes (arithmetic.h).
  d.params.requant = kind == BinaryKind::kSub ? kernels::RequantMode::kTflite : ctx.requant;
  QuantizedActivationRange(ctx, act, out, &d.params.act_min, &d.params.act_max);
}

template <class F32, class I8, class U8>
void EvalBinary(OpContext& ctx, F32 f32, I8 i8, U8 u8) {
  auto& d = Data<BinaryOpData>(ctx);
  const LiteTensor& a = ctx.in(0);
  const LiteTensor& b = ctx.in(1);
  LiteTensor& out = ctx.out(0);
  switch (a.type) {
    case DType::kFloat32: f32(d.params, d.shape, a.as<float>(), b.as<float>(), out.as<float>()); break;
    case DType::kInt8: i8(d.params, d.shape, a.as<int8_t>(), b.as<int8_t>(), out.as<int8_t>()); break;
    default: u8(d.params, d.shape, a.as<uint8_t>(), b.as<uint8_t>(), out.as<uint8_t>()); break;
  }
}

}  // namespace qat::lite::ops
