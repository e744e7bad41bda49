// DEQUANTIZE: float16 (exact widening), int8, uint8, int16 (per-tensor or per-channel) -> float32.
// MediaPipe models store their weights as float16 constants behind DEQUANTIZE.
// A constant input is resolved once, in prepare: the output becomes a constant (is_const) backed
// by the op's own buffer, so the ops that read it (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED)
// see constant float weights and pack them once; eval then has nothing to do.
#include "kernels/reference/dequantize.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  ref::DequantizeParams params;
  std::vector<float> scales;
  std::vector<int64_t> zero_points;
  std::vector<float> resolved;  // constant input: the output's values, computed in prepare
  bool constant = false;
};

void Compute(const OpData& d, const LiteTensor& in, float* out) {
  const int64_t n = in.num_elements();
  switch (in.type) {
    case DType::kFloat16: ref::DequantizeFloat16(n, in.as<uint16_t>(), out); break;
    case DType::kInt8: ref::DequantizeInt8(d.params, n, in.as<int8_t>(), out); break;
    case DType::kUInt8: ref::DequantizeUint8(d.params, n, in.as<uint8_t>(), out); break;
    default: ref::DequantizeInt16(d.params, n, in.as<int16_t>(), out); break;
  }
}

// A constant input: compute the output now into d.resolved and make the output a constant.
void Resolve(OpContext& ctx, OpData& d) {
  const LiteTensor& in = ctx.in(0);
  LiteTensor& out = ctx.out(0);
  d.constant = false;
  if (!in.is_const || !in.data || out.is_variable) return;
  if (out.is_const && out.data != d.resolved.data()) return;  // a model constant: leave it alone
  d.resolved.assign((size_t)in.num_elements(), 0.f);
  Compute(d, in, d.resolved.data());
  out.data = d.resolved.data();
  out.bytes = d.resolved.size() * sizeof(float);
  out.is_const = true;
  d.constant = true;
}

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  CheckArity(ctx, 1, 1);
  const LiteTensor& in = ctx.in(0);
  CheckType(ctx, ctx.out(0), DType::kFloat32, "output");
  ResizeOutput(ctx, 0, in.dims);
  if (in.type == DType::kFloat16) return Resolve(ctx, d);
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
  Resolve(ctx, d);
}

void Eval(OpContext& ctx) {
  const auto& d = Data<OpData>(ctx);
  if (d.constant) return;  // resolved in prepare
  Compute(d, ctx.in(0), ctx.out(0).as<float>());
}

}  // namespace

OpRegistration Register_DEQUANTIZE() { return MakeRegistration<OpData>("DEQUANTIZE", Prepare, Eval); }

}  // namespace qat::lite::ops
