// RESIZE_BILINEAR: inputs (input NHWC, constant int32 size [2] = {new_h, new_w}),
// ResizeBilinearOptions (align_corners, half_pixel_centers). float32, int8, uint8 (same
// quantization in and out).
#include "kernels/optimized/resize_bilinear_float.h"
#include "kernels/reference/resize_bilinear.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::ResizeBilinearParams params;
};

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  CheckArity(ctx, 2, 2);
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  CheckRank(ctx, in, 4, "input");
  CheckType(ctx, out, in.type, "output");
  const auto size = ConstInts(ctx, ctx.in(1), "size");
  if (size.size() != 2 || size[0] <= 0 || size[1] <= 0) ctx.fail("size must hold two positive values");
  const auto* o = ctx.op ? ctx.op->builtin_options_as_ResizeBilinearOptions() : nullptr;
  ref::ResizeBilinearParams& p = d.params;
  p = ref::ResizeBilinearParams{};
  p.batches = in.dims[0];
  p.input_h = in.dims[1];
  p.input_w = in.dims[2];
  p.channels = in.dims[3];
  p.output_h = (int)size[0];
  p.output_w = (int)size[1];
  p.align_corners = o && o->align_corners();
  p.half_pixel_centers = o && o->half_pixel_centers();
  p.mode = ctx.requant;
  if (p.align_corners && p.half_pixel_centers) ctx.fail("align_corners and half_pixel_centers are exclusive");
  ResizeOutput(ctx, 0, {p.batches, p.output_h, p.output_w, p.channels});
  if (Is8Bit(in.type)) {
    if (Scale(ctx, in) != Scale(ctx, out) || ZeroPoint(in) != ZeroPoint(out))
      ctx.fail("output '{}' must have the input's scale and zero point", out.name);
  } else if (in.type != DType::kFloat32) {
    ctx.fail("input '{}' type {} is not supported", in.name, TypeName(in.type));
  }
}

void Eval(OpContext& ctx) {
  const auto& p = Data<OpData>(ctx).params;
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  switch (in.type) {
    case DType::kFloat32: kernels::optimized::ResizeBilinearFloat(p, in.as<float>(), out.as<float>(), ctx.pool); break;
    case DType::kInt8: ref::ResizeBilinearInt8(p, in.as<int8_t>(), out.as<int8_t>()); break;
    default: ref::ResizeBilinearUint8(p, in.as<uint8_t>(), out.as<uint8_t>()); break;
  }
}

}  // namespace

OpRegistration Register_RESIZE_BILINEAR() { return MakeRegistration<OpData>("RESIZE_BILINEAR", Prepare, Eval); }

}  // namespace qat::lite::ops
