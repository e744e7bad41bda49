// Types and quantization parameters for every tensor of the lowered model.
//
// Activations: (scale, zero point) = TF's nudge of the tensor's range (quantize/fake_quant_math.h),
// so the integer grid is exactly the one the FakeQuant rounded to. int8 = the uint8 grid shifted
// by 128 (same scale): q_int8 = q_uint8 - 128 represents the same real value.
// Weights: with a FakeQuant, the integer codes are floor((clamp(w) - nmin) / scale + 0.5) + qmin,
// the index the FakeQuant rounded to, so the dequantized weights equal the fake-quantized ones.
// int8 convolutions need symmetric weights (zero point 0): a symmetric FakeQuant (zero point 128
// on its uint8 grid) is exact; an asymmetric one is re-quantized symmetrically per channel
// (reported in the notes). Bias: int32 round(b / (s_in * s_w[c])), zero point 0.
#include <cmath>
#include <cstring>
#include <limits>

#include "convert/ir.h"

namespace qat::convert::detail {
namespace {

template <class T>
std::vector<uint8_t> to_bytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!b.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<uint8_t> tensor_bytes(const Tensor& t) {
  std::vector<uint8_t> b(t.nbytes());
  if (!b.empty()) std::memcpy(b.data(), t.raw(), b.size());
  return b;
}

// Channel of flat index i along axis `dim` of `shape`.
struct ChannelIndex {
  int64_t inner = 1, count = 1;
  ChannelIndex(const std::vector<int32_t>& shape, int dim) {
    count = shape.empty() ? 1 : shape[dim];
    for (size_t d = dim + 1; d < shape.size(); ++d) inner *= shape[d];
  }
  int64_t operator()(int64_t i) const { return (i / inner) % count; }
};

// Weights with their FakeQuant applied (float), as the fake-quant graph used them.
Tensor fake_quantized(const ITensor& w) {
  Tensor v = w.value.clone();
  if (!w.grid.present()) return v;
  ChannelIndex ch(w.shape, w.quant_dim);
  const size_t ng = w.grid.nudged.size();
  float* p = v.data<float>();
  for (int64_t i = 0; i < v.size(); ++i) p[i] = fq::fake_quant_one(p[i], w.grid.nudged[ng == 1 ? 0 : ch(i)]);
  return v;
}

std::string ng_desc(const WeightGrid& g) {
  return g.nudged.size() == 1 ? "per-tensor" : fmt::format("per-channel ({})", g.nudged.size());
}

struct Params {
  float scale = 1.f;
  int64_t zero_point = 0;
};

class Quantizer {
 public:
  Quantizer(IModel& m, const ConvertOptions& opt) : m_(m), opt_(opt) {
    int8_ = opt.inference_type == InferenceType::kInt8;
    shift_ = int8_ ? -128 : 0;
    qtype_ = int8_ ? tfl::TensorType::kInt8 : tfl::TensorType::kUInt8;
  }
  void run();

 private:
  IModel& m_;
  const ConvertOptions& opt_;
  bool int8_ = false;
  int shift_ = 0;
  tfl::TensorType qtype_;
  std::vector<bool> done_;

  Params from_range(const Range& r) const {
    fq::Nudged nd = fq::nudge(r.min, r.max, fq::quant_range(r.num_bits, r.narrow_range));
    if (nd.zero || !(nd.scale > 0)) return {1.f, shift_};  // constant-zero tensor
    return {nd.scale, nd.zero_point + shift_};
  }

  void set_act(int t, Params p) {
    ITensor& x = m_.tensors[t];
    x.type = qtype_;
    x.quant = {};
    x.quant.scale = {p.scale};
    x.quant.zero_point = {p.zero_point};
    done_[t] = true;
  }
  Params params(int t) const {
    const auto& q = m_.tensors[t].quant;
    return {q.scale.at(0), q.zero_point.at(0)};
  }

