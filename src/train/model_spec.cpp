// Model files (JSON, docs/model_format.md) <-> ModelSpec, and static checking of a spec.
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "qat/error.h"
#include "qat/model.h"

namespace qat::train {
namespace {

using nlohmann::json;

const std::set<std::string> kTypes = {"conv2d",  "depthwise_conv2d", "dense",           "batch_norm", "relu",
                                      "relu6",   "max_pool",         "avg_pool",        "global_avg_pool",
                                      "flatten", "add",              "concat"};

// Keys each layer type accepts (besides type, name, inputs).
const std::map<std::string, std::set<std::string>> kKeys = {
    {"conv2d", {"filters", "kernel", "stride", "padding", "use_bias"}},
    {"depthwise_conv2d", {"kernel", "stride", "padding", "use_bias", "depth_multiplier"}},
    {"dense", {"units", "use_bias"}},
    {"batch_norm", {"decay", "epsilon"}},
    {"relu", {}},
    {"relu6", {}},
    {"max_pool", {"pool", "stride", "padding"}},
    {"avg_pool", {"pool", "stride", "padding"}},
    {"global_avg_pool", {}},
    {"flatten", {}},
    {"add", {}},
    {"concat", {"axis"}},
};

[[noreturn]] void bad(const std::string& origin, const std::string& what) {
  throw FormatError(origin + ": " + what);
}

int64_t get_int(const json& j, const char* key, int64_t dflt, const std::string& origin, const std::string& where) {
  if (!j.contains(key)) return dflt;
  const json& v = j.at(key);
  if (!v.is_number_integer()) bad(origin, fmt::format("{}: '{}' must be an integer", where, key));
  return v.get<int64_t>();
}

double get_num(const json& j, const char* key, double dflt, const std::string& origin, const std::string& where) {
  if (!j.contains(key)) return dflt;
  const json& v = j.at(key);
  if (!v.is_number()) bad(origin, fmt::format("{}: '{}' must be a number", where, key));
  return v.get<double>();
}

}  // namespace

ModelSpec ModelSpec::from_json(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    bad(origin, fmt::format("invalid JSON: {}", e.what()));
  }
  if (!j.is_object()) bad(origin, "a model file must be a JSON object");
  for (auto& [k, v] : j.items())
    if (k != "name" && k != "input" && k != "num_classes" && k != "layers" && k != "format" && k != "description")
      bad(origin, fmt::format("unknown top-level key '{}'", k));
  ModelSpec m;
  if (j.contains("format") && j["format"] != "qat-model-v1")
    bad(origin, fmt::format("unsupported format {} (expected \"qat-model-v1\")", j["format"].dump()));
  if (j.contains("name")) {
    if (!j["name"].is_string()) bad(origin, "'name' must be a string");
    m.name = j["name"];
  }
  if (!j.contains("input") || !j["input"].is_object()) bad(origin, "missing object 'input' ({\"shape\": [H, W, C]})");
  const json& in = j["input"];
  for (auto& [k, v] : in.items())
    if (k != "shape" && k != "scale") bad(origin, fmt::format("input: unknown key '{}'", k));
  if (!in.contains("shape") || !in["shape"].is_array() || in["shape"].size() != 3)
    bad(origin, "input: 'shape' must be [height, width, channels]");
  for (const auto& d : in["shape"])
    if (!d.is_number_integer() || d.get<int64_t>() <= 0 || d.get<int64_t>() > 4096)
      bad(origin, "input: shape dimensions must be positive integers");
  m.height = in["shape"][0];
  m.width = in["shape"][1];
  m.channels = in["shape"][2];
  m.input_scale = get_num(in, "scale", m.input_scale, origin, "input");
  m.num_classes = get_int(j, "num_classes", m.num_classes, origin, "model");
  if (m.num_classes < 2) bad(origin, "num_classes must be >= 2");
  if (!j.contains("layers") || !j["layers"].is_array() || j["layers"].empty())
    bad(origin, "missing non-empty array 'layers'");
  int idx = 0;
  for (const json& lj : j["layers"]) {
    std::string where = fmt::format("layer {}", idx++);
    if (!lj.is_object()) bad(origin, where + ": must be an object");
    if (!lj.contains("type") || !lj["type"].is_string()) bad(origin, where + ": missing string 'type'");
    LayerSpec l;
    l.type = lj["type"];
    if (!kTypes.count(l.type)) bad(origin, fmt::format("{}: unknown layer type '{}'", where, l.type));
    if (!lj.contains("name") || !lj["name"].is_string() || lj["name"].get<std::string>().empty())
      bad(origin, where + ": missing string 'name'");
    l.name = lj["name"];
    where = fmt::format("layer '{}' ({})", l.name, l.type);
    const auto& allowed = kKeys.at(l.type);
    for (auto& [k, v] : lj.items())
      if (k != "type" && k != "name" && k != "inputs" && !allowed.count(k))
        bad(origin, fmt::format("{}: unknown key '{}'", where, k));
    if (lj.contains("inputs")) {
      if (!lj["inputs"].is_array()) bad(origin, where + ": 'inputs' must be an array of layer names");
      for (const auto& s : lj["inputs"]) {
        if (!s.is_string()) bad(origin, where + ": 'inputs' must be an array of layer names");
        l.inputs.push_back(s);
      }
    }
    l.filters = get_int(lj, "filters", 0, origin, where);
    l.kernel = get_int(lj, "kernel", 3, origin, where);
    l.depth_multiplier = get_int(lj, "depth_multiplier", 1, origin, where);
    l.units = get_int(lj, "units", 0, origin, where);
    l.pool = get_int(lj, "pool", 2, origin, where);
    l.stride = get_int(lj, "stride", (l.type == "max_pool" || l.type == "avg_pool") ? l.pool : 1, origin, where);
    l.axis = get_int(lj, "axis", -1, origin, where);
    l.decay = get_num(lj, "decay", 0.9, origin, where);
    l.epsilon = get_num(lj, "epsilon", 1e-5, origin, where);
    if (lj.contains("use_bias")) {
      if (!lj["use_bias"].is_boolean()) bad(origin, where + ": 'use_bias' must be true or false");
      l.use_bias = lj["use_bias"];
    }
    if (lj.contains("padding")) {
      if (!lj["padding"].is_string()) bad(origin, where + ": 'padding' must be \"same\" or \"valid\"");
      l.padding = lj["padding"];
    } else if (l.type == "max_pool" || l.type == "avg_pool") {
      l.padding = "valid";
    }
    m.layers.push_back(std::move(l));
  }
  try {
    m.num_parameters();  // validates names, inputs and shapes
  } catch (const Error& e) {
    bad(origin, e.what());
  }
  return m;
}

