// ModelSpec -> graph nodes (see the naming contract in include/qat/model.h).
#include <cmath>
#include <map>

#include "qat/data.h"
#include "qat/model.h"
#include "qat/ops.h"

namespace qat::train {
namespace {

using graph::Graph;
using graph::Output;

// Stable 64-bit hash of a variable name (FNV-1a), so a variable's initial value depends only on
// (seed, name) - not on the order in which layers are built.
uint64_t name_hash(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

Tensor uniform_init(const Shape& shape, double bound, uint64_t seed, const std::string& name) {
  Tensor t(DType::kFloat32, shape);
  uint64_t st = data::mix_seed(seed, name_hash(name), 0x1417);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.size(); ++i) {
    // 24 random bits -> [0, 1) exactly representable in float.
    double u = (double)(data::splitmix64(st) >> 40) * (1.0 / 16777216.0);
    p[i] = (float)((2.0 * u - 1.0) * bound);
  }
  return t;
}

class Builder {
 public:
  Builder(Graph& g, const ModelSpec& spec, Mode mode, uint64_t seed) : g_(g), spec_(spec), mode_(mode), seed_(seed) {}

  // Reuses an existing variable of that name (shared between towers / graphs), else creates it.
  Output var(const std::string& name, Tensor init, bool trainable = true) {
    if (graph::Node* n = g_.find(name)) {
      if (n->op() != "Variable") fail<UsageError>("model '{}': '{}' exists and is not a Variable", spec_.name, name);
      if (n->output_info(0).shape != init.shape())
        fail<ShapeError>("model '{}': variable '{}' exists with shape {}, layer needs {}", spec_.name, name,
                         shape_str(n->output_info(0).shape), shape_str(init.shape()));
      return n->output(0);
    }
    return ops::variable(g_, name, std::move(init), trainable);
  }
  Output weight(const std::string& name, const Shape& shape, int64_t fan_in) {
    // PyTorch's default (kaiming_uniform with a = sqrt(5)): bound = 1 / sqrt(fan_in).
    return var(name, uniform_init(shape, 1.0 / std::sqrt((double)fan_in), seed_, name));
  }

  ModelGraph build() {
    ModelGraph r;
    if (graph::Node* n = g_.find("input")) {
      r.input = n->output(0);
    } else {
      r.input = ops::placeholder(g_, DType::kFloat32, {-1, spec_.height, spec_.width, spec_.channels}, "input");
    }
    std::map<std::string, Output> outs;
    outs["input"] = r.input;
    Output prev = r.input;
    for (const LayerSpec& l : spec_.layers) {
      std::vector<Output> ins;
      if (l.inputs.empty()) ins.push_back(prev);
      for (const auto& s : l.inputs) ins.push_back(outs.at(s));
      Output y = layer(l, ins);
      outs[l.name] = y;
      prev = y;
    }
    r.logits = ops::identity(g_, prev, "logits");
    return r;
  }

 private:
  Output layer(const LayerSpec& l, const std::vector<Output>& ins) {
    const std::string& n = l.name;
    Output x = ins[0];
    const Shape& xs = x.node->output_info(x.index).shape;
    ops::ConvOpts co;
    co.strides = {l.stride, l.stride};
    co.padding = l.padding == "same" ? "SAME" : "VALID";
    if (l.type == "conv2d") {
      int64_t cin = xs.back();
      Output w = weight(n + "/kernel", {l.kernel, l.kernel, cin, l.filters}, l.kernel * l.kernel * cin);
      Output y = ops::conv2d(g_, x, w, co, n + "/Conv2D");
      if (l.use_bias) y = ops::bias_add(g_, y, weight(n + "/bias", {l.filters}, l.kernel * l.kernel * cin), n + "/BiasAdd");
      return y;
    }
    if (l.type == "depthwise_conv2d") {
      int64_t cin = xs.back();
      Output w = weight(n + "/depthwise_kernel", {l.kernel, l.kernel, cin, l.depth_multiplier}, l.kernel * l.kernel);
      Output y = ops::depthwise_conv2d(g_, x, w, co, n + "/DepthwiseConv2dNative");
      if (l.use_bias)
        y = ops::bias_add(g_, y, weight(n + "/bias", {cin * l.depth_multiplier}, l.kernel * l.kernel), n + "/BiasAdd");
      return y;
    }
    if (l.type == "dense") {
      if (xs.size() != 2) x = ops::flatten(g_, x, n + "/Flatten");
      int64_t in = x.node->output_info(x.index).shape.back();
      Output w = weight(n + "/kernel", {in, l.units}, in);
      Output y = ops::matmul(g_, x, w, false, false, n + "/MatMul");
      if (l.use_bias) y = ops::bias_add(g_, y, weight(n + "/bias", {l.units}, in), n + "/BiasAdd");
      return y;
    }
    if (l.type == "batch_norm") {
      int64_t c = xs.back();
      Output gamma = var(n + "/gamma", Tensor::filled({c}, 1.0f));
      Output beta = var(n + "/beta", Tensor::zeros({c}));
      Output mm = var(n + "/moving_mean", Tensor::zeros({c}), false);
      Output mv = var(n + "/moving_variance", Tensor::filled({c}, 1.0f), false);
      return ops::batch_norm(g_, x, gamma, beta, mm, mv, mode_ == Mode::kTrain, l.decay, l.epsilon,
                             n + "/FusedBatchNorm")
          .y;
    }
    if (l.type == "relu") return ops::relu(g_, x, n + "/Relu");
    if (l.type == "relu6") return ops::relu6(g_, x, n + "/Relu6");
    if (l.type == "max_pool" || l.type == "avg_pool") {
      ops::PoolOpts po;
      po.ksize = {l.pool, l.pool};
      po.strides = {l.stride, l.stride};
      po.padding = l.padding == "same" ? "SAME" : "VALID";
      return l.type == "max_pool" ? ops::max_pool(g_, x, po, n + "/MaxPool") : ops::avg_pool(g_, x, po, n + "/AvgPool");
    }
    if (l.type == "global_avg_pool") return ops::mean(g_, x, {1, 2}, false, n + "/Mean");
    if (l.type == "flatten") return ops::flatten(g_, x, n + "/Reshape");
    if (l.type == "add") return ops::add(g_, ins[0], ins[1], n + "/Add");
    if (l.type == "concat") {
      int64_t axis = l.axis < 0 ? l.axis + (int64_t)xs.size() + 1 : l.axis + 1;  // +1: the batch dim
      return ops::concat(g_, ins, (int)axis, n + "/ConcatV2");
    }
    fail<FormatError>("model '{}': layer '{}' has unknown type '{}'", spec_.name, n, l.type);
  }

  Graph& g_;
  const ModelSpec& spec_;
  Mode mode_;
  uint64_t seed_;
};

}  // namespace

ModelGraph build_model(graph::Graph& g, const ModelSpec& spec, Mode mode, uint64_t seed) {
  spec.num_parameters();  // validate before adding any node
  return Builder(g, spec, mode, seed).build();
}

}  // namespace qat::train
