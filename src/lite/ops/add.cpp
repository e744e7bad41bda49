// ADD: two inputs with numpy-style broadcasting (up to 6-D), AddOptions (fused activation).
// Types float32, int8, uint8 (integer algorithm: src/kernels/reference/arithmetic.h).
#include "kernels/optimized/add.h"
#include "kernels/optimized/elementwise_float.h"
#include "lite/ops/binary_common.h"

namespace qat::lite::ops {
namespace {

void Prepare(OpContext& ctx) {
  const auto* o = ctx.op ? ctx.op->builtin_options_as_AddOptions() : nullptr;
  PrepareBinary(ctx, BinaryKind::kAdd, o ? o->fused_activation_function() : tflite::ActivationFunctionType::NONE);
}

// Integer ADD runs the optimised twin (kernels/optimized/add.h), bit-exact with ref::AddInt8/Uint8.
void Eval(OpContext& ctx) {
  EvalBinary(
      ctx,
      [&](const auto& p, const auto& s, const float* a, const float* b, float* o) {
        kernels::optimized::BinaryFloat(kernels::optimized::BinaryFloatOp::kAdd, p, s, a, b, o, ctx.pool);
      },
      [&](const auto& p, const auto& s, const int8_t* a, const int8_t* b, int8_t* o) {
        kernels::optimized::AddInt8(p, s, a, b, o, ctx.pool);
      },
      [&](const auto& p, const auto& s, const uint8_t* a, const uint8_t* b, uint8_t* o) {
        kernels::optimized::AddUint8(p, s, a, b, o, ctx.pool);
      });
}

}  // namespace

OpRegistration Register_ADD() { return MakeRegistration<BinaryOpData>("ADD", Prepare, Eval); }

}  // namespace qat::lite::ops
