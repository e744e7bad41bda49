// Lowering: frozen graph ops -> TFLite builtins on float tensors (types come later).
//
// Activation values are tracked per graph output ("node:k" -> tensor). Identity and FakeQuant
// on activations are aliases: the FakeQuant's range is recorded on the tensor it wraps (the
// integer model then carries exactly the grid the fake-quant graph rounded to). Constants are
// resolved lazily by the op that reads them, so weights are laid out once, in the layout that op
// wants (HWIO -> OHWI for CONV_2D, [KH,KW,C,M] -> [1,KH,KW,C*M] for DEPTHWISE_CONV_2D,
// [in,out] -> [out,in] for FULLY_CONNECTED), and a FakeQuant on weights becomes their grid.
#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "convert/ir.h"
#include "qat/freeze.h"

namespace qat::convert::detail {

using graph::Graph;
using graph::Node;
using graph::Output;

const char* builtin_name(int32_t code) {
  switch (code) {
    case kAdd: return "ADD";
    case kAveragePool2D: return "AVERAGE_POOL_2D";
    case kConcatenation: return "CONCATENATION";
    case kConv2D: return "CONV_2D";
    case kDepthwiseConv2D: return "DEPTHWISE_CONV_2D";
    case kDequantize: return "DEQUANTIZE";
    case kFullyConnected: return "FULLY_CONNECTED";
    case kLogistic: return "LOGISTIC";
    case kMaxPool2D: return "MAX_POOL_2D";
    case kMul: return "MUL";
    case kRelu: return "RELU";
    case kRelu6: return "RELU6";
    case kReshape: return "RESHAPE";
    case kSoftmax: return "SOFTMAX";
    case kTanh: return "TANH";
    case kCustom: return "CUSTOM";
    case kPad: return "PAD";
    case kMean: return "MEAN";
    case kSub: return "SUB";
    case kQuantize: return "QUANTIZE";
    default: return "UNKNOWN";
  }
}

bool set_fused_activation(tfl::BuiltinOptions& o, int8_t act) {
  return std::visit(
      [&](auto& v) {
        if constexpr (requires { v.fused_activation_function; }) {
          v.fused_activation_function = act;
          return true;
        } else {
          return false;
        }
      },
      o);
}

int8_t fused_activation(const tfl::BuiltinOptions& o) {
  return std::visit(
      [](const auto& v) -> int8_t {
        if constexpr (requires { v.fused_activation_function; }) return v.fused_activation_function;
        else return -1;
      },
      o);
}

namespace {

constexpr int8_t kActNone = 0, kActRelu = 1, kActRelu6 = 3;

// A constant as an op sees it: its value and, when a FakeQuant wraps it, that FakeQuant.
struct ConstRef {
  const Tensor* value = nullptr;
  const Node* fake_quant = nullptr;
};

class Lowerer {
 public:
  Lowerer(const Graph& g, const ConvertOptions& opt) : g_(g), opt_(opt) {}

  IModel run(const RangeMap* ranges);

 private:
  const Graph& g_;
  const ConvertOptions& opt_;
  IModel m_;
  std::map<std::string, int> act_;       // graph output -> tensor
  std::set<std::string> output_names_;   // model outputs (never fused away)
  std::unordered_set<int> bias_free_;    // ops whose bias tensor is still the zero placeholder
  std::map<int, int> bias_of_;           // op -> bias tensor

  // ---- helpers
  static std::string key(const Output& o) { return o.str(); }
  std::vector<int32_t> dims(const Shape& s, std::vector<int32_t>* signature = nullptr) const {
    std::vector<int32_t> d;
    bool dynamic = false;
    for (int64_t v : s) {
      d.push_back(v < 0 ? opt_.batch_size : (int32_t)v);
      dynamic |= v < 0;
    }
    if (signature && dynamic)
      for (int64_t v : s) signature->push_back(v < 0 ? -1 : (int32_t)v);
    return d;
  }

  std::optional<ConstRef> as_const(Output o) const {
    const Node* fq = nullptr;
    for (;;) {
      const Node* n = o.node;
      if (n->op() == "Const") return ConstRef{&n->attr_tensor("value"), fq};
      if (n->op() == "Identity" || n->op() == "StopGradient") {
        o = n->input(0);
        continue;
      }
      if (freeze::is_fake_quant_op(n->op()) && !fq) {
        fq = n;
        o = n->input(0);
        continue;
      }
      return std::nullopt;
    }
  }

