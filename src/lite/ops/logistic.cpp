// LOGISTIC: 1 / (1 + exp(-x)). Quantized: a table of the float function, rounded per the requantization mode.
#include "lite/ops/unary_common.h"

namespace qat::lite::ops {
namespace {

void Prepare(OpContext& ctx) { PrepareUnary(ctx, ref::MakeLogisticTable); }
void Eval(OpContext& ctx) { EvalUnary(ctx, ref::LogisticFloat); }

}  // namespace

OpRegistration Register_LOGISTIC() { return MakeRegistration<UnaryOpData>("LOGISTIC", Prepare, Eval); }

}  // namespace qat::lite::ops
