// PrepareWeights (quantized_prepare.h): the type and quantization set-up of CONV_2D,
// DEPTHWISE_CONV_2D and FULLY_CONNECTED.
#include "lite/ops/quantized_prepare.h"

namespace qat::lite::ops {

WeightsSetup PrepareWeights(const OpContext& ctx, const LiteTensor& in, const LiteTensor& w, const LiteTensor* bias,
                            const LiteTensor& out, ref::Activation act, int channels, const WeightsSpec& spec,
                            OutputStage* stage) {
  WeightsSetup r;
  *stage = OutputStage{};
  const auto& ws = w.quant.scale;
  auto check_scale_count = [&] {
    if (ws.size() != 1 && (int)ws.size() != channels)
      ctx.fail("{} '{}': {} scales for {} {}", spec.noun, w.name, ws.size(), channels, spec.channels);
  };

  if (in.type == DType::kFloat32) {
    CheckType(ctx, out, DType::kFloat32, "output");
    stage->float_act = FloatActivationRange(ctx, act);
    if (bias) CheckType(ctx, *bias, DType::kFloat32, "bias");
    if (w.type == DType::kFloat32) {
      r.kind = WeightsKind::kFloat;
    } else if (w.type == DType::kInt8) {
      r.kind = WeightsKind::kHybrid;
      if (ws.empty()) ctx.fail("hybrid {} '{}' must be quantized", spec.noun, w.name);
      check_scale_count();
      r.hybrid_scales = ws;
    } else {
      ctx.fail("float input with {} {} '{}' is not supported", TypeName(w.type), spec.noun, w.name);
    }
    return r;
  }

  if (!Is8Bit(in.type)) ctx.fail("input '{}' type {} is not supported", in.name, TypeName(in.type));
  CheckType(ctx, w, in.type, spec.noun);
  CheckType(ctx, out, in.type, "output");
  if (bias) CheckType(ctx, *bias, DType::kInt32, "bias");
  const float s_in = Scale(ctx, in), s_out = Scale(ctx, out);
  stage->input_offset = -ZeroPoint(in);
  stage->output_offset = ZeroPoint(out);
  QuantizedActivationRange(ctx, act, out, &stage->act_min, &stage->act_max);
  if (ws.empty()) ctx.fail("{} '{}' must be quantized", spec.noun, w.name);
  if (in.type == DType::kInt8) {
    r.kind = WeightsKind::kInt8;
    check_scale_count();
    for (auto z : w.quant.zero_point)
      if (z != 0) ctx.fail("int8 {} '{}' must be symmetric (zero point 0), got {}", spec.noun, w.name, z);
    if (ws.size() == 1 && spec.int8_per_tensor_single) {
      r.requant.push_back(kernels::MakeRequant(s_in, ws[0], s_out, /*tflite_float_product=*/true));
    } else {
      r.requant.resize(channels);
      for (int c = 0; c < channels; ++c) r.requant[c] = kernels::MakeRequant(s_in, ws.size() == 1 ? ws[0] : ws[c], s_out);
    }
  } else {
    r.kind = WeightsKind::kUint8;
    if (ws.size() != 1) ctx.fail("uint8 {} '{}' must be quantized per tensor", spec.noun, w.name);
    stage->filter_offset = -ZeroPoint(w);
    r.requant.push_back(kernels::MakeRequant(s_in, ws[0], s_out, /*tflite_float_product=*/true));
  }
  return r;
}

}  // namespace qat::lite::ops
