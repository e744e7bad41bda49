// DEQUANTIZE: float16 (exact widening), int8, uint8, int16 (per-tensor or per-channel) -> float32.
// MediaPipe models store their weights as float16 constants behind DEQUANTIZE.
#include "kernels/reference/dequantize.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::DequantizeParams params;
  std::vector<float> scales;
  std::vector<int64_t> zero_points;
};

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  CheckArity(ctx, 1, 1);
  const LiteTensor& in = ctx.in(0);
  CheckType(ctx, ctx.out(0), DType::kFloat32, "output");
  ResizeOutput(ctx, 0, in.dims);
  if (in.type == DType::kFloat16) return;
  if (!Is8Bit(in.type) && in.type != DType::kInt16)
    ctx.fail("input '{}' type {} is not supported", in.name, TypeName(in.type));
  d.scales = in.quant.scale;
  if (d.scales.empty()) ctx.fail("input '{}' has no quantization parameters", in.name);
  d.zero_points = in.quant.zero_point;
  d.zero_points.resize(d.scales.size(), d.zero_points.empty() ? 0 : d.zero_points[0]);
  d.params = ref::DequantizeParams{};
  d.params.scales = d.scales.data();
  d.params.zero_points = d.zero_points.data();
  d.params.count = (int)d.scales.size();
  if (d.params.count > 1) {
    const int qd = in.quant.quantized_dimension;
    if (qd < 0 || qd >= (int)in.dims.size() || in.dims[qd] != d.params.count)
      ctx.fail("input '{}': {} scales do not match quantized dimension {}", in.name, d.params.count, qd);
    for (int k = qd + 1; k < (int)in.dims.size(); ++k) d.params.inner *= in.dims[k];
  }
}

void Eval(OpContext& ctx) {
  const auto& p = Data<OpData>(ctx).params;
  const LiteTensor& in = ctx.in(0);
  float* out = ctx.out(0).as<float>();
  const int64_t n = in.num_elements();
  switch (in.type) {
    case DType::kFloat16: ref::DequantizeFloat16(n, in.as<uint16_t>(), out); break;
    case DType::kInt8: ref::DequantizeInt8(p, n, in.as<int8_t>(), out); break;
    case DType::kUInt8: ref::DequantizeUint8(p, n, in.as<uint8_t>(), out); break;
    default: ref::DequantizeInt16(p, n, in.as<int16_t>(), out); break;
  }
}

}  // namespace

OpRegistration Register_DEQUANTIZE() { return MakeRegistration<OpData>("DEQUANTIZE", Prepare, Eval); }

}  // namespace qat::lite::ops
