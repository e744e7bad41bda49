// What AVERAGE_POOL_2D and MAX_POOL_2D share: the Prepare (Pool2DOptions: window, strides,
// padding, output shape, clamps), the OpData and the Eval's switch over the input type. An op file
// only names its three kernels (MakePoolRegistration).
#pragma once
#include "lite/ops/op_common.h"

namespace qat {
class ThreadPool;
}

namespace qat::lite::ops {

inline void PreparePool(OpContext& ctx, ref::PoolParams* p) {
  CheckArity(ctx, 1, 1);
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  CheckRank(ctx, in, 4, "input");
  const auto* o = ctx.op ? ctx.op->builtin_options_as_Pool2DOptions() : nullptr;
  if (!o) ctx.fail("missing Pool2DOptions");
  if (o->stride_h() <= 0 || o->stride_w() <= 0 || o->filter_height() <= 0 || o->filter_width() <= 0)
    ctx.fail("strides and filter sizes must be positive");
  *p = ref::PoolParams{};
  p->batches = in.dims[0];
  p->input_h = in.dims[1];
  p->input_w = in.dims[2];
  p->channels = in.dims[3];
  for (int v : {p->batches, p->input_h, p->input_w, p->channels})
    if (v <= 0) ctx.fail("input '{}' must have positive dimensions", in.name);
  p->filter_h = o->filter_height();
  p->filter_w = o->filter_width();
  p->stride_h = o->stride_h();
  p->stride_w = o->stride_w();
  const ref::Padding pad = ToPadding(o->padding());
  ref::ComputePadding(pad, p->input_h, p->filter_h, p->stride_h, 1, &p->output_h, &p->pad_top);
  ref::ComputePadding(pad, p->input_w, p->filter_w, p->stride_w, 1, &p->output_w, &p->pad_left);
  ResizeOutput(ctx, 0, {p->batches, p->output_h, p->output_w, p->channels});
  CheckType(ctx, out, in.type, "output");
  const ref::Activation act = ToActivation(o->fused_activation_function());
  if (in.type == DType::kFloat32) {
    p->float_act = FloatActivationRange(ctx, act);
  } else if (Is8Bit(in.type)) {
    // Pooling keeps the quantization: the output must share the input's scale and zero point.
    if (Scale(ctx, in) != Scale(ctx, out) || ZeroPoint(in) != ZeroPoint(out))
      ctx.fail("output '{}' must have the input's scale and zero point", out.name);
    QuantizedActivationRange(ctx, act, out, &p->act_min, &p->act_max);
  } else {
    ctx.fail("input '{}' type {} is not supported", in.name, TypeName(in.type));
  }
}

struct PoolData {
  ref::PoolParams params;
};

// Kernels: a struct with static Float, Int8 and Uint8 functions
// (const ref::PoolParams&, const T* input, T* output, ThreadPool*).
template <class Kernels>
void EvalPool(OpContext& ctx) {
  const auto& p = Data<PoolData>(ctx).params;
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  switch (in.type) {
    case DType::kFloat32: Kernels::Float(p, in.as<float>(), out.as<float>(), ctx.pool); break;
    case DType::kInt8: Kernels::Int8(p, in.as<int8_t>(), out.as<int8_t>(), ctx.pool); break;
    default: Kernels::Uint8(p, in.as<uint8_t>(), out.as<uint8_t>(), ctx.pool); break;  // PreparePool checked
  }
}

template <class Kernels>
OpRegistration MakePoolRegistration(const char* name) {
  return MakeRegistration<PoolData>(
      name, [](OpContext& ctx) { PreparePool(ctx, &Data<PoolData>(ctx).params); }, &EvalPool<Kernels>);
}

}  // namespace qat::lite::ops
