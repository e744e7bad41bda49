// MUL: two inputs with numpy-style broadcasting (up to 6-D), MulOptions (fused activation).
// Types float32, int8, uint8 (integer algorithm: src/kernels/reference/arithmetic.h).
#include "kernels/optimized/elementwise_float.h"
#include "lite/ops/binary_common.h"

namespace qat::lite::ops {
namespace {

void Prepare(OpContext& ctx) {
  const auto* o = ctx.op ? ctx.op->builtin_options_as_MulOptions() : nullptr;
  PrepareBinary(ctx, BinaryKind::kMul, o ? o->fused_activation_function() : tflite::ActivationFunctionType::NONE);
}

// float32 runs the optimised twin (kernels/optimized/elementwise_float.h), the reference's values.
void Eval(OpContext& ctx) {
  EvalBinary(
      ctx,
      [&](const auto& p, const auto& s, const float* a, const float* b, float* o) {
        kernels::optimized::BinaryFloat(kernels::optimized::BinaryFloatOp::kMul, p, s, a, b, o, ctx.pool);
      },
      ref::MulInt8, ref::MulUint8);
}

}  // namespace

OpRegistration Register_MUL() { return MakeRegistration<BinaryOpData>("MUL", Prepare, Eval); }

}  // namespace qat::lite::ops