ModelSpec ModelSpec::load(const std::string& path) {
  std::ifstream f(path);
  if (!f) fail<IoError>("{}: cannot open model file", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return from_json(ss.str(), path);
}

std::string ModelSpec::to_json() const {
  json j;
  j["format"] = "qat-model-v1";
  j["name"] = name;
  j["input"] = {{"shape", {height, width, channels}}, {"scale", input_scale}};
  j["num_classes"] = num_classes;
  json layers = json::array();
  for (const LayerSpec& l : this->layers) {
    json o;
    o["type"] = l.type;
    o["name"] = l.name;
    if (!l.inputs.empty()) o["inputs"] = l.inputs;
    if (l.type == "conv2d") o["filters"] = l.filters;
    if (l.type == "conv2d" || l.type == "depthwise_conv2d") {
      o["kernel"] = l.kernel;
      o["stride"] = l.stride;
      o["padding"] = l.padding;
      o["use_bias"] = l.use_bias;
    }
    if (l.type == "depthwise_conv2d") o["depth_multiplier"] = l.depth_multiplier;
    if (l.type == "dense") {
      o["units"] = l.units;
      o["use_bias"] = l.use_bias;
    }
    if (l.type == "batch_norm") {
      o["decay"] = l.decay;
      o["epsilon"] = l.epsilon;
    }
    if (l.type == "max_pool" || l.type == "avg_pool") {
      o["pool"] = l.pool;
      o["stride"] = l.stride;
      o["padding"] = l.padding;
    }
    if (l.type == "concat") o["axis"] = l.axis;
    layers.push_back(o);
  }
  j["layers"] = layers;
  return j.dump(2) + "\n";
}

// ------------------------------------------------------------------------------ C++ construction

namespace {
LayerSpec mk(const char* type, const std::string& name) {
  LayerSpec l;
  l.type = type;
  l.name = name;
  return l;
}
}  // namespace

ModelSpec& ModelSpec::layer(LayerSpec l) {
  layers.push_back(std::move(l));
  return *this;
}

ModelSpec& ModelSpec::conv2d(const std::string& n, int64_t filters, int64_t kernel, int64_t stride, bool use_bias,
                             const std::string& padding) {
  LayerSpec l = mk("conv2d", n);
  l.filters = filters, l.kernel = kernel, l.stride = stride, l.use_bias = use_bias, l.padding = padding;
  return layer(l);
}
ModelSpec& ModelSpec::depthwise_conv2d(const std::string& n, int64_t kernel, int64_t stride, bool use_bias,
                                       int64_t depth_multiplier, const std::string& padding) {
  LayerSpec l = mk("depthwise_conv2d", n);
  l.kernel = kernel, l.stride = stride, l.use_bias = use_bias, l.depth_multiplier = depth_multiplier;
  l.padding = padding;
  return layer(l);
}
ModelSpec& ModelSpec::dense(const std::string& n, int64_t units, bool use_bias) {
  LayerSpec l = mk("dense", n);
  l.units = units, l.use_bias = use_bias;
  return layer(l);
}
ModelSpec& ModelSpec::batch_norm(const std::string& n, double decay, double epsilon) {
  LayerSpec l = mk("batch_norm", n);
  l.decay = decay, l.epsilon = epsilon;
  return layer(l);
}
ModelSpec& ModelSpec::relu(const std::string& n) { return layer(mk("relu", n)); }
ModelSpec& ModelSpec::relu6(const std::string& n) { return layer(mk("relu6", n)); }
ModelSpec& ModelSpec::max_pool(const std::string& n, int64_t pool, int64_t stride) {
  LayerSpec l = mk("max_pool", n);
  l.pool = pool, l.stride = stride > 0 ? stride : pool, l.padding = "valid";
  return layer(l);
}
ModelSpec& ModelSpec::avg_pool(const std::string& n, int64_t pool, int64_t stride) {
  LayerSpec l = mk("avg_pool", n);
  l.pool = pool, l.stride = stride > 0 ? stride : pool, l.padding = "valid";
  return layer(l);
}
ModelSpec& ModelSpec::global_avg_pool(const std::string& n) { return layer(mk("global_avg_pool", n)); }
ModelSpec& ModelSpec::flatten(const std::string& n) { return layer(mk("flatten", n)); }
ModelSpec& ModelSpec::add(const std::string& n, std::vector<std::string> inputs) {
  return layer({.type = "add", .name = n, .inputs = std::move(inputs)});
}
ModelSpec& ModelSpec::concat(const std::string& n, std::vector<std::string> inputs, int64_t axis) {
  LayerSpec l{.type = "concat", .name = n, .inputs = std::move(inputs)};
  l.axis = axis;
  return layer(l);
}

// ------------------------------------------------------------------------------- static checks

int64_t ModelSpec::num_parameters() const {
  // Shapes without the batch: [H, W, C] for images or [C] after flatten/global pooling/dense.
  std::map<std::string, Shape> shapes;
  Shape cur{height, width, channels};
  QAT_CHECK_T(FormatError, !layers.empty(), "model '{}' has no layers", name);
  int64_t params = 0;
  std::string prev;
  auto out_dim = [](int64_t in, int64_t k, int64_t s, const std::string& pad) {
    return pad == "same" ? (in + s - 1) / s : (in - k) / s + 1;
  };
  for (const LayerSpec& l : layers) {
    std::string where = fmt::format("layer '{}' ({})", l.name, l.type);
    QAT_CHECK_T(FormatError, !shapes.count(l.name) && l.name != "input" && l.name != "logits",
                "{}: duplicate or reserved layer name", where);
    std::vector<Shape> ins;
    if (l.inputs.empty()) {
      ins.push_back(prev.empty() ? Shape{height, width, channels} : shapes.at(prev));
    } else {
      for (const auto& s : l.inputs) {
        if (s == "input") {
          ins.push_back({height, width, channels});
          continue;
        }
        auto it = shapes.find(s);
        QAT_CHECK_T(FormatError, it != shapes.end(), "{}: input '{}' is not an earlier layer", where, s);
        ins.push_back(it->second);
      }
    }
    const Shape& x = ins[0];
    bool image = x.size() == 3;
    auto need_image = [&] { QAT_CHECK_T(FormatError, image, "{}: needs an image input [H,W,C], got {}", where, shape_str(x)); };
    if (l.type == "conv2d" || l.type == "depthwise_conv2d" || l.type == "max_pool" || l.type == "avg_pool") {
      need_image();
      int64_t k = (l.type == "conv2d" || l.type == "depthwise_conv2d") ? l.kernel : l.pool;
      QAT_CHECK_T(FormatError, k >= 1 && l.stride >= 1, "{}: kernel/pool and stride must be >= 1", where);
      QAT_CHECK_T(FormatError, l.padding == "same" || l.padding == "valid", "{}: padding must be same or valid",
                  where);
      int64_t oh = out_dim(x[0], k, l.stride, l.padding), ow = out_dim(x[1], k, l.stride, l.padding);
      QAT_CHECK_T(FormatError, oh >= 1 && ow >= 1, "{}: window {} does not fit input {}", where, k, shape_str(x));
      int64_t oc = x[2];
      if (l.type == "conv2d") {
        QAT_CHECK_T(FormatError, l.filters >= 1, "{}: 'filters' must be >= 1", where);
        oc = l.filters;
        params += k * k * x[2] * oc + (l.use_bias ? oc : 0);
      } else if (l.type == "depthwise_conv2d") {
        QAT_CHECK_T(FormatError, l.depth_multiplier >= 1, "{}: 'depth_multiplier' must be >= 1", where);
        oc = x[2] * l.depth_multiplier;
        params += k * k * oc + (l.use_bias ? oc : 0);
      }
      cur = {oh, ow, oc};
    } else if (l.type == "dense") {
      QAT_CHECK_T(FormatError, l.units >= 1, "{}: 'units' must be >= 1", where);
      params += num_elements(x) * l.units + (l.use_bias ? l.units : 0);
      cur = {l.units};
    } else if (l.type == "batch_norm") {
      QAT_CHECK_T(FormatError, l.decay >= 0 && l.decay <= 1 && l.epsilon > 0, "{}: needs decay in [0,1], epsilon > 0",
                  where);
      params += 2 * x.back();
      cur = x;
    } else if (l.type == "relu" || l.type == "relu6") {
      cur = x;
    } else if (l.type == "global_avg_pool") {
      need_image();
      cur = {x[2]};
    } else if (l.type == "flatten") {
      cur = {num_elements(x)};
    } else if (l.type == "add") {
      QAT_CHECK_T(FormatError, ins.size() == 2, "{}: needs exactly 2 inputs", where);
      QAT_CHECK_T(FormatError, ins[0] == ins[1], "{}: input shapes {} and {} differ", where, shape_str(ins[0]),
                  shape_str(ins[1]));
      cur = x;
    } else if (l.type == "concat") {
      QAT_CHECK_T(FormatError, ins.size() >= 2, "{}: needs at least 2 inputs", where);
      int64_t ax = l.axis < 0 ? l.axis + (int64_t)x.size() : l.axis;
      QAT_CHECK_T(FormatError, ax >= 0 && ax < (int64_t)x.size(), "{}: axis {} out of range", where, l.axis);
      cur = x;
      cur[ax] = 0;
      for (const Shape& s : ins) {
        QAT_CHECK_T(FormatError, s.size() == x.size(), "{}: inputs have different ranks", where);
        for (size_t d = 0; d < s.size(); ++d)
          QAT_CHECK_T(FormatError, (int64_t)d == ax || s[d] == x[d], "{}: input shapes {} and {} differ off the axis",
                      where, shape_str(s), shape_str(x));
        cur[ax] += s[ax];
      }
    }
    shapes[l.name] = cur;
    prev = l.name;
  }
  QAT_CHECK_T(FormatError, cur.size() == 1 && cur[0] == num_classes,
              "model '{}': the last layer '{}' gives {} but num_classes is {} (end with a dense layer)", name, prev,
              shape_str(cur), num_classes);
  return params;
}

// --------------------------------------------------------------------------- reference models

ModelSpec small_cnn() {
  ModelSpec m;
  m.name = "small_cnn";
  m.conv2d("conv1", 32, 3, 1, false).batch_norm("bn1").relu("relu1").max_pool("pool1");
  m.conv2d("conv2", 64, 3, 1, false).batch_norm("bn2").relu("relu2").max_pool("pool2");
  m.conv2d("conv3", 128, 3, 1, false).batch_norm("bn3").relu("relu3");
  m.global_avg_pool("gap").dense("fc", 10);
  return m;
}

ModelSpec mobilenet_tiny() {
  // MobileNet-v1 style for 28x28: a full conv stem, then depthwise-separable blocks
  // (depthwise 3x3 + BN + ReLU6, pointwise 1x1 + BN + ReLU6), global pooling and a classifier.
  ModelSpec m;
  m.name = "mobilenet_tiny";
  m.conv2d("conv0", 16, 3, 1, false).batch_norm("conv0_bn").relu6("conv0_relu");
  struct Block {
    int64_t stride, filters;
  };
  const Block blocks[] = {{1, 32}, {2, 64}, {1, 64}, {2, 128}, {1, 128}};
  int i = 1;
  for (const Block& b : blocks) {
    std::string p = "block" + std::to_string(i++);
    m.depthwise_conv2d(p + "_dw", 3, b.stride, false).batch_norm(p + "_dw_bn").relu6(p + "_dw_relu");
    m.conv2d(p + "_pw", b.filters, 1, 1, false).batch_norm(p + "_pw_bn").relu6(p + "_pw_relu");
  }
  m.global_avg_pool("gap").dense("fc", 10);
  return m;
}

}  // namespace qat::train
