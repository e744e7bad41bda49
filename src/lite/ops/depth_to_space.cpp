// DEPTH_TO_SPACE: DepthToSpaceOptions.block_size; any element type (a permutation).
#include "kernels/reference/depth_to_space.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::DepthToSpaceParams params;
};

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  CheckArity(ctx, 1, 1);
  const LiteTensor& in = ctx.in(0);
  CheckRank(ctx, in, 4, "input");
  CheckType(ctx, ctx.out(0), in.type, "output");
  const auto* o = ctx.op ? ctx.op->builtin_options_as_DepthToSpaceOptions() : nullptr;
  const int bs = o ? o->block_size() : 0;
  if (bs <= 0) ctx.fail("block_size must be positive, got {}", bs);
  if (in.dims[3] % (bs * bs) != 0) ctx.fail("channels {} not divisible by block_size^2 = {}", in.dims[3], bs * bs);
  d.params = {in.dims[0], in.dims[1], in.dims[2], in.dims[3], bs};
  ResizeOutput(ctx, 0, {in.dims[0], in.dims[1] * bs, in.dims[2] * bs, in.dims[3] / (bs * bs)});
}

void Eval(OpContext& ctx) {
  ref::DepthToSpace(Data<OpData>(ctx).params, ctx.in(0).data, ctx.out(0).data, dtype_size(ctx.in(0).type));
}

}  // namespace

OpRegistration Register_DEPTH_TO_SPACE() { return MakeRegistration<OpData>("DEPTH_TO_SPACE", Prepare, Eval); }

}  // namespace qat::lite::ops
