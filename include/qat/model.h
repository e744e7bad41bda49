// Model files: a small Keras-like JSON format of named layers (docs/model_format.md), the same
// description built from C++ (ModelSpec's layer methods), and build_model(), which turns either
// into graph nodes.
//
// Graph naming (stable, so checkpoints, the QAT rewrite and the converter can rely on it):
//   placeholder "input" [-1,H,W,C] float32 (pixels * input_scale), output Identity "logits".
//   conv2d L:            variables L/kernel [KH,KW,C,O], L/bias [O]; nodes L/Conv2D, L/BiasAdd
//   depthwise_conv2d L:  L/depthwise_kernel [KH,KW,C,M], L/bias; nodes L/DepthwiseConv2dNative
//   dense L:             L/kernel [IN,UNITS], L/bias; nodes L/MatMul, L/BiasAdd
//   batch_norm L:        L/gamma, L/beta (trainable), L/moving_mean, L/moving_variance
// Variables that already exist in the graph are reused (towers share variables this way).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "qat/graph.h"

namespace qat::train {

struct LayerSpec {
  std::string type;  // conv2d depthwise_conv2d dense batch_norm relu relu6 max_pool avg_pool
                     // global_avg_pool flatten add concat
  std::string name;
  std::vector<std::string> inputs;  // empty: the previous layer's output (the input for the first)
  int64_t filters = 0;              // conv2d
  int64_t kernel = 3;               // conv2d / depthwise_conv2d (square)
  int64_t stride = 1;               // conv / pools
  int64_t depth_multiplier = 1;     // depthwise_conv2d
  std::string padding = "same";     // same | valid (conv / pools)
  bool use_bias = true;             // conv2d / depthwise_conv2d / dense
  int64_t units = 0;                // dense
  int64_t pool = 2;                 // max_pool / avg_pool window (stride defaults to it)
  double decay = 0.9;               // batch_norm moving-average decay (PyTorch momentum 0.1)
  double epsilon = 1e-5;            // batch_norm
  int64_t axis = -1;                // concat
};

struct ModelSpec {
  std::string name = "model";
  int64_t height = 28, width = 28, channels = 1;
  double input_scale = 1.0 / 255.0;  // float input = uint8 pixel * input_scale
  int64_t num_classes = 10;
  std::vector<LayerSpec> layers;

  // Parsing: unknown keys, unknown layer types, duplicate names, dangling inputs and bad values
  // are FormatErrors naming the file (origin) and the layer.
  static ModelSpec from_json(const std::string& text, const std::string& origin = "<string>");
  static ModelSpec load(const std::string& path);
  std::string to_json() const;

  // C++ construction (returns *this for chaining); `inputs` empty = previous layer.
  ModelSpec& conv2d(const std::string& name, int64_t filters, int64_t kernel, int64_t stride = 1,
                    bool use_bias = true, const std::string& padding = "same");
  ModelSpec& depthwise_conv2d(const std::string& name, int64_t kernel, int64_t stride = 1, bool use_bias = true,
                              int64_t depth_multiplier = 1, const std::string& padding = "same");
  ModelSpec& dense(const std::string& name, int64_t units, bool use_bias = true);
  ModelSpec& batch_norm(const std::string& name, double decay = 0.9, double epsilon = 1e-5);
  ModelSpec& relu(const std::string& name);
  ModelSpec& relu6(const std::string& name);
  ModelSpec& max_pool(const std::string& name, int64_t pool = 2, int64_t stride = 0);
  ModelSpec& avg_pool(const std::string& name, int64_t pool = 2, int64_t stride = 0);
  ModelSpec& global_avg_pool(const std::string& name);
  ModelSpec& flatten(const std::string& name);
  ModelSpec& add(const std::string& name, std::vector<std::string> inputs);
  ModelSpec& concat(const std::string& name, std::vector<std::string> inputs, int64_t axis = -1);
  ModelSpec& layer(LayerSpec l);

  // Checks the layer graph (names, inputs, shapes) without building nodes; returns the
  // trainable parameter count (moving statistics excluded, as PyTorch counts).
  int64_t num_parameters() const;
};

// The project's reference models (identical to models/small_cnn.json and
// models/mobilenet_tiny.json).
ModelSpec small_cnn();
ModelSpec mobilenet_tiny();

struct ModelGraph {
  graph::Output input;   // placeholder "input"
  graph::Output logits;  // Identity "logits" [-1, num_classes]
};

enum class Mode { kTrain, kEval };
// Adds the model to `g`. kTrain: batch norm uses batch statistics and adds its moving-average
// updates to the update_ops collection; kEval: moving statistics. Variable initial values
// (stored as each Variable's "init") are PyTorch's defaults, drawn from a generator seeded by
// (seed, variable name): weights and biases U(-1/sqrt(fan_in), 1/sqrt(fan_in)), gamma 1,
// beta 0, moving mean 0, moving variance 1.
ModelGraph build_model(graph::Graph& g, const ModelSpec& spec, Mode mode, uint64_t seed = 1);

}  // namespace qat::train
