// Helpers shared by the op files of src/lite/ops/ (one op per file: init/prepare/eval glue that
// reads the flatbuffer options, checks types and shapes, computes everything the reference
// kernel's params need in prepare, and only calls the kernel in eval).
#pragma once
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "kernels/optimized/elementwise_float.h"
#include "kernels/quant_math.h"
#include "kernels/reference/types.h"
#include "lite/op_api.h"
#include "qat/tflite/schema_generated.h"

namespace qat::lite::ops {

namespace ref = qat::kernels::reference;

// OpData lifetime: init allocates one D per node, free deletes it.
template <class D>
void* InitData(OpContext&) {
  return new D();
}
template <class D>
void FreeData(void* p) {
  delete static_cast<D*>(p);
}
template <class D>
D& Data(const OpContext& ctx) {
  return *static_cast<D*>(ctx.user_data);
}
template <class D>
OpRegistration MakeRegistration(const char* name, void (*prepare)(OpContext&), void (*eval)(OpContext&)) {
  OpRegistration r;
  r.name = name;
  r.init = &InitData<D>;
  r.free = &FreeData<D>;
  r.prepare = prepare;
  r.eval = eval;
  return r;
}

inline ref::Activation ToActivation(tflite::ActivationFunctionType a) { return (ref::Activation)(uint8_t)a; }
inline ref::Padding ToPadding(tflite::Padding p) {
  return p == tflite::Padding::VALID ? ref::Padding::kValid : ref::Padding::kSame;
}

// Number of inputs/outputs.
inline void CheckArity(const OpContext& ctx, int min_inputs, int max_inputs, int outputs = 1) {
  // A fused ADD's residual and an absorbed expand's input are extra.
  const int n = (int)ctx.inputs.size() - (ctx.residual ? 1 : 0) - (ctx.expand ? 1 : 0);
  if (n < min_inputs || n > max_inputs)
    ctx.fail("expects {} to {} inputs, got {}", min_inputs, max_inputs, n);
  if ((int)ctx.outputs.size() != outputs) ctx.fail("expects {} output(s), got {}", outputs, ctx.outputs.size());
}
inline bool HasInput(const OpContext& ctx, int i) { return i < (int)ctx.inputs.size() && ctx.inputs[i] != nullptr; }

inline const char* TypeName(DType t) { return dtype_name(t); }
inline void CheckType(const OpContext& ctx, const LiteTensor& t, DType want, const char* what) {
  if (t.type != want)
    ctx.fail("{} '{}' must be {}, got {}", what, t.name, TypeName(want), TypeName(t.type));
}
inline void CheckRank(const OpContext& ctx, const LiteTensor& t, int rank, const char* what) {
  if ((int)t.dims.size() != rank) ctx.fail("{} '{}' must have rank {}, got {}", what, t.name, rank, t.dims.size());
}

// Per-tensor quantization parameters (throws if the tensor is not quantized).
inline float Scale(const OpContext& ctx, const LiteTensor& t) {
  if (!t.quant.quantized()) ctx.fail("tensor '{}' ({}) has no quantization parameters", t.name, TypeName(t.type));
  return t.quant.scale[0];
}
inline int32_t ZeroPoint(const LiteTensor& t) {
  return t.quant.zero_point.empty() ? 0 : (int32_t)t.quant.zero_point[0];
}
inline int32_t QMin(DType t) { return t == DType::kInt8 ? -128 : t == DType::kUInt8 ? 0 : -32768; }
inline int32_t QMax(DType t) { return t == DType::kInt8 ? 127 : t == DType::kUInt8 ? 255 : 32767; }
inline bool Is8Bit(DType t) { return t == DType::kInt8 || t == DType::kUInt8; }

// The output's clamp range for a fused activation, in the output's integer type.
inline void QuantizedActivationRange(const OpContext& ctx, ref::Activation act, const LiteTensor& out, int32_t* lo,
                                     int32_t* hi) {
  if (act == ref::Activation::kTanh || act == ref::Activation::kSignBit)
    ctx.fail("fused activation {} is not supported on quantized outputs", (int)act);
  ref::ActivationRangeQuantized(act, Scale(ctx, out), ZeroPoint(out), QMin(out.type), QMax(out.type), lo, hi);
}
inline ref::FloatRange FloatActivationRange(const OpContext& ctx, ref::Activation act) {
  if (act == ref::Activation::kTanh || act == ref::Activation::kSignBit)
    ctx.fail("fused activation {} is not supported", (int)act);
  ref::FloatRange r = ref::ActivationRangeFloat(act);
  r.min = std::max(r.min, ctx.fused_act_min);  // a RELU the interpreter fused into this node
  r.max = std::min(r.max, ctx.fused_act_max);
  return r;
}

// A fused float ADD (OpContext::residual): the residual must match the output exactly (the
// interpreter checked the model's shapes; an input resize may break that).
inline void CheckFusedResidual(const OpContext& ctx, const LiteTensor& out) {
  if (!ctx.residual) return;
  const LiteTensor& r = *ctx.residual;
  if (r.type != DType::kFloat32 || out.type != DType::kFloat32 || r.dims != out.dims)
    ctx.fail("fused ADD: residual '{}' ({} {}) does not match the output '{}' ({} {}); "
             "build the interpreter with fuse_activations = false (QAT_NO_FUSE=1)",
             r.name, TypeName(r.type), fmt::join(r.dims, "x"), out.name, TypeName(out.type), fmt::join(out.dims, "x"));
}
// The fused ADD of a float op as the optimised kernels take it (null: none).
inline kernels::optimized::FloatResidual FusedResidual(const OpContext& ctx) {
  kernels::optimized::FloatResidual res;
  if (ctx.residual) {
    res.data = ctx.residual->as<float>();
    res.first = ctx.residual_first;
    res.lo = ctx.residual_min;
    res.hi = ctx.residual_max;
  }
  return res;
}

inline void ResizeOutput(OpContext& ctx, int i, const std::vector<int32_t>& dims) {
  if (ctx.resize_output) {
    ctx.resize_output(i, dims);
  } else {
    ctx.out(i).dims = dims;
  }
}

// Values of a constant int32/int64 tensor (axes, paddings, shapes).
inline std::vector<int64_t> ConstInts(const OpContext& ctx, const LiteTensor& t, const char* what) {
  if (t.data == nullptr) ctx.fail("{} '{}' must be a constant tensor", what, t.name);
  std::vector<int64_t> v((size_t)t.num_elements());
  for (size_t i = 0; i < v.size(); ++i) {
    if (t.type == DType::kInt32)
      v[i] = t.as<int32_t>()[i];
    else if (t.type == DType::kInt64)
      v[i] = t.as<int64_t>()[i];
    else
      ctx.fail("{} '{}' must be int32 or int64, got {}", what, t.name, TypeName(t.type));
  }
  return v;
}

template <class Options>
const Options* OptionsOrNull(const OpContext& ctx, const Options* (tflite::Operator::*getter)() const) {
  return ctx.op ? (ctx.op->*getter)() : nullptr;
}

// Registrations of every builtin op file (register_builtins.cpp lists them).
#define QAT_DECLARE_OP(NAME) OpRegistration Register_##NAME();
QAT_DECLARE_OP(CONV_2D)
QAT_DECLARE_OP(DEPTHWISE_CONV_2D)
QAT_DECLARE_OP(FULLY_CONNECTED)
QAT_DECLARE_OP(ADD)
QAT_DECLARE_OP(SUB)
QAT_DECLARE_OP(MUL)
QAT_DECLARE_OP(AVERAGE_POOL_2D)
QAT_DECLARE_OP(MAX_POOL_2D)
QAT_DECLARE_OP(MEAN)
QAT_DECLARE_OP(PAD)
QAT_DECLARE_OP(RESHAPE)
QAT_DECLARE_OP(SQUEEZE)
QAT_DECLARE_OP(CONCATENATION)
QAT_DECLARE_OP(SOFTMAX)
QAT_DECLARE_OP(LOGISTIC)
QAT_DECLARE_OP(TANH)
QAT_DECLARE_OP(RELU)
QAT_DECLARE_OP(RELU6)
QAT_DECLARE_OP(HARD_SWISH)
QAT_DECLARE_OP(RESIZE_BILINEAR)
QAT_DECLARE_OP(DEPTH_TO_SPACE)
QAT_DECLARE_OP(QUANTIZE)
QAT_DECLARE_OP(DEQUANTIZE)
QAT_DECLARE_OP(DENSIFY)
#undef QAT_DECLARE_OP
OpRegistration Register_Convolution2DTransposeBias();

// The expand + depthwise fusion (interpreter.cpp, FuseFloatExpandDepthwise): whether a prepared
// DEPTHWISE_CONV_2D whose ctx.expand names a prepared CONV_2D can run the pair as one pass
// (both float with packed weights, the conv 1x1 stride 1 without padding and not narrow, the
// depthwise of depth multiplier 1 over the conv's output shape).
bool ExpandDepthwiseReady(const OpContext& depthwise);

}  // namespace qat::lite::ops
