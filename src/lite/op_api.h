// The contract between qat's interpreter (src/lite/interpreter.*) and its op kernels
// (src/lite/ops/<op>.cpp, one op per file). Modelled on TFLite Micro's registration:
//   init    -> parse options once, allocate the op's persistent OpData
//   prepare -> check input counts/types, compute output shapes (ctx.resize_output), quantization
//              multipliers, shifts and clamp ranges, request scratch memory; may allocate
//   eval    -> pure computation: no allocation, no float math on integer paths
// All memory for activations is planned by the interpreter once in AllocateTensors.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/quant_math.h"
#include "qat/error.h"
#include "qat/tensor.h"

namespace tflite {
struct Operator;  // generated from src/tflite/schema.fbs (namespace tflite, official names)
}

namespace qat {
class ThreadPool;
}

namespace qat::lite {

// Quantization of one tensor. Per-tensor: scale.size() == 1. Per-channel: one entry per slice of
// quantized_dimension. Empty scale: not quantized.
struct QuantParams {
  std::vector<float> scale;
  std::vector<int64_t> zero_point;
  int32_t quantized_dimension = 0;
  bool per_channel() const { return scale.size() > 1; }
  bool quantized() const { return !scale.empty(); }
};

struct LiteTensor {
  std::string name;
  DType type = DType::kFloat32;
  std::vector<int32_t> dims;   // current shape
  void* data = nullptr;        // arena (activations) or mapped model buffer (constants)
  size_t bytes = 0;
  bool is_const = false;       // backed by a model buffer
  bool is_variable = false;
  QuantParams quant;
  const void* sparsity = nullptr;  // const tflite::SparsityParameters* for DENSIFY inputs, else null

  int64_t num_elements() const {
    int64_t n = 1;
    for (auto d : dims) n *= d;
    return n;
  }
  template <class T> T* as() { return static_cast<T*>(data); }
  template <class T> const T* as() const { return static_cast<const T*>(data); }
};

// What an op sees of the interpreter. One OpContext per node, alive as long as the interpreter.
struct OpContext {
  const tflite::Operator* op = nullptr;  // flatbuffer operator: builtin/custom options
  int node_index = 0;
  std::string op_name;                   // "CONV_2D" or the custom code
  std::vector<LiteTensor*> inputs;       // nullptr for an optional input given as -1
  std::vector<LiteTensor*> outputs;
  void* user_data = nullptr;             // returned by init
  kernels::RequantMode requant = kernels::RequantMode::kTflite;
  kernels::FloatMath float_math = kernels::FloatMath::kExact;  // InterpreterOptions::float_math
  ThreadPool* pool = nullptr;            // the interpreter's threads (size 1 when --threads 1)
  // A float RELU / RELU6 fused into this node by the interpreter (its output then is the RELU's):
  // FloatActivationRange narrows the op's own clamp to this range. Clamps compose exactly:
  // clamp(clamp(v, a, b), c, d) = clamp(v, max(a, c), min(b, d)) when the ranges overlap, and every
  // fused activation range contains 0.
  float fused_act_min = -std::numeric_limits<float>::infinity();
  float fused_act_max = std::numeric_limits<float>::infinity();
  // A float ADD fused into this node by the interpreter (FuseFloatResidualAdds; CONV_2D and
  // DEPTHWISE_CONV_2D): the
  // node's output then is the ADD's, each value clamp(v + residual, residual_min, residual_max)
  // with v the op's own output (residual + v when residual_first: the ADD's operand order). The
  // residual is also the last entry of `inputs` (after a null bias slot if the op had none), so
  // the arena keeps it alive through this node; CheckArity does not count it.
  LiteTensor* residual = nullptr;
  bool residual_first = false;
  float residual_min = -std::numeric_limits<float>::infinity();
  float residual_max = std::numeric_limits<float>::infinity();
  // A float 1x1 CONV_2D absorbed into this DEPTHWISE_CONV_2D by the interpreter
  // (FuseFloatExpandDepthwise): the conv's own context. This node's eval then runs both from the
  // conv's input (kernels/optimized/expand_depthwise_float.h), which is also the last entry of
  // `inputs` (after a null bias slot if the op had none), so the arena keeps it alive through this
  // node; this node's input 0 (the conv's output) is never written or read. CheckArity does not
  // count the extra input.
  OpContext* expand = nullptr;
  // Set by prepare: bytes of scratch memory eval needs; the arena provides it in `scratch`.
  size_t scratch_bytes = 0;
  void* scratch = nullptr;
  // Set by the interpreter: resize an output before the arena is planned (prepare only).
  std::function<void(int output, const std::vector<int32_t>& dims)> resize_output;

  const LiteTensor& in(int i) const;
  LiteTensor& out(int i) const { return *outputs.at(i); }
  // Throws qat::Error "node N (OP): <message>" naming the op.
  template <class... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw Error(fmt::format("node {} ({}): {}", node_index, op_name, fmt::format(f, std::forward<Args>(args)...)));
  }
};

inline const LiteTensor& OpContext::in(int i) const {
  if (i < 0 || i >= (int)inputs.size() || inputs[i] == nullptr) fail("missing input {}", i);
  return *inputs[i];
}

struct OpRegistration {
  std::string name;  // builtin name (as in the schema enum) or custom code
  void* (*init)(OpContext& ctx) = nullptr;    // may be null
  void (*free)(void* user_data) = nullptr;    // may be null
  void (*prepare)(OpContext& ctx) = nullptr;  // required
  void (*eval)(OpContext& ctx) = nullptr;     // required
};

}  // namespace qat::lite
