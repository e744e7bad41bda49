// Graph <-> JSON (docs/graph_format.md). Tensors inside attributes are stored inline as base64
// of their little-endian bytes; variable values normally live in the checkpoint instead (the
// Variable node only carries its initial value "init").
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "qat/graph.h"

namespace qat::graph {
namespace {
using json = nlohmann::json;
constexpr const char* kFormat = "qat.graph";
constexpr int kVersion = 1;

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string b64_encode(const uint8_t* p, size_t n) {
  std::string r;
  r.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < n ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
    r += kB64[v >> 18 & 63];
    r += kB64[v >> 12 & 63];
    r += i + 1 < n ? kB64[v >> 6 & 63] : '=';
    r += i + 2 < n ? kB64[v & 63] : '=';
  }
  return r;
}

std::vector<uint8_t> b64_decode(const std::string& s, const std::string& where) {
  int8_t rev[256];
  std::fill(rev, rev + 256, (int8_t)-1);
  for (int i = 0; i < 64; ++i) rev[(uint8_t)kB64[i]] = (int8_t)i;
  std::vector<uint8_t> out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    int8_t v = rev[(uint8_t)c];
    if (v < 0) fail<FormatError>("{}: invalid base64 character", where);
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back((uint8_t)(acc >> bits));
    }
  }
  return out;
}

json float_json(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  return v;
}

double float_from_json(const json& j) {
  if (j.is_string()) {
    auto s = j.get<std::string>();
    if (s == "nan") return NAN;
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
    throw std::runtime_error("bad float '" + s + "'");
  }
  return j.get<double>();
}

json tensor_json(const Tensor& t) {
  return {{"dtype", dtype_name(t.dtype())},
          {"shape", t.shape()},
          {"data", b64_encode(static_cast<const uint8_t*>(t.raw()), t.nbytes())}};
}

Tensor tensor_from_json(const json& j, const std::string& where) {
  DType dt = dtype_from_name(j.at("dtype").get<std::string>());
  Shape shape = j.at("shape").get<Shape>();
  for (auto d : shape)
    if (d < 0) fail<FormatError>("{}: negative dimension in tensor shape", where);
  Tensor t(dt, shape);
  auto bytes = b64_decode(j.at("data").get<std::string>(), where);
  if (bytes.size() != t.nbytes())
    fail<FormatError>("{}: tensor data has {} bytes, {}{} needs {}", where, bytes.size(), dtype_name(dt),
                      shape_str(shape), t.nbytes());
  std::memcpy(t.raw(), bytes.data(), bytes.size());
  return t;
}

json attr_json(const AttrValue& v) {
  json j;
  j["type"] = attr_type_name(v);
  std::visit(
      [&](const auto& x) {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, double>) {
          j["value"] = float_json(x);
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          json a = json::array();
          for (double d : x) a.push_back(float_json(d));
          j["value"] = a;
        } else if constexpr (std::is_same_v<T, Tensor>) {
          j["value"] = tensor_json(x);
        } else if constexpr (std::is_same_v<T, DType>) {
          j["value"] = dtype_name(x);
        } else {
          j["value"] = x;
        }
      },
      v);
  return j;
}

AttrValue attr_from_json(const json& j, const std::string& where) {
  std::string type = j.at("type").get<std::string>();
  const json& v = j.at("value");
  if (type == "int") return v.get<int64_t>();
  if (type == "float") return float_from_json(v);
  if (type == "string") return v.get<std::string>();
  if (type == "bool") return v.get<bool>();
  if (type == "int_list") return v.get<std::vector<int64_t>>();
  if (type == "float_list") {
    std::vector<double> r;
    for (auto& e : v) r.push_back(float_from_json(e));
    return r;
  }
  if (type == "tensor") return tensor_from_json(v, where);
  if (type == "dtype") return dtype_from_name(v.get<std::string>());
  fail<FormatError>("{}: unknown attribute type '{}'", where, type);
}

}  // namespace

