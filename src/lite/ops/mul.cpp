// MUL: two inputs with numpy-style broadcasting (up to 6-D), MulOptions (fused activation).
// Types float32, int8, uint8 (integer algorithm: src/kernels/reference/arithmetic.h).
#include "lite/ops/binary_common.h"

namespace qat::lite::ops {
namespace {

void Prepare(OpContext& ctx) {
  const auto* o = ctx.op ? ctx.op->builtin_options_as_MulOptions() : nullptr;
  PrepareBinary(ctx, BinaryKind::kMul, o ? o->fused_activation_function() : tflite::ActivationFunctionType::NONE);
}

void Eval(OpContext& ctx) { EvalBinary(ctx, ref::MulFloat, ref::MulInt8, ref::MulUint8); }

}  // namespace

OpRegistration Register_MUL() { return MakeRegistration<BinaryOpData>("MUL", Prepare, Eval); }

}  // namespace qat::lite::ops
