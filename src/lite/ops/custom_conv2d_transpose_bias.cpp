// MediaPipe's custom op "Convolution2DTransposeBias" (mediapipe/util/tflite/operations/
// transpose_conv_bias.cc), float32 only, shown here as an example of qat's custom-op API.
//   inputs:  0 input NHWC, 1 weights OHWI, 2 bias [O]
//   options: custom_options = the raw bytes of TFLite's C struct TfLiteTransposeConvParams
//            { int32 padding (TfLitePadding: 1 SAME, 2 VALID); int32 stride_width;
//              int32 stride_height; } (12 bytes, little endian)
//   output:  [N, sh*(H-1) + fh - pad_h, sw*(W-1) + fw - pad_w, O] where, for SAME,
//            pad = max(0, f - (in - 1) % s - 1) and the leading padding is pad / 2.
#include <cstring>

#include "kernels/optimized/transpose_conv_float.h"
#include "kernels/reference/conv.h"
#include "kernels/reference/transpose_conv_bias.h"
#include "lite/ops/mediapipe_ops.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::ConvParams params;
};

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  CheckArity(ctx, 3, 3);
  const LiteTensor& in = ctx.in(0);
  const LiteTensor& w = ctx.in(1);
  const LiteTensor& bias = ctx.in(2);
  CheckRank(ctx, in, 4, "input");
  CheckRank(ctx, w, 4, "weights");
  for (const LiteTensor* t : {&in, &w, &bias}) CheckType(ctx, *t, DType::kFloat32, "input");
  CheckType(ctx, ctx.out(0), DType::kFloat32, "output");
  if (w.dims[3] != in.dims[3]) ctx.fail("weights '{}' have {} input channels, input has {}", w.name, w.dims[3], in.dims[3]);
  if (bias.num_elements() != w.dims[0]) ctx.fail("bias '{}' must have {} elements", bias.name, w.dims[0]);
  const auto* opts = ctx.op ? ctx.op->custom_options() : nullptr;
  if (!opts || opts->size() < 12) ctx.fail("custom options must hold TfLiteTransposeConvParams (12 bytes)");
  int32_t raw[3];
  std::memcpy(raw, opts->data(), 12);
  const int32_t padding = raw[0], stride_w = raw[1], stride_h = raw[2];
  if (stride_w <= 0 || stride_h <= 0) ctx.fail("strides must be positive, got {}x{}", stride_h, stride_w);
  if (padding != 1 && padding != 2) ctx.fail("unknown padding {}", padding);
  ref::ConvParams& p = d.params;
  p = ref::ConvParams{};
  p.batches = in.dims[0];
  p.input_h = in.dims[1];
  p.input_w = in.dims[2];
  p.input_c = in.dims[3];
  p.output_c = w.dims[0];
  p.filter_h = w.dims[1];
  p.filter_w = w.dims[2];
  p.stride_h = stride_h;
  p.stride_w = stride_w;
  int pad_h = 0, pad_w = 0;
  if (padding == 1) {
    pad_h = std::max(0, p.filter_h - (p.input_h - 1) % stride_h - 1);
    pad_w = std::max(0, p.filter_w - (p.input_w - 1) % stride_w - 1);
  }
  p.output_h = stride_h * (p.input_h - 1) + p.filter_h - pad_h;
  p.output_w = stride_w * (p.input_w - 1) + p.filter_w - pad_w;
  p.pad_top = pad_h / 2;
  p.pad_left = pad_w / 2;
  ResizeOutput(ctx, 0, {p.batches, p.output_h, p.output_w, p.output_c});
  ctx.scratch_bytes = kernels::optimized::TransposeConvFloatScratchBytes(p, ctx.pool);
}

void Eval(OpContext& ctx) {
  const auto& p = Data<OpData>(ctx).params;
  kernels::optimized::TransposeConvBiasFloat(p, ctx.in(0).as<float>(), ctx.in(1).as<float>(), ctx.in(2).as<float>(),
                                             ctx.out(0).as<float>(), ctx.scratch, ctx.pool);
}

}  // namespace

OpRegistration Register_Convolution2DTransposeBias() {
  return MakeRegistration<OpData>("Convolution2DTransposeBias", Prepare, Eval);
}

}  // namespace qat::lite::ops

namespace qat::lite {
void RegisterMediaPipeOps(OpResolver& resolver) {
  resolver.AddCustom("Convolution2DTransposeBias", ops::Register_Convolution2DTransposeBias());
}
}  // namespace qat::lite
