// TANH: tanh(x). Quantized: a table of the float function, rounded per the requantization mode.
#include "lite/ops/unary_common.h"

namespace qat::lite::ops {
namespace {

void Prepare(OpContext& ctx) { PrepareUnary(ctx, ref::MakeTanhTable); }
void Eval(OpContext& ctx) { EvalUnary(ctx, ref::TanhFloat); }

}  // namespace

OpRegistration Register_TANH() { return MakeRegistration<UnaryOpData>("TANH", Prepare, Eval); }

}  // namespace qat::lite::ops
