// RELU6: min(max(x, 0), 6). Quantized: TFLite's fixed-point ReluX as a table (activations.h).
#include "kernels/optimized/elementwise_float.h"
#include "lite/ops/unary_common.h"

namespace qat::lite::ops {
namespace {

void Prepare(OpContext& ctx) {
  PrepareUnary(ctx, [](bool i8, float si, int32_t zi, float so, int32_t zo, kernels::RequantMode) {
    return ref::MakeReluXTable(i8, si, zi, so, zo, 0.f, 6.f);
  });
}
void Eval(OpContext& ctx) {
  EvalUnary(ctx, [&](int64_t n, const float* x, float* y) {
    kernels::optimized::ClampFloat(n, x, y, 0.f, 6.f, nullptr);  // EvalUnary splits over the pool
  });
}

}  // namespace

OpRegistration Register_RELU6() { return MakeRegistration<UnaryOpData>("RELU6", Prepare, Eval); }

}  // namespace qat::lite::ops
