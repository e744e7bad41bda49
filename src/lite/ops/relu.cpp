// RELU: max(x, 0). Quantized: TFLite's fixed-point ReluX as a table (activations.h).
#include "kernels/optimized/elementwise_float.h"
#include "lite/ops/unary_common.h"

namespace qat::lite::ops {
namespace {

void Prepare(OpContext& ctx) {
  PrepareUnary(ctx, [](bool i8, float si, int32_t zi, float so, int32_t zo, kernels::RequantMode) {
    return ref::MakeReluXTable(i8, si, zi, so, zo, 0.f, INFINITY);
  });
}
void Eval(OpContext& ctx) {
  EvalUnary(ctx, [&](int64_t n, const float* x, float* y) {
    kernels::optimized::ClampFloat(n, x, y, 0.f, INFINITY, nullptr);  // EvalUnary splits over the pool
  });
}

}  // namespace

OpRegistration Register_RELU() { return MakeRegistration<UnaryOpData>("RELU", Prepare, Eval); }

}  // namespace qat::lite::ops
