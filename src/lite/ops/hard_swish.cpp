// HARD_SWISH: x * relu6(x + 3) / 6. Quantized: a table of the float function, rounded per the requantization mode.
#include "kernels/optimized/elementwise_float.h"
#include "lite/ops/unary_common.h"

namespace qat::lite::ops {
namespace {

void Prepare(OpContext& ctx) { PrepareUnary(ctx, ref::MakeHardSwishTable); }
void Eval(OpContext& ctx) {
  // EvalUnary splits over the pool.
  EvalUnary(ctx, [](int64_t n, const float* x, float* y) { kernels::optimized::HardSwishFloat(n, x, y, nullptr); });
}

}  // namespace

OpRegistration Register_HARD_SWISH() { return MakeRegistration<UnaryOpData>("HARD_SWISH", Prepare, Eval); }

}  // namespace qat::lite::ops
