// Shared glue of the element-wise activations (RELU, RELU6, LOGISTIC, TANH, HARD_SWISH): one
// input, same shape out; float32 calls the float kernel, int8/uint8 look up a table built here.
#pragma once
#include "kernels/optimized/parallel.h"
#include "kernels/reference/activations.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {

struct UnaryOpData {
  ref::LookupTable table;
};

// make_table(is_int8, s_in, z_in, s_out, z_out, mode) -> LookupTable
template <class MakeTable>
void PrepareUnary(OpContext& ctx, MakeTable make_table) {
  CheckArity(ctx, 1, 1);
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  CheckType(ctx, out, in.type, "output");
  ResizeOutput(ctx, 0, in.dims);
  if (in.type == DType::kFloat32) return;
  if (!Is8Bit(in.type)) ctx.fail("input '{}' type {} is not supported", in.name, TypeName(in.type));
  Data<UnaryOpData>(ctx).table = make_table(in.type == DType::kInt8, Scale(ctx, in), ZeroPoint(in), Scale(ctx, out),
                                            ZeroPoint(out), ctx.requant);
}

template <class FloatFn>
void EvalUnary(OpContext& ctx, FloatFn float_fn) {
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  const int64_t n = in.num_elements();
  switch (in.type) {
    case DType::kFloat32: {
      // Element by element, so pieces on the pool's threads give the same values (LOGISTIC /
      // TANH's std::exp per value cost ~5-10 ns: selfie_segmentation's LOGISTIC layers 12 % of
      // its time on one thread).
      const float* x = in.as<float>();
      float* y = out.as<float>();
      kernels::optimized::ParallelFor(ctx.pool, n, kernels::optimized::kElementwiseGrain,
                                      [&](int64_t b, int64_t e) { float_fn(e - b, x + b, y + b); });
      break;
    }
    case DType::kInt8: ref::LookupTableInt8(Data<UnaryOpData>(ctx).table, n, in.as<int8_t>(), out.as<int8_t>()); break;
    default: ref::LookupTableUint8(Data<UnaryOpData>(ctx).table, n, in.as<uint8_t>(), out.as<uint8_t>()); break;
  }
}

}  // namespace qat::lite::ops