  int act(Output o, const Node* user) {
    auto it = act_.find(key(o));
    if (it != act_.end()) return it->second;
    if (as_const(o))
      fail<UsageError>("{}: constant input {} is not supported here (freeze should have folded it)",
                       user->describe(), o.str());
    fail<UsageError>("{}: input {} was not converted", user->describe(), o.str());
  }

  int new_activation(const Node* n, int k) {
    ITensor t;
    Output o = const_cast<Node*>(n)->output(k);
    t.name = n->num_outputs() == 1 ? n->name() : o.str();
    t.shape = dims(n->output_info(k).shape, &t.shape_signature);
    t.origins.push_back(key(o));
    t.producer = n->describe();
    t.producer_op = (int)m_.ops.size();  // the op about to be added
    int id = m_.add_tensor(std::move(t));
    act_[key(o)] = id;
    return id;
  }

  void alias(const Node* n, int k, int tensor) {
    Output o = const_cast<Node*>(n)->output(k);
    act_[key(o)] = tensor;
    m_.tensors[tensor].origins.push_back(key(o));
    if (output_names_.count(n->name())) m_.tensors[tensor].name = n->name();
  }

  int add_op(int32_t code, std::vector<int> in, std::vector<int> out, tfl::BuiltinOptions o, const Node* n) {
    IOp op;
    op.code = code;
    op.inputs = std::move(in);
    op.outputs = std::move(out);
    op.options = std::move(o);
    op.node = n->describe();
    m_.ops.push_back(std::move(op));
    int idx = (int)m_.ops.size() - 1;
    for (int t : m_.ops[idx].outputs) m_.tensors[t].producer_op = idx;
    return idx;
  }

  // The grid a FakeQuant on weights used, for `channels` channels (per-channel FakeQuant:
  // one grid per channel of the weights' last axis / flattened depthwise trailing axes).
  WeightGrid grid_of(const Node* fq) const {
    WeightGrid w;
    if (!fq) return w;
    int bits = (int)fq->attr_int("num_bits", 8);
    bool narrow = fq->attr_bool("narrow_range", false);
    w.range = fq::quant_range(bits, narrow);
    std::vector<float> mins, maxs;
    range_inputs(fq, mins, maxs);
    for (size_t c = 0; c < mins.size(); ++c) w.nudged.push_back(fq::nudge(mins[c], maxs[c], w.range));
    return w;
  }

  void range_inputs(const Node* fq, std::vector<float>& mins, std::vector<float>& maxs) const {
    if (fq->num_inputs() >= 3) {
      auto mn = as_const(fq->input(1)), mx = as_const(fq->input(2));
      if (!mn || !mx)
        fail<UsageError>("{}: min/max are not constants (was the graph frozen?)", fq->describe());
      for (int64_t i = 0; i < mn->value->size(); ++i) mins.push_back((float)mn->value->at(i));
      for (int64_t i = 0; i < mx->value->size(); ++i) maxs.push_back((float)mx->value->at(i));
    } else {
      mins.push_back((float)fq->attr_float("min"));
      maxs.push_back((float)fq->attr_float("max"));
    }
    if (mins.size() != maxs.size() || mins.empty())
      fail<UsageError>("{}: min and max have different sizes", fq->describe());
  }

  // A constant tensor in TFLite layout. `fq_channels_last`: the FakeQuant's channels are the last
  // axis of the source (already the quant_dim after the layout change).
  int const_tensor(const std::string& name, Tensor value, Role role, const std::vector<int32_t>& shape,
                   WeightGrid grid = {}, int quant_dim = 0) {
    ITensor t;
    t.name = name;
    t.shape = shape;
    t.role = role;
    t.value = std::move(value);
    t.grid = std::move(grid);
    t.quant_dim = quant_dim;
    return m_.add_tensor(std::move(t));
  }

  int const_operand(const Node* user, Output o) {
    auto c = as_const(o);
    Tensor v = c->value->dtype() == DType::kFloat32 ? c->value->clone() : Tensor();
    if (!v.defined()) fail<UsageError>("{}: constant {} must be float32", user->describe(), o.str());
    if (c->fake_quant) {  // fold the FakeQuant into the value; its grid is per tensor here
      WeightGrid gr = grid_of(c->fake_quant);
      float* p = v.data<float>();
      int64_t ch = (int64_t)gr.nudged.size();
      for (int64_t i = 0; i < v.size(); ++i) p[i] = fq::fake_quant_one(p[i], gr.nudged[i % ch]);
    }
    std::vector<int32_t> shape;
    for (auto d : v.shape()) shape.push_back((int32_t)d);
    return const_tensor(o.node->name(), std::move(v), Role::kConst, shape);
  }

