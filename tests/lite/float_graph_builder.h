// A one-subgraph float model written op by op, for the interpreter tests that build small graphs
// (activation / residual fusion, element-wise threading): activations, float and int32 constants,
// operators; Finish() sets the graph's inputs and outputs and returns the model.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "qat/tflite.h"

namespace qat::lite::test_util {

class FloatGraphBuilder {
 public:
  FloatGraphBuilder() { g_.name = "main"; }

  // A float32 activation tensor; returns its index.
  int32_t Act(const std::string& name, std::vector<int32_t> shape) {
    return Tensor(name, tfl::TensorType::kFloat32, std::move(shape), -1);
  }
  // A constant float32 / int32 tensor with these values.
  int32_t Const(const std::string& name, std::vector<int32_t> shape, const std::vector<float>& v) {
    return Tensor(name, tfl::TensorType::kFloat32, std::move(shape), (int64_t)m_.AddBuffer(std::span<const float>(v)));
  }
  int32_t ConstInt32(const std::string& name, std::vector<int32_t> shape, const std::vector<int32_t>& v) {
    return Tensor(name, tfl::TensorType::kInt32, std::move(shape), (int64_t)m_.AddBuffer(std::span<const int32_t>(v)));
  }
  void Op(int32_t builtin_code, std::vector<int32_t> inputs, std::vector<int32_t> outputs,
          tfl::BuiltinOptions options = {}) {
    tfl::OpDesc d;
    d.builtin_code = builtin_code;
    d.inputs = std::move(inputs);
    d.outputs = std::move(outputs);
    d.options = std::move(options);
    g_.ops.push_back(std::move(d));
  }
  tfl::ModelDesc Finish(std::vector<int32_t> inputs, std::vector<int32_t> outputs) {
    g_.inputs = std::move(inputs);
    g_.outputs = std::move(outputs);
    m_.subgraphs.push_back(std::move(g_));
    return std::move(m_);
  }

 private:
  int32_t Tensor(const std::string& name, tfl::TensorType type, std::vector<int32_t> shape, int64_t buffer) {
    tfl::TensorDesc t;
    t.name = name;
    t.type = type;
    t.shape = std::move(shape);
    if (buffer >= 0) t.buffer = (uint32_t)buffer;
    g_.tensors.push_back(std::move(t));
    return (int32_t)g_.tensors.size() - 1;
  }

  tfl::ModelDesc m_;
  tfl::SubGraphDesc g_;
};

}  // namespace qat::lite::test_util
