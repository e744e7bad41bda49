// PAD: inputs (input, constant paddings [rank, 2] int32/int64). The border holds the real value 0:
// 0.f for float, the zero point for quantized tensors (TFLite's PAD; PADV2 is not supported).
#include <cstring>

#include "kernels/optimized/pad.h"
#include "kernels/reference/pad.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::PadParams params;
  uint8_t pad_value[8] = {};
  size_t elem_size = 4;
};

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  CheckArity(ctx, 2, 2);
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  CheckType(ctx, out, in.type, "output");
  const int rank = (int)in.dims.size();
  if (rank > ref::kMaxBroadcastRank) ctx.fail("rank {} > {}", rank, ref::kMaxBroadcastRank);
  const auto pads = ConstInts(ctx, ctx.in(1), "paddings");
  if ((int)pads.size() != 2 * rank) ctx.fail("paddings must be [{}, 2], got {} values", rank, pads.size());
  ref::PadParams& p = d.params;
  p = ref::PadParams{};
  p.rank = rank;
  std::vector<int32_t> out_dims(rank);
  for (int i = 0; i < rank; ++i) {
    if (pads[2 * i] < 0 || pads[2 * i + 1] < 0) ctx.fail("negative padding on axis {}", i);
    p.input_dims[i] = in.dims[i];
    p.before[i] = (int)pads[2 * i];
    p.after[i] = (int)pads[2 * i + 1];
    out_dims[i] = in.dims[i] + p.before[i] + p.after[i];
  }
  ResizeOutput(ctx, 0, out_dims);
  d.elem_size = dtype_size(in.type);
  std::fill(std::begin(d.pad_value), std::end(d.pad_value), 0);
  if (in.type == DType::kInt8) {
    d.pad_value[0] = (uint8_t)(int8_t)ZeroPoint(out);
  } else if (in.type == DType::kUInt8) {
    d.pad_value[0] = (uint8_t)ZeroPoint(out);
  } else if (in.type == DType::kInt16) {
    const int16_t z = (int16_t)ZeroPoint(out);
    std::memcpy(d.pad_value, &z, 2);
  }
}

void Eval(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  kernels::optimized::Pad(d.params, ctx.in(0).data, ctx.out(0).data, d.elem_size, d.pad_value, ctx.pool);
}

}  // namespace

OpRegistration Register_PAD() { return MakeRegistration<OpData>("PAD", Prepare, Eval); }

}  // namespace qat::lite::ops
