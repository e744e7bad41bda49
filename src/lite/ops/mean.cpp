// MEAN: inputs (input, constant int32 axes), ReducerOptions (keep_dims). Negative axes count from
// the end; repeated axes are ignored. Integer algorithm selection follows TFLite 2.2 (mean.h):
// the 4-D keep_dims mean over {1, 2} uses the fixed-point multiplier path, otherwise equal
// input/output parameters give the integer mean, otherwise the float rescale.
#include "kernels/optimized/mean_float.h"
#include "kernels/reference/mean.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::MeanParams params;
};

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  CheckArity(ctx, 2, 2);
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  CheckType(ctx, out, in.type, "output");
  const auto* o = ctx.op ? ctx.op->builtin_options_as_ReducerOptions() : nullptr;
  const bool keep_dims = o && o->keep_dims();
  const int rank = (int)in.dims.size();
  if (rank > ref::kMaxBroadcastRank) ctx.fail("rank {} > {}", rank, ref::kMaxBroadcastRank);
  ref::MeanParams& p = d.params;
  p = ref::MeanParams{};
  p.rank = rank;
  for (int i = 0; i < rank; ++i) p.dims[i] = in.dims[i];
  for (int64_t a : ConstInts(ctx, ctx.in(1), "axis")) {
    if (a < -rank || a >= rank) ctx.fail("axis {} out of range for rank {}", a, rank);
    p.reduce[a < 0 ? a + rank : a] = true;
  }
  std::vector<int32_t> out_dims;
  for (int i = 0; i < rank; ++i) {
    if (!p.reduce[i])
      out_dims.push_back(in.dims[i]);
    else if (keep_dims)
      out_dims.push_back(1);
  }
  ResizeOutput(ctx, 0, out_dims);
  if (p.reduced_count() == 0) ctx.fail("mean over an empty axis");
  if (in.type == DType::kFloat32) return;
  if (!Is8Bit(in.type)) ctx.fail("input '{}' type {} is not supported", in.name, TypeName(in.type));
  p.input_zp = ZeroPoint(in);
  p.output_zp = ZeroPoint(out);
  p.input_scale = Scale(ctx, in);
  p.output_scale = Scale(ctx, out);
  const bool spatial = keep_dims && rank == 4 && p.reduce[1] && p.reduce[2] && !p.reduce[0] && !p.reduce[3];
  if (spatial) {
    p.algo = ref::MeanParams::Algo::kSpatialMultiplier;
    kernels::QuantizeMultiplier((double)p.input_scale / (double)p.output_scale, &p.multiplier.multiplier,
                                &p.multiplier.shift);
  } else if (p.input_scale == p.output_scale && p.input_zp == p.output_zp) {
    p.algo = ref::MeanParams::Algo::kSameParams;
  } else {
    p.algo = ref::MeanParams::Algo::kFloatRescale;
    p.legacy_half_bias = ctx.requant == kernels::RequantMode::kTflite;
  }
  ctx.scratch_bytes = (size_t)p.output_size() * sizeof(int32_t);
}

void Eval(OpContext& ctx) {
  const auto& p = Data<OpData>(ctx).params;
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  auto* scratch = static_cast<int32_t*>(ctx.scratch);
  switch (in.type) {
    case DType::kFloat32: kernels::optimized::MeanFloat(p, in.as<float>(), out.as<float>(), ctx.pool); break;
    case DType::kInt8: ref::MeanInt8(p, in.as<int8_t>(), out.as<int8_t>(), scratch); break;
    default: ref::MeanUint8(p, in.as<uint8_t>(), out.as<uint8_t>(), scratch); break;
  }
}

}  // namespace

OpRegistration Register_MEAN() { return MakeRegistration<OpData>("MEAN", Prepare, Eval); }

}  // namespace qat::lite::ops
