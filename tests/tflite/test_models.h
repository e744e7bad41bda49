// Small models built with the writer, shared by the tflite and lite tests (and the fuzz corpus).
#pragma once
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "qat/tflite.h"

namespace qat::testing {

constexpr int32_t kCustom = 32;  // BuiltinOperator::CUSTOM
constexpr int32_t kConv2D = 3, kRelu = 19, kAdd = 0, kFullyConnected = 9, kReshape = 22, kSoftmax = 25;

// float32 input [1, n] -> `ops` custom ops `code` in a chain -> output.
inline tfl::ModelDesc ChainModel(int ops, int n = 256, const std::string& code = "ADD1") {
  tfl::ModelDesc m;
  tfl::SubGraphDesc g;
  g.name = "main";
  for (int i = 0; i <= ops; ++i) {
    tfl::TensorDesc t;
    t.name = i == 0 ? "input" : (i == ops ? "output" : "t" + std::to_string(i));
    t.type = tfl::TensorType::kFloat32;
    t.shape = {1, n};
    g.tensors.push_back(t);
  }
  for (int i = 0; i < ops; ++i) {
    tfl::OpDesc op;
    op.builtin_code = kCustom;
    op.custom_code = code;
    op.inputs = {i};
    op.outputs = {i + 1};
    g.ops.push_back(op);
  }
  g.inputs = {0};
  g.outputs = {ops};
  m.subgraphs.push_back(std::move(g));
  return m;
}

// int8 [1,4,4,2] -> CONV_2D 1x1 (3 per-channel filters, int32 bias, RELU) -> RESHAPE [1,48] ->
// FULLY_CONNECTED (4 units) -> SOFTMAX -> int8 [1,4]. Exercises constants, per-channel
// quantization, options of several types and an op-code shared twice.
inline tfl::ModelDesc SmallInt8Model() {
  using namespace tfl;
  ModelDesc m;
  SubGraphDesc g;
  g.name = "main";
  auto act = [](std::string name, std::vector<int32_t> shape, float scale, int64_t zp) {
    TensorDesc t;
    t.name = std::move(name);
    t.type = TensorType::kInt8;
    t.shape = std::move(shape);
    t.quant.scale = {scale};
    t.quant.zero_point = {zp};
    return t;
  };
  g.tensors.push_back(act("input", {1, 4, 4, 2}, 0.05f, -3));  // 0
  {
    std::vector<int8_t> w = {10, -20, 30, 40, -50, 60};
    TensorDesc t = act("conv/w", {3, 1, 1, 2}, 0.f, 0);
    t.quant.scale = {0.01f, 0.02f, 0.03f};
    t.quant.zero_point = {0, 0, 0};
    t.buffer = m.AddBuffer(std::span<const int8_t>(w));
    g.tensors.push_back(t);  // 1
  }
  {
    std::vector<int32_t> b = {100, -200, 300};
    TensorDesc t;
    t.name = "conv/b";
    t.type = TensorType::kInt32;
    t.shape = {3};
    t.quant.scale = {0.0005f, 0.001f, 0.0015f};
    t.quant.zero_point = {0, 0, 0};
    t.buffer = m.AddBuffer(std::span<const int32_t>(b));
    g.tensors.push_back(t);  // 2
  }
  g.tensors.push_back(act("conv", {1, 4, 4, 3}, 0.1f, -128));  // 3
  {
    std::vector<int32_t> s = {1, 48};
    TensorDesc t;
    t.name = "shape";
    t.type = TensorType::kInt32;
    t.shape = {2};
    t.buffer = m.AddBuffer(std::span<const int32_t>(s));
    g.tensors.push_back(t);  // 4
  }
  g.tensors.push_back(act("flat", {1, 48}, 0.1f, -128));  // 5
  {
    std::vector<int8_t> w(4 * 48);
    for (size_t i = 0; i < w.size(); ++i) w[i] = (int8_t)((int)(i * 37 % 255) - 127);
    TensorDesc t = act("fc/w", {4, 48}, 0.004f, 0);
    t.buffer = m.AddBuffer(std::span<const int8_t>(w));
    g.tensors.push_back(t);  // 6
  }
  g.tensors.push_back(act("logits", {1, 4}, 0.2f, 5));            // 7
  g.tensors.push_back(act("probs", {1, 4}, 1.f / 256.f, -128));   // 8
  OpDesc conv;
  conv.builtin_code = kConv2D;
  conv.version = 3;
  conv.inputs = {0, 1, 2};
  conv.outputs = {3};
  Conv2DOptions co;
  co.padding = 0;
  co.fused_activation_function = 1;
  conv.options = co;
  OpDesc reshape;
  reshape.builtin_code = kReshape;
  reshape.inputs = {3, 4};
  reshape.outputs = {5};
  reshape.options = ReshapeOptions{{1, 48}};
  OpDesc fc;
  fc.builtin_code = kFullyConnected;
  fc.version = 4;
  fc.inputs = {5, 6, -1};
  fc.outputs = {7};
  fc.options = FullyConnectedOptions{};
  OpDesc sm;
  sm.builtin_code = kSoftmax;
  sm.inputs = {7};
  sm.outputs = {8};
  sm.options = SoftmaxOptions{1.f};
  g.ops = {conv, reshape, fc, sm};
  g.inputs = {0};
  g.outputs = {8};
  m.subgraphs.push_back(std::move(g));
  m.description = "qat test model";
  m.metadata.emplace_back("min_runtime_version", m.AddBuffer(std::vector<uint8_t>{'1', '.', '5', 0}));
  SignatureDesc sig;
  sig.key = "serving_default";
  sig.inputs = {{"x", 0}};
  sig.outputs = {{"y", 8}};
  m.signatures.push_back(sig);
  return m;
}

inline std::string PeersDir() {
  const char* d = std::getenv("QAT_PEERS_DIR");
  return d ? d : "";
}

inline std::vector<std::string> PeerModels() {
  std::vector<std::string> r;
  const std::string dir = PeersDir();
  if (dir.empty()) return r;
  for (const auto* sub : {"/data/models", "/data/npm"}) {
    std::error_code ec;
    const std::filesystem::path root = dir + sub;
    if (!std::filesystem::exists(root, ec)) continue;
    for (auto it = std::filesystem::recursive_directory_iterator(root, ec); it != std::filesystem::recursive_directory_iterator();
         it.increment(ec))
      if (it->path().extension() == ".tflite") r.push_back(it->path().string());
  }
  std::sort(r.begin(), r.end());
  return r;
}

}  // namespace qat::testing