  // Range of an activation: recorded (FakeQuant / calibration), else the defaults, else an error.
  void assign_from_range(int t, const IOp* consumer) {
    ITensor& x = m_.tensors[t];
    if (x.range) return set_act(t, from_range(*x.range));
    if (opt_.default_ranges) return set_act(t, from_range(Range{opt_.default_ranges->first, opt_.default_ranges->second}));
    std::string user = consumer ? fmt::format(", read by {}", consumer->node) : "";
    fail<UsageError>(
        "tensor '{}' (output of {}{}) has no min/max range: quantize it with a FakeQuant (QAT), calibrate with "
        "--representative-data, or pass --default-ranges MIN,MAX",
        x.name, x.producer, user);
  }

  void quantize_const(int t);
  void quantize_weights(int op_index, int t);
  void quantize_bias(int b, int in, int w);
  void assign_outputs(int op_index);
  void assign_inputs();
  void boundary_types();
};

// Per-tensor asymmetric 8-bit quantization of a constant operand (ADD / MUL / concat inputs).
void Quantizer::quantize_const(int t) {
  ITensor& c = m_.tensors[t];
  if (done_[t]) return;
  const float* p = c.value.data<float>();
  float mn = 0.f, mx = 0.f;
  for (int64_t i = 0; i < c.value.size(); ++i) mn = std::min(mn, p[i]), mx = std::max(mx, p[i]);
  if (mx == mn) mx = mn + 1e-6f;
  fq::Nudged nd = fq::nudge(mn, mx, fq::quant_range(8, false));
  std::vector<uint8_t> bytes(c.value.size());
  for (int64_t i = 0; i < c.value.size(); ++i) {
    float x = std::min(std::max(p[i], nd.min), nd.max);
    int q = (int)std::floor((x - nd.min) / nd.scale + 0.5f) + shift_;
    bytes[i] = (uint8_t)(int8_t)q;
    if (!int8_) bytes[i] = (uint8_t)q;
  }
  c.type = qtype_;
  c.quant.scale = {nd.scale};
  c.quant.zero_point = {nd.zero_point + shift_};
  c.data = std::move(bytes);
  done_[t] = true;
}

void Quantizer::quantize_weights(int op_index, int t) {
  ITensor& w = m_.tensors[t];
  if (done_[t]) return;
  const IOp& op = m_.ops[op_index];
  const bool per_channel_op = int8_ && op.code != kFullyConnected;  // TFLite int8 spec
  ChannelIndex ch(w.shape, w.quant_dim);
  const int64_t n = w.value.size();
  const float* raw = w.value.data<float>();
  std::vector<int> q(n);
  std::vector<float> scales;
  std::vector<int64_t> zps;
  const auto& g = w.grid;
  auto code = [](float x, const fq::Nudged& nd, int qmin) {
    float c = x < nd.min ? nd.min : (x > nd.max ? nd.max : x);
    return (int)std::floor((c - nd.min) / nd.scale + 0.5f) + qmin;
  };
  bool exact = false;
  if (g.present()) {
    bool all_equal = true, symmetric = true;
    for (const auto& nd : g.nudged) {
      all_equal &= nd.scale == g.nudged[0].scale && nd.zero_point == g.nudged[0].zero_point;
      symmetric &= nd.zero_point + shift_ == 0 && !nd.zero;
    }
    if (int8_ ? symmetric && (per_channel_op || g.nudged.size() == 1 || all_equal) : all_equal && !g.nudged[0].zero) {
      exact = true;
      const size_t ng = g.nudged.size();
      for (int64_t i = 0; i < n; ++i) q[i] = code(raw[i], g.nudged[ng == 1 ? 0 : ch(i)], g.range.qmin) + shift_;
      if (per_channel_op) {
        for (int64_t c = 0; c < ch.count; ++c) {
          scales.push_back(g.nudged[ng == 1 ? 0 : c].scale);
          zps.push_back(0);
        }
      } else {
        scales = {g.nudged[0].scale};
        zps = {g.nudged[0].zero_point + shift_};
      }
    } else {
      m_.notes.push_back(fmt::format("{}: weights '{}' re-quantized ({} FakeQuant grid does not fit {} weights)", op.node,
                                     w.name, ng_desc(g), int8_ ? "int8 symmetric" : "uint8 per-tensor"));
    }
  }
  if (!exact) {
    Tensor v = fake_quantized(w);
    const float* p = v.data<float>();
    if (int8_) {
      // Symmetric, narrow range [-127, 127]: scale = max|w| / 127 per channel (or per tensor).
      int64_t nch = per_channel_op ? ch.count : 1;
      std::vector<float> amax(nch, 0.f);
      for (int64_t i = 0; i < n; ++i) {
        int64_t c = per_channel_op ? ch(i) : 0;
        amax[c] = std::max(amax[c], std::fabs(p[i]));
      }
      for (int64_t c = 0; c < nch; ++c) {
        scales.push_back(amax[c] > 0 ? amax[c] / 127.f : 1.f);
        zps.push_back(0);
      }
      for (int64_t i = 0; i < n; ++i) {
        float s = scales[per_channel_op ? ch(i) : 0];
        q[i] = (int)std::max(-127.f, std::min(127.f, std::round(p[i] / s)));
      }
    } else {
      float mn = 0.f, mx = 0.f;
      for (int64_t i = 0; i < n; ++i) mn = std::min(mn, p[i]), mx = std::max(mx, p[i]);
      if (mx == mn) mx = mn + 1e-6f;
      fq::Nudged nd = fq::nudge(mn, mx, fq::quant_range(8, false));
      for (int64_t i = 0; i < n; ++i) q[i] = code(p[i], nd, 0);
      scales = {nd.scale};
      zps = {nd.zero_point};
    }
  }
  w.type = qtype_;
  w.quant = {};
  w.quant.scale = scales;
  w.quant.zero_point = zps;
  w.quant.quantized_dimension = scales.size() > 1 ? w.quant_dim : 0;
  w.data.resize(n);
  for (int64_t i = 0; i < n; ++i) w.data[i] = int8_ ? (uint8_t)(int8_t)q[i] : (uint8_t)q[i];
  done_[t] = true;
}

void Quantizer::quantize_bias(int b, int in, int w) {
  ITensor& bt = m_.tensors[b];
  const auto& ws = m_.tensors[w].quant.scale;
  const float s_in = m_.tensors[in].quant.scale.at(0);
  const int64_t n = bt.value.size();
  std::vector<int32_t> q(n);
  std::vector<float> scales;
  const float* p = bt.value.data<float>();
  for (int64_t c = 0; c < n; ++c) {
    float s = s_in * ws[ws.size() == 1 ? 0 : c];  // float32 product, as TFLite's kernels compute it
    double v = std::round((double)p[c] / (double)s);
    v = std::min<double>(std::max<double>(v, std::numeric_limits<int32_t>::min()), std::numeric_limits<int32_t>::max());
    q[c] = (int32_t)v;
    if (ws.size() > 1 || c == 0) scales.push_back(s);
  }
  bt.type = tfl::TensorType::kInt32;
  bt.quant = {};
  bt.quant.scale = scales;
  bt.quant.zero_point.assign(scales.size(), 0);
  bt.data = to_bytes(q);
  done_[b] = true;
}

void Quantizer::assign_outputs(int op_index) {
  const IOp& op = m_.ops[op_index];
  for (int t : op.outputs) {
    if (done_[t]) continue;
    switch (op.code) {
      case kSoftmax:
      case kLogistic:
        set_act(t, {1.f / 256.f, shift_});  // TFLite's fixed output parameters
        break;
      case kTanh:
        set_act(t, {1.f / 128.f, 128 + shift_});
        break;
      case kMaxPool2D:
      case kAveragePool2D:
      case kReshape:
      case kPad:
        // TFLite requires output parameters equal to the input's.
        set_act(t, params(op.inputs[0]));
        break;
      case kMean:
        if (m_.tensors[t].range) assign_from_range(t, nullptr);
        else set_act(t, params(op.inputs[0]));
        break;
      case kConcatenation:
        if (m_.tensors[t].range || opt_.default_ranges) {
          assign_from_range(t, nullptr);
        } else {
          // No range of its own: the union of the inputs' ranges.
          float mn = 0, mx = 0;
          for (int i : op.inputs) {
            Params p = params(i);
            int qmin = int8_ ? -128 : 0;
            mn = std::min(mn, p.scale * (float)(qmin - p.zero_point));
            mx = std::max(mx, p.scale * (float)(qmin + 255 - p.zero_point));
          }
          set_act(t, from_range(Range{mn, mx}));
        }
        break;
      default:
        assign_from_range(t, nullptr);
    }
  }
}

void Quantizer::assign_inputs() {
  const InferenceType in_type = opt_.inference_input_type.value_or(opt_.inference_type);
  for (int t : m_.inputs) {
    ITensor& x = m_.tensors[t];
    auto it = opt_.input_stats.find(x.name);
    if (it == opt_.input_stats.end()) {
      assign_from_range(t, nullptr);
      continue;
    }
    auto [mean, stddev] = it->second;
    if (!(stddev > 0)) fail<UsageError>("--input-stats {}: std must be > 0", x.name);
    // The stats live in the integer domain of the input type (the internal type when the input
    // is float): real = (q - mean) / std.
    bool dom_int8 = in_type == InferenceType::kFloat ? int8_ : in_type == InferenceType::kInt8;
    int64_t zp = (int64_t)std::llround(mean);
    int64_t lo = dom_int8 ? -128 : 0, hi = dom_int8 ? 127 : 255;
    if (zp < lo || zp > hi)
      fail<UsageError>("--input-stats {}: mean {} is outside the {} range [{}, {}]", x.name, mean,
                       dom_int8 ? "int8" : "uint8", lo, hi);
    if (dom_int8 != int8_) zp += int8_ ? -128 : 128;
    set_act(t, {(float)(1.0 / stddev), zp});
  }
}

// Input / output tensors of another type than the model's: QUANTIZE / DEQUANTIZE at the edge.
void Quantizer::boundary_types() {
  auto type_of = [](InferenceType t) {
    return t == InferenceType::kFloat ? tfl::TensorType::kFloat32
                                      : t == InferenceType::kInt8 ? tfl::TensorType::kInt8 : tfl::TensorType::kUInt8;
  };
  auto edge_tensor = [&](int t, InferenceType type) {
    ITensor e;
    e.name = m_.tensors[t].name;
    e.shape = m_.tensors[t].shape;
    e.shape_signature = m_.tensors[t].shape_signature;
    e.type = type_of(type);
    if (type != InferenceType::kFloat) {
      Params p = params(t);
      int d = (type == InferenceType::kInt8 ? -128 : 0) - shift_;
      e.quant.scale = {p.scale};
      e.quant.zero_point = {p.zero_point + d};
    }
    m_.tensors[t].name += type == InferenceType::kFloat ? "/quantized" : (int8_ ? "/int8" : "/uint8");
    return m_.add_tensor(std::move(e));
  };
  const InferenceType in_type = opt_.inference_input_type.value_or(opt_.inference_type);
  const InferenceType out_type = opt_.inference_output_type.value_or(opt_.inference_type);
  std::vector<IOp> pre, post;
  if (in_type != opt_.inference_type)
    for (int& t : m_.inputs) {
      int e = edge_tensor(t, in_type);
      pre.push_back(IOp{kQuantize, "", {e}, {t}, tfl::QuantizeOptions{}, "model input"});
      t = e;
    }
  if (out_type != opt_.inference_type)
    for (int& t : m_.outputs) {
      int e = edge_tensor(t, out_type);
      if (out_type == InferenceType::kFloat) post.push_back(IOp{kDequantize, "", {t}, {e}, tfl::DequantizeOptions{}, "model output"});
      else post.push_back(IOp{kQuantize, "", {t}, {e}, tfl::QuantizeOptions{}, "model output"});
      t = e;
    }
  m_.ops.insert(m_.ops.begin(), pre.begin(), pre.end());
  m_.ops.insert(m_.ops.end(), post.begin(), post.end());
}

void Quantizer::run() {
  done_.assign(m_.tensors.size(), false);
  assign_inputs();
  for (int i = 0; i < (int)m_.ops.size(); ++i) {
    IOp& op = m_.ops[i];
    if (op.code == kCustom) fail<UsageError>("{}: custom op '{}' cannot be quantized", op.node, op.custom_code);
    for (size_t k = 0; k < op.inputs.size(); ++k) {
      int t = op.inputs[k];
      ITensor& x = m_.tensors[t];
      if (x.role == Role::kWeight) quantize_weights(i, t);
      else if (x.role == Role::kConst) quantize_const(t);
      else if (x.role == Role::kActivation && !done_[t]) assign_from_range(t, &op);
    }
    if (op.code == kConv2D || op.code == kDepthwiseConv2D || op.code == kFullyConnected)
      quantize_bias(op.inputs[2], op.inputs[0], op.inputs[1]);
    assign_outputs(i);
  }
  for (auto& t : m_.tensors)
    if (t.role == Role::kIndex) {
      t.type = tfl::TensorType::kInt32;
      t.data = tensor_bytes(t.value);
    }
  boundary_types();
}

}  // namespace

void quantize_model(IModel& m, const ConvertOptions& opt) {
  if (opt.inference_type != InferenceType::kFloat) {
    Quantizer q(m, opt);
    q.run();
    return;
  }
  // Float model: weights are the fake-quantized values (what the QAT graph computed with).
  for (auto& t : m.tensors) {
    if (t.role == Role::kActivation) {
      t.type = tfl::TensorType::kFloat32;
    } else if (t.role == Role::kIndex) {
      t.type = tfl::TensorType::kInt32;
      t.data = tensor_bytes(t.value);
    } else {
      t.type = tfl::TensorType::kFloat32;
      t.data = tensor_bytes(t.role == Role::kWeight ? fake_quantized(t) : t.value);
    }
  }
  if (!opt.post_training_quantize) return;
  // Weight-only (hybrid): int8 symmetric per-tensor weights read directly by CONV_2D and
  // FULLY_CONNECTED (TFLite's hybrid kernels quantize the activations on the fly); DEPTHWISE
  // gets them through a DEQUANTIZE op (no hybrid depthwise kernel in TFLite 2.2).
  std::vector<IOp> ops;
  for (auto& op : m.ops) {
    if (op.code == kConv2D || op.code == kDepthwiseConv2D || op.code == kFullyConnected) {
      int wi = op.inputs[1];
      if (m.tensors[wi].value.size() >= opt.weight_only_min_elements) {
        Tensor v = fake_quantized(m.tensors[wi]);
        const float* p = v.data<float>();
        float amax = 0.f;
        for (int64_t i = 0; i < v.size(); ++i) amax = std::max(amax, std::fabs(p[i]));
        float s = amax > 0 ? amax / 127.f : 1.f;
        std::vector<int8_t> q(v.size());
        for (int64_t i = 0; i < v.size(); ++i) q[i] = (int8_t)std::max(-127.f, std::min(127.f, std::round(p[i] / s)));
        ITensor qt = m.tensors[wi];
        qt.type = tfl::TensorType::kInt8;
        qt.quant.scale = {s};
        qt.quant.zero_point = {0};
        qt.data = to_bytes(q);
        if (op.code == kDepthwiseConv2D) {
          qt.name += "/int8";
          int qi = m.add_tensor(std::move(qt));
          ITensor f = m.tensors[wi];
          f.role = Role::kActivation;
          f.data.clear();
          int fi = m.add_tensor(std::move(f));
          ops.push_back(IOp{kDequantize, "", {qi}, {fi}, tfl::DequantizeOptions{}, op.node});
          op.inputs[1] = fi;
        } else {
          op.inputs[1] = m.add_tensor(std::move(qt));
        }
      }
    }
    ops.push_back(op);
  }
  m.ops = std::move(ops);
}

}  // namespace qat::convert::detail
