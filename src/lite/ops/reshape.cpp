// RESHAPE: the new shape comes from the second input (a constant int32 tensor) when present,
// else from ReshapeOptions.new_shape; one dimension may be -1. Data are copied unchanged
// (quantized tensors keep their parameters).
//
// Batch resize: a model converted at a fixed batch often stores its flatten as a constant shape
// such as [1, 1024] where TFLite's converter would write [-1, 1024] for a dynamic batch. After
// Interpreter::ResizeInputTensor changes the batch, such a shape no longer matches the element
// count. When (and only when) that happens, the leading dimension of the shape is taken as the
// batch and set to the input's leading dimension, provided the remaining dimensions then account
// for every element exactly (the input's dims[0] * rest == elements). A shape that fits is never
// changed, so models TFLite runs are read exactly as TFLite reads them.
#include <cstring>

#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {};

void Prepare(OpContext& ctx) {
  CheckArity(ctx, 1, 2);
  const LiteTensor& in = ctx.in(0);
  CheckType(ctx, ctx.out(0), in.type, "output");
  std::vector<int64_t> shape;
  bool have = false;
  if (HasInput(ctx, 1) && ctx.in(1).data != nullptr) {
    shape = ConstInts(ctx, ctx.in(1), "shape");
    have = true;
    // A [1]-shaped shape tensor holding 0 elements' worth means "scalar"; nothing special here.
  } else if (const auto* o = ctx.op ? ctx.op->builtin_options_as_ReshapeOptions() : nullptr;
             o && o->new_shape()) {
    for (int v : *o->new_shape()) shape.push_back(v);
    have = true;
  }
  if (!have) {
    // No shape given: keep the output's model shape (it must match the element count).
    shape.assign(ctx.out(0).dims.begin(), ctx.out(0).dims.end());
  }
  const int64_t n = in.num_elements();
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0) ctx.fail("more than one -1 in the new shape");
      infer = (int)i;
    } else if (shape[i] < 0) {
      ctx.fail("invalid dimension {} in the new shape", shape[i]);
    } else {
      known *= shape[i];
    }
  }
  if (infer < 0 && known != n && !shape.empty() && shape[0] > 0 && !in.dims.empty() && in.dims[0] > 0) {
    const int64_t rest = known / shape[0];
    if (rest > 0 && rest * in.dims[0] == n) {
      shape[0] = in.dims[0];
      known = n;
    }
  }
  if (infer >= 0) {
    if (known == 0 || n % known != 0) ctx.fail("cannot infer -1: {} elements into {}", n, known);
    shape[infer] = n / known;
    known = n;
  }
  if (known != n) ctx.fail("cannot reshape '{}' ({} elements) to {} elements", in.name, n, known);
  ResizeOutput(ctx, 0, std::vector<int32_t>(shape.begin(), shape.end()));
}

void Eval(OpContext& ctx) {
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  if (out.data != in.data) std::memcpy(out.data, in.data, (size_t)in.num_elements() * dtype_size(in.type));
}

}  // namespace

OpRegistration Register_RESHAPE() { return MakeRegistration<OpData>("RESHAPE", Prepare, Eval); }

}  // namespace qat::lite::ops
