// SQUEEZE: removes size-1 dims (all of them, or SqueezeOptions.squeeze_dims). A copy.
#include <cstring>

#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {};

void Prepare(OpContext& ctx) {
  CheckArity(ctx, 1, 1);
  const LiteTensor& in = ctx.in(0);
  CheckType(ctx, ctx.out(0), in.type, "output");
  const int rank = (int)in.dims.size();
  std::vector<bool> drop(rank, false);
  const auto* o = ctx.op ? ctx.op->builtin_options_as_SqueezeOptions() : nullptr;
  if (o && o->squeeze_dims() && o->squeeze_dims()->size() > 0) {
    for (int a : *o->squeeze_dims()) {
      if (a < -rank || a >= rank) ctx.fail("squeeze dim {} out of range for rank {}", a, rank);
      const int ax = a < 0 ? a + rank : a;
      if (in.dims[ax] != 1) ctx.fail("cannot squeeze dim {} of size {}", ax, in.dims[ax]);
      drop[ax] = true;
    }
  } else {
    for (int i = 0; i < rank; ++i) drop[i] = in.dims[i] == 1;
  }
  std::vector<int32_t> out_dims;
  for (int i = 0; i < rank; ++i)
    if (!drop[i]) out_dims.push_back(in.dims[i]);
  ResizeOutput(ctx, 0, out_dims);
}

void Eval(OpContext& ctx) {
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  if (out.data != in.data) std::memcpy(out.data, in.data, (size_t)in.num_elements() * dtype_size(in.type));
}

}  // namespace

OpRegistration Register_SQUEEZE() { return MakeRegistration<OpData>("SQUEEZE", Prepare, Eval); }

}  // namespace qat::lite::ops