  int operand(const Node* user, Output o) { return as_const(o) ? const_operand(user, o) : act(o, user); }

  int index_tensor(const std::string& name, const std::vector<int32_t>& values, std::vector<int32_t> shape) {
    Tensor v(DType::kInt32, {(int64_t)values.size()});
    std::copy(values.begin(), values.end(), v.data<int32_t>());
    return const_tensor(name, v.reshaped(Shape(shape.begin(), shape.end())), Role::kIndex, shape);
  }

  bool single_consumer(Output o) const { return g_.consumers(o).size() == 1 && !output_names_.count(o.node->name()); }

  // ---- op lowerings
  void lower_conv(const Node* n);
  void lower_matmul(const Node* n);
  void lower_bias_add(const Node* n, Output x, Output b);
  void lower_activation(const Node* n, int8_t act, int32_t standalone);
  void lower_pool(const Node* n, int32_t code);
  void lower_mean(const Node* n);
  void lower_binary(const Node* n, int32_t code);
  void lower_fake_quant(const Node* n);
  void lower_batch_norm(const Node* n);
  void lower_custom(const Node* n);
  void lower_node(const Node* n);
};

tfl::Conv2DOptions conv_options(const Node* n) {
  tfl::Conv2DOptions o;
  auto s = n->attr_ints("strides", {1, 1});
  auto d = n->attr_ints("dilations", {1, 1});
  o.padding = n->attr_string("padding", "SAME") == "VALID" ? 1 : 0;
  o.stride_h = (int32_t)s.at(0);
  o.stride_w = (int32_t)s.at(1);
  o.dilation_h_factor = (int32_t)d.at(0);
  o.dilation_w_factor = (int32_t)d.at(1);
  return o;
}

void Lowerer::lower_conv(const Node* n) {
  const bool depthwise = n->op() == "DepthwiseConv2dNative";
  int x = act(n->input(0), n);
  auto w = as_const(n->input(1));
  if (!w) fail<UsageError>("{}: the filter must be constant (freeze the graph first)", n->describe());
  const Tensor& wt = *w->value;
  if (wt.rank() != 4 || wt.dtype() != DType::kFloat32)
    fail<UsageError>("{}: filter must be float32 [KH,KW,C,O], got {}", n->describe(), wt.str(0));
  const int64_t kh = wt.dim(0), kw = wt.dim(1), c = wt.dim(2), o = wt.dim(3);
  WeightGrid grid = grid_of(w->fake_quant);
  Tensor filt;
  std::vector<int32_t> fshape;
  int64_t out_ch;
  if (!depthwise) {
    // HWIO -> OHWI: out[o][h][w][i] = in[h][w][i][o].
    filt = Tensor(DType::kFloat32, {o, kh, kw, c});
    const float* src = wt.data<float>();
    float* dst = filt.data<float>();
    for (int64_t oc = 0; oc < o; ++oc)
      for (int64_t h = 0; h < kh; ++h)
        for (int64_t ww = 0; ww < kw; ++ww)
          for (int64_t ic = 0; ic < c; ++ic) dst[((oc * kh + h) * kw + ww) * c + ic] = src[((h * kw + ww) * c + ic) * o + oc];
    fshape = {(int32_t)o, (int32_t)kh, (int32_t)kw, (int32_t)c};
    out_ch = o;
  } else {
    // [KH,KW,C,M] and [1,KH,KW,C*M] have the same memory order: output channel c*M + m.
    filt = wt.clone().reshaped({1, kh, kw, c * o});
    fshape = {1, (int32_t)kh, (int32_t)kw, (int32_t)(c * o)};
    out_ch = c * o;
  }
  if (grid.present() && grid.nudged.size() != 1 && (int64_t)grid.nudged.size() != out_ch)
    fail<UsageError>("{}: per-channel FakeQuant on the filter has {} channels, the layer {}", n->describe(),
                     grid.nudged.size(), out_ch);
  std::string base = n->input(1).node->name();
  int f = const_tensor(base, std::move(filt), Role::kWeight, fshape, std::move(grid), depthwise ? 3 : 0);
  int b = const_tensor(n->name() + "/bias", Tensor::zeros({out_ch}), Role::kBias, {(int32_t)out_ch});
  int y = new_activation(n, 0);
  tfl::BuiltinOptions opts;
  tfl::Conv2DOptions co = conv_options(n);
  if (depthwise) {
    tfl::DepthwiseConv2DOptions d;
    d.padding = co.padding;
    d.stride_w = co.stride_w;
    d.stride_h = co.stride_h;
    d.dilation_w_factor = co.dilation_w_factor;
    d.dilation_h_factor = co.dilation_h_factor;
    d.depth_multiplier = (int32_t)o;
    opts = d;
  } else {
    opts = co;
  }
  int op = add_op(depthwise ? kDepthwiseConv2D : kConv2D, {x, f, b}, {y}, opts, n);
  bias_free_.insert(op);
  bias_of_[op] = b;
}

void Lowerer::lower_matmul(const Node* n) {
  if (n->attr_bool("transpose_a", false)) fail<UsageError>("{}: transpose_a is not supported by FULLY_CONNECTED", n->describe());
  int x = act(n->input(0), n);
  auto w = as_const(n->input(1));
  if (!w) fail<UsageError>("{}: the weights must be constant (freeze the graph first)", n->describe());
  const Tensor& wt = *w->value;
  if (wt.rank() != 2) fail<UsageError>("{}: weights must be rank 2", n->describe());
  const bool tb = n->attr_bool("transpose_b", false);
  const int64_t in = tb ? wt.dim(1) : wt.dim(0), out = tb ? wt.dim(0) : wt.dim(1);
  Tensor wf(DType::kFloat32, {out, in});
  const float* src = wt.data<float>();
  float* dst = wf.data<float>();
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) dst[o * in + i] = tb ? src[o * in + i] : src[i * out + o];
  WeightGrid grid = grid_of(w->fake_quant);
  if (tb && grid.nudged.size() > 1)
    fail<UsageError>("{}: per-channel FakeQuant on transposed weights is not supported", n->describe());
  int f = const_tensor(n->input(1).node->name(), std::move(wf), Role::kWeight, {(int32_t)out, (int32_t)in},
                       std::move(grid), 0);
  int b = const_tensor(n->name() + "/bias", Tensor::zeros({out}), Role::kBias, {(int32_t)out});
  int y = new_activation(n, 0);
  int op = add_op(kFullyConnected, {x, f, b}, {y}, tfl::FullyConnectedOptions{}, n);
  bias_free_.insert(op);
  bias_of_[op] = b;
}

void Lowerer::lower_bias_add(const Node* n, Output x, Output b) {
  auto bc = as_const(b);
  auto it = act_.find(key(x));
  if (bc && it != act_.end()) {
    ITensor& t = m_.tensors[it->second];
    int op = t.producer_op;
    // Fuse into the producing CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED when nothing else
    // reads the pre-bias value and no range was recorded on it.
    if (op >= 0 && bias_free_.count(op) && single_consumer(x) && !t.range && bc->value->rank() == 1 &&
        bc->value->size() == m_.tensors[bias_of_[op]].value.size() && bc->value->dtype() == DType::kFloat32 &&
        fused_activation(m_.ops[op].options) == kActNone) {
      Tensor bias = bc->value->clone();
      if (bc->fake_quant) {
        WeightGrid gr = grid_of(bc->fake_quant);
        float* p = bias.data<float>();
        for (int64_t i = 0; i < bias.size(); ++i) p[i] = fq::fake_quant_one(p[i], gr.nudged[i % gr.nudged.size()]);
      }
      m_.tensors[bias_of_[op]].value = bias;
      m_.tensors[bias_of_[op]].name = b.node->name();
      bias_free_.erase(op);
      t.name = n->name();
      alias(n, 0, it->second);
      return;
    }
  }
  int a = operand(n, x), c = operand(n, b);
  int y = new_activation(n, 0);
  add_op(kAdd, {a, c}, {y}, tfl::AddOptions{}, n);
}

void Lowerer::lower_activation(const Node* n, int8_t a, int32_t standalone) {
  Output x = n->input(0);
  int t = act(x, n);
  int op = m_.tensors[t].producer_op;
  if (op >= 0 && single_consumer(x) && fused_activation(m_.ops[op].options) == kActNone &&
      m_.ops[op].code != kConcatenation) {
    set_fused_activation(m_.ops[op].options, a);
    bias_free_.erase(op);  // a later BiasAdd can no longer move before the activation
    m_.tensors[t].name = n->name();
    alias(n, 0, t);
    return;
  }
  int y = new_activation(n, 0);
  add_op(standalone, {t}, {y}, {}, n);
}

void Lowerer::lower_pool(const Node* n, int32_t code) {
  int x = act(n->input(0), n);
  tfl::Pool2DOptions o;
  auto k = n->attr_ints("ksize", {2, 2});
  auto s = n->attr_ints("strides", {2, 2});
  o.padding = n->attr_string("padding", "VALID") == "VALID" ? 1 : 0;
  o.filter_height = (int32_t)k.at(0);
  o.filter_width = (int32_t)k.at(1);
  o.stride_h = (int32_t)s.at(0);
  o.stride_w = (int32_t)s.at(1);
  int y = new_activation(n, 0);
  add_op(code, {x}, {y}, o, n);
}

void Lowerer::lower_mean(const Node* n) {
  int x = act(n->input(0), n);
  const auto& in_shape = m_.tensors[x].shape;
  auto axes = n->attr_ints("axes");
  bool keep = n->attr_bool("keep_dims", false);
  const int rank = (int)in_shape.size();
  std::vector<int32_t> ax;
  for (auto a : axes) ax.push_back((int32_t)(a < 0 ? a + rank : a));
  std::sort(ax.begin(), ax.end());
  if (rank == 4 && ax == std::vector<int32_t>{1, 2}) {
    // Global average pooling: AVERAGE_POOL_2D over the whole plane (+ RESHAPE to [N,C]). This is
    // what TF's converter emits for it; the pool keeps its input's quantization.
    tfl::Pool2DOptions o;
    o.padding = 1;
    o.filter_height = in_shape[1];
    o.filter_width = in_shape[2];
    o.stride_h = in_shape[1];
    o.stride_w = in_shape[2];
    if (keep) {
      int y = new_activation(n, 0);
      add_op(kAveragePool2D, {x}, {y}, o, n);
      return;
    }
    ITensor mid;
    mid.name = n->name() + "/pool";
    mid.shape = {in_shape[0], 1, 1, in_shape[3]};
    if (!m_.tensors[x].shape_signature.empty()) mid.shape_signature = {-1, 1, 1, in_shape[3]};
    mid.producer = n->describe();
    int p = m_.add_tensor(std::move(mid));
    add_op(kAveragePool2D, {x}, {p}, o, n);
    int y = new_activation(n, 0);
    int shp = index_tensor(n->name() + "/shape", m_.tensors[y].shape, {(int32_t)m_.tensors[y].shape.size()});
    add_op(kReshape, {p, shp}, {y}, tfl::ReshapeOptions{m_.tensors[y].shape}, n);
    return;
  }
  int axis = index_tensor(n->name() + "/axes", ax, {(int32_t)ax.size()});
  int y = new_activation(n, 0);
  add_op(kMean, {x, axis}, {y}, tfl::ReducerOptions{keep}, n);
}

void Lowerer::lower_binary(const Node* n, int32_t code) {
  int a = operand(n, n->input(0)), b = operand(n, n->input(1));
  int y = new_activation(n, 0);
  tfl::BuiltinOptions o;
  if (code == kAdd) o = tfl::AddOptions{};
  else if (code == kSub) o = tfl::SubOptions{};
  else o = tfl::MulOptions{};
  add_op(code, {a, b}, {y}, o, n);
}

void Lowerer::lower_fake_quant(const Node* n) {
  if (as_const(n->input(0))) return;  // weights: read through by the consumer (as_const)
  int t = act(n->input(0), n);
  // A FakeQuant still inside its quant delay (step input < quant_delay) is an identity.
  if (n->num_inputs() == 4 && n->attr_int("quant_delay", 0) > 0) {
    auto step = as_const(n->input(3));
    if (step && step->value->at(0) < (double)n->attr_int("quant_delay", 0)) {
      m_.notes.push_back(n->describe() + ": inside its quant delay, no range recorded");
      alias(n, 0, t);
      return;
    }
  }
  std::vector<float> mins, maxs;
  range_inputs(n, mins, maxs);
  Range r;
  r.min = *std::min_element(mins.begin(), mins.end());
  r.max = *std::max_element(maxs.begin(), maxs.end());
  if (mins.size() > 1) m_.notes.push_back(n->describe() + ": per-channel activation range merged into one range");
  r.num_bits = (int)n->attr_int("num_bits", 8);
  r.narrow_range = n->attr_bool("narrow_range", false);
  if (r.num_bits > 8) fail<UsageError>("{}: num_bits {} does not fit 8-bit TFLite tensors", n->describe(), r.num_bits);
  m_.tensors[t].range = r;
  alias(n, 0, t);
}

void Lowerer::lower_batch_norm(const Node* n) {
  // An unfolded inference batch norm (no conv before it): y = x * s + (beta - mean * s).
  std::vector<ConstRef> p;
  for (int i = 1; i <= 4; ++i) {
    auto c = as_const(n->input(i));
    if (!c) fail<UsageError>("{}: batch-norm parameters must be constant (freeze the graph first)", n->describe());
    p.push_back(*c);
  }
  const int64_t ch = p[0].value->size();
  Tensor s(DType::kFloat32, {ch}), off(DType::kFloat32, {ch});
  double eps = n->attr_float("epsilon", 1e-3);
  for (int64_t c = 0; c < ch; ++c) {
    double sc = p[0].value->at(c) / std::sqrt(p[3].value->at(c) + eps);
    s.data<float>()[c] = (float)sc;
    off.data<float>()[c] = (float)(p[1].value->at(c) - p[2].value->at(c) * sc);
  }
  int x = act(n->input(0), n);
  int st = const_tensor(n->name() + "/scale", s, Role::kConst, {(int32_t)ch});
  int ot = const_tensor(n->name() + "/offset", off, Role::kConst, {(int32_t)ch});
  ITensor mid;
  mid.name = n->name() + "/mul";
  mid.shape = m_.tensors[x].shape;
  mid.shape_signature = m_.tensors[x].shape_signature;
  mid.producer = n->describe() + " (its MUL half)";
  int mm = m_.add_tensor(std::move(mid));
  add_op(kMul, {x, st}, {mm}, tfl::MulOptions{}, n);
  int y = new_activation(n, 0);
  add_op(kAdd, {mm, ot}, {y}, tfl::AddOptions{}, n);
}

void Lowerer::lower_custom(const Node* n) {
  if (!opt_.allow_custom_ops)
    fail<UsageError>("{}: op '{}' has no TFLite builtin; pass --allow-custom-ops to write it as a custom op",
                     n->describe(), n->op());
  std::vector<int> in;
  for (const auto& i : n->inputs()) in.push_back(operand(n, i));
  std::vector<int> out;
  for (int k = 0; k < n->num_outputs(); ++k) out.push_back(new_activation(n, k));
  int op = add_op(kCustom, in, out, {}, n);
  m_.ops[op].custom_code = n->op();
  m_.notes.push_back(n->describe() + ": written as custom op '" + n->op() + "'");
}

void Lowerer::lower_node(const Node* n) {
  const std::string& op = n->op();
  if (op == "Const") return;
  if (op == "Placeholder") {
    bool is_input = opt_.input_arrays.empty() ||
                    std::find(opt_.input_arrays.begin(), opt_.input_arrays.end(), n->name()) != opt_.input_arrays.end();
    if (!is_input) fail<UsageError>("{}: placeholder is needed by the outputs but not in the input arrays", n->describe());
    int t = new_activation(n, 0);
    m_.tensors[t].producer = n->describe() + " (a model input)";
    m_.tensors[t].producer_op = -1;
    m_.inputs.push_back(t);
    return;
  }
  if (op == "Identity" || op == "StopGradient" || op == "Snapshot") {
    if (!as_const(n->input(0))) alias(n, 0, act(n->input(0), n));
    return;
  }
  if (freeze::is_fake_quant_op(op)) return lower_fake_quant(n);
  if (op == "Conv2D" || op == "DepthwiseConv2dNative") return lower_conv(n);
  if (op == "MatMul") return lower_matmul(n);
  if (op == "BiasAdd") return lower_bias_add(n, n->input(0), n->input(1));
  if (op == "Add" || op == "AddV2") {
    // x + const bias vector behaves as BiasAdd (and fuses the same way).
    if (as_const(n->input(1)) && !as_const(n->input(0))) return lower_bias_add(n, n->input(0), n->input(1));
    if (as_const(n->input(0)) && !as_const(n->input(1))) return lower_bias_add(n, n->input(1), n->input(0));
    return lower_binary(n, kAdd);
  }
  if (op == "AddN" && n->num_inputs() == 2) return lower_binary(n, kAdd);
  if (op == "Sub") return lower_binary(n, kSub);
  if (op == "Mul") return lower_binary(n, kMul);
  if (op == "Relu") return lower_activation(n, kActRelu, kRelu);
  if (op == "Relu6") return lower_activation(n, kActRelu6, kRelu6);
  if (op == "MaxPool") return lower_pool(n, kMaxPool2D);
  if (op == "AvgPool") return lower_pool(n, kAveragePool2D);
  if (op == "Mean") return lower_mean(n);
  if (op == "FusedBatchNorm") return lower_batch_norm(n);
  if (op == "Softmax") {
    int x = act(n->input(0), n);
    int y = new_activation(n, 0);
    add_op(kSoftmax, {x}, {y}, tfl::SoftmaxOptions{}, n);
    return;
  }
  if (op == "Sigmoid") {
    int x = act(n->input(0), n);
    int y = new_activation(n, 0);
    add_op(kLogistic, {x}, {y}, {}, n);
    return;
  }
  if (op == "Reshape") {
    int x = act(n->input(0), n);
    int y = new_activation(n, 0);
    const auto& s = m_.tensors[y].shape;
    int shp = index_tensor(n->name() + "/shape", s, {(int32_t)s.size()});
    add_op(kReshape, {x, shp}, {y}, tfl::ReshapeOptions{s}, n);
    return;
  }
  if (op == "ConcatV2") {
    std::vector<int> in;
    for (const auto& i : n->inputs()) in.push_back(operand(n, i));
    int y = new_activation(n, 0);
    int rank = (int)m_.tensors[y].shape.size();
    int64_t axis = n->attr_int("axis");
    tfl::ConcatenationOptions o;
    o.axis = (int32_t)(axis < 0 ? axis + rank : axis);
    add_op(kConcatenation, in, {y}, o, n);
    return;
  }
  if (op == "Pad") {
    int x = act(n->input(0), n);
    auto p = n->attr_ints("paddings");
    std::vector<int32_t> v(p.begin(), p.end());
    int pt = index_tensor(n->name() + "/paddings", v, {(int32_t)(v.size() / 2), 2});
    int y = new_activation(n, 0);
    add_op(kPad, {x, pt}, {y}, tfl::PadOptions{}, n);
    return;
  }
  lower_custom(n);
}

IModel Lowerer::run(const RangeMap* ranges) {
  // Outputs: as asked, or every non-constant node nothing reads.
  std::vector<const Node*> outs;
  if (!opt_.output_arrays.empty()) {
    for (const auto& s : opt_.output_arrays) outs.push_back(g_.output(s).node);
  } else {
    for (Node* n : g_.nodes())
      if (n->op() != "Const" && n->op() != "Placeholder" && g_.consumer_nodes(n).empty()) outs.push_back(n);
  }
  if (outs.empty()) fail<UsageError>("convert: the graph has no output node");
  for (const Node* n : outs) output_names_.insert(n->name());
  // Only what the outputs need.
  std::unordered_set<const Node*> live;
  std::vector<const Node*> stack(outs.begin(), outs.end());
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!live.insert(n).second) continue;
    for (const auto& in : n->inputs()) stack.push_back(in.node);
  }
  for (Node* n : g_.topo_order())
    if (live.count(n)) lower_node(n);
  for (const Node* n : outs) {
    Output o = const_cast<Node*>(n)->output(0);
    int t = act(o, n);
    m_.tensors[t].name = n->name();
    m_.outputs.push_back(t);
  }
  if (ranges) {
    for (auto& t : m_.tensors) {
      if (t.role != Role::kActivation) continue;
      for (auto it = t.origins.rbegin(); it != t.origins.rend(); ++it) {
        auto r = ranges->find(*it);
        if (r != ranges->end()) {
          t.range = Range{r->second.first, r->second.second, 8, false};
          break;
        }
      }
    }
  }
  return std::move(m_);
}

}  // namespace

IModel lower(const Graph& g, const ConvertOptions& opt, const RangeMap* ranges) {
  Lowerer l(g, opt);
  return l.run(ranges);
}

}  // namespace qat::convert::detail