std::string Graph::to_json() const {
  json j;
  j["format"] = kFormat;
  j["version"] = kVersion;
  json nodes = json::array();
  for (Node* n : topo_order()) {
    json jn;
    jn["name"] = n->name();
    jn["op"] = n->op();
    json ins = json::array();
    for (auto& in : n->inputs()) ins.push_back(in.str());
    jn["inputs"] = ins;
    if (!n->control_inputs().empty()) {
      json c = json::array();
      for (Node* d : n->control_inputs()) c.push_back(d->name());
      jn["control_inputs"] = c;
    }
    if (!n->device.empty()) jn["device"] = n->device;
    json attrs = json::object();
    for (auto& [k, v] : n->attrs()) attrs[k] = attr_json(v);
    jn["attrs"] = attrs;
    json outs = json::array();
    for (auto& o : n->output_infos()) outs.push_back({{"dtype", dtype_name(o.dtype)}, {"shape", o.shape}});
    jn["outputs"] = outs;
    nodes.push_back(std::move(jn));
  }
  j["nodes"] = std::move(nodes);
  j["collections"] = collections_;
  return j.dump(1);
}

std::unique_ptr<Graph> Graph::from_json(const std::string& text, const std::string& origin) {
  json j;
  try {
    j = json::parse(text);
  } catch (const std::exception& e) {
    fail<FormatError>("{}: not valid JSON: {}", origin, e.what());
  }
  auto g = std::make_unique<Graph>();
  std::string where = origin;
  try {
    if (!j.is_object() || j.value("format", "") != kFormat)
      fail<FormatError>("{}: not a qat graph (missing \"format\": \"{}\")", origin, kFormat);
    int version = j.at("version").get<int>();
    if (version != kVersion) fail<FormatError>("{}: unsupported graph format version {}", origin, version);
    for (auto& jn : j.at("nodes")) {
      std::string name = jn.at("name").get<std::string>();
      where = fmt::format("{}: node '{}'", origin, name);
      std::vector<Output> inputs;
      for (auto& in : jn.at("inputs")) {
        std::string spec = in.get<std::string>();
        auto colon = spec.rfind(':');
        std::string src = spec;
        int idx = 0;
        if (colon != std::string::npos) {
          src = spec.substr(0, colon);
          idx = std::stoi(spec.substr(colon + 1));
        }
        Node* p = g->find(src);
        if (!p) fail<FormatError>("{}: input '{}' is not defined before it (nodes must be in topological order)", where, spec);
        if (idx < 0 || idx >= p->num_outputs()) fail<FormatError>("{}: input '{}' out of range", where, spec);
        inputs.push_back(Output{p, idx});
      }
      std::vector<Node*> control;
      if (jn.contains("control_inputs"))
        for (auto& c : jn["control_inputs"]) {
          Node* p = g->find(c.get<std::string>());
          if (!p) fail<FormatError>("{}: control input '{}' is not defined before it", where, c.get<std::string>());
          control.push_back(p);
        }
      AttrMap attrs;
      if (jn.contains("attrs"))
        for (auto& [k, v] : jn["attrs"].items()) attrs[k] = attr_from_json(v, where + " attribute '" + k + "'");
      Node* n;
      try {
        n = g->add_node(jn.at("op").get<std::string>(), name, std::move(inputs), std::move(attrs), std::move(control));
      } catch (const Error& e) {
        fail<FormatError>("{}: {}", origin, e.what());
      }
      n->device = jn.value("device", "");
    }
    where = origin;
    if (j.contains("collections"))
      g->collections_ = j["collections"].get<std::map<std::string, std::vector<std::string>>>();
  } catch (const FormatError&) {
    throw;
  } catch (const std::exception& e) {
    fail<FormatError>("{}: {}", where, e.what());
  }
  return g;
}

void Graph::save(const std::string& path) const {
  std::string text = to_json();
  std::ofstream f(path, std::ios::binary);
  if (!f) fail<IoError>("cannot write graph file '{}'", path);
  f << text;
  if (!f) fail<IoError>("error writing graph file '{}'", path);
}

std::unique_ptr<Graph> Graph::load(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail<IoError>("cannot open graph file '{}'", path);
  std::stringstream ss;
  ss << f.rdbuf();
  return from_json(ss.str(), path);
}

}  // namespace qat::graph
