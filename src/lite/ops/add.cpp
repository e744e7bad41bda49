// ADD: two inputs with numpy-style broadcasting (up to 6-D), AddOptions (fused activation).
// Types float32, int8, uint8 (integer algorithm: src/kernels/reference/arithmetic.h).
#include "lite/ops/binary_common.h"

namespace qat::lite::ops {
namespace {

void Prepare(OpContext& ctx) {
  const auto* o = ctx.op ? ctx.op->builtin_options_as_AddOptions() : nullptr;
  PrepareBinary(ctx, BinaryKind::kAdd, o ? o->fused_activation_function() : tflite::ActivationFunctionType::NONE);
}

void Eval(OpContext& ctx) { EvalBinary(ctx, ref::AddFloat, ref::AddInt8, ref::AddUint8); }

}  // namespace

OpRegistration Register_ADD() { return MakeRegistration<BinaryOpData>("ADD", Prepare, Eval); }

}  // namespace qat::lite::ops
