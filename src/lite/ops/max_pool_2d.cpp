// MAX_POOL_2D (float32, int8, uint8).
#include "kernels/reference/max_pool.h"
#include "kernels/optimized/pooling.h"
#include "lite/ops/pool_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::PoolParams params;
};

void Prepare(OpContext& ctx) { PreparePool(ctx, &Data<OpData>(ctx).params); }

void Eval(OpContext& ctx) {
  const auto& p = Data<OpData>(ctx).params;
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  switch (in.type) {
    case DType::kFloat32: ref::MaxPoolFloat(p, in.as<float>(), out.as<float>()); break;
    case DType::kInt8: kernels::optimized::MaxPoolInt8(p, in.as<int8_t>(), out.as<int8_t>(), ctx.pool); break;
    default: kernels::optimized::MaxPoolUint8(p, in.as<uint8_t>(), out.as<uint8_t>(), ctx.pool); break;
  }
}

}  // namespace

OpRegistration Register_MAX_POOL_2D() { return MakeRegistration<OpData>("MAX_POOL_2D", Prepare, Eval); }

}  // namespace qat::lite::ops
