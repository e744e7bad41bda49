// create_training_graph / create_eval_graph: pattern matching and FakeQuant insertion
// (quantize.py + fold_batch_norms.py of tf.contrib.quantize; REFERENCE.md §3, docs/qat.md).
//
// Order of work, as TF: fold batch norms and quantize each matched layer
//   Conv2D | DepthwiseConv2dNative | MatMul  [+ FusedBatchNorm | BiasAdd]  [+ bypass Add]
//   [+ Relu | Relu6]  [+ post-activation bypass Add]
// then model inputs, then the ops TFLite runs on quantized tensors without weights (average
// pooling / Mean share their input's range, ConcatV2 and free-standing Add get their own).
#include <algorithm>
#include <deque>
#include <mutex>
#include <set>

#include "qat/ops.h"
#include "qat/quantize.h"
#include "quantize/quant_ops.h"

namespace qat::quantize {
namespace {

using graph::Graph;
using graph::Node;
using graph::Output;
using graph::AttrMap;

bool is_layer(const Node* n) {
  return n->op() == "Conv2D" || n->op() == "DepthwiseConv2dNative" || n->op() == "MatMul";
}
bool is_add(const Node* n) { return n->op() == "Add" || n->op() == "AddV2"; }
bool is_act(const Node* n) { return n->op() == "Relu" || n->op() == "Relu6"; }
bool is_fq(const Node* n) {
  return n->op() == "FakeQuantWithMinMaxVars" || n->op() == "FakeQuantWithMinMaxVarsPerChannel";
}

struct Ctx {
  Graph& g;
  const QuantizeOptions& o;
  bool training;
  RewriteSummary sum;
  Output step;                 // global step (training)
  std::set<const Node*> claimed;  // Add nodes taken as a layer's bypass

  bool in_scope(const Node* n) const {
    return o.scope.empty() || n->name().rfind(o.scope + "/", 0) == 0;
  }
  // Variable names drop the tower scope so that towers share them.
  std::string var_name(const std::string& node_name) const {
    if (!o.scope.empty() && node_name.rfind(o.scope + "/", 0) == 0) return node_name.substr(o.scope.size() + 1);
    return node_name;
  }
  Node* add(const std::string& op, const std::string& base, std::vector<Output> in, AttrMap attrs = {}) {
    return g.add_node(op, g.unique_name(base), std::move(in), std::move(attrs));
  }
  Node* sole_consumer(Output o) const {
    auto cs = g.consumers(o);
    if (cs.size() != 1) return nullptr;
    for (Node* n : g.consumer_nodes(o.node))
      if (n != cs[0].first) {
        // Another node reads a different output or has a control edge: still fine unless it
        // reads this very output (counted above).
      }
    return cs[0].first;
  }
  Output variable(const std::string& name, float init) {
    if (Node* n = g.find(name)) {
      if (n->op() != "Variable") fail<Error>("QAT rewrite: '{}' exists and is not a Variable", name);
      return n->output(0);
    }
    return ops::variable(g, name, Tensor::scalar(init), /*trainable=*/false);
  }
  void record_fq(Node* fq) {
    g.add_to_collection(kFakeQuantCollection, fq);
    sum.fake_quant_nodes.push_back(fq->name());
  }
  AttrMap fq_attrs(int bits, bool narrow) const {
    AttrMap a{{"num_bits", (int64_t)bits}, {"narrow_range", narrow}};
    if (training && o.quant_delay > 0) a["quant_delay"] = (int64_t)o.quant_delay;
    return a;
  }
  std::vector<Output> fq_inputs(Output x, Output mn, Output mx) const {
    std::vector<Output> in{x, mn, mx};
    if (training && o.quant_delay > 0) in.push_back(step);
    return in;
  }

  // Moving-average activation FakeQuant on `t`; `base` names the nodes ("conv1/act_quant").
  Node* act_quant(Output t, const std::string& base, float init_min, float init_max, bool from_batch = false) {
    from_batch = from_batch || o.init_ranges_from_batch;
    std::string vbase = var_name(base);
    Output vmin = variable(vbase + "/min", from_batch ? 0.f : init_min);
    Output vmax = variable(vbase + "/max", from_batch ? 0.f : init_max);
    Node* fq;
    Node* mm = nullptr;
    if (training) {
      mm = add("QuantMinMax", base + "/min_max", {t}, {{"channels", int64_t{0}}});
      Output rmin, rmax;
      Node* shared = nullptr;
      for (auto [n, i] : g.consumers(vmin))
        if (n->op() == "QuantRangeEma" && i == 0) shared = n;
      if (shared) {
        // Another tower already tracks this range: its update takes this tower's batch range too.
        std::vector<Output> in = shared->inputs();
        in.push_back(mm->output(0));
        in.push_back(mm->output(1));
        Node* nw = add("QuantRangeEma", shared->name(), in, shared->attrs());
        g.replace_uses(shared->output(0), nw->output(0));
        g.replace_uses(shared->output(1), nw->output(1));
        g.remove_node(shared);
        rmin = nw->output(0), rmax = nw->output(1);
      } else {
        Node* r = add("QuantRangeEma", base + "/range", {vmin, vmax, mm->output(0), mm->output(1)},
                      {{"ema_decay", o.ema_decay},
                       {"num_bits", (int64_t)o.activation_bits},
                       {"narrow_range", false},
                       {"symmetric", false},
                       {"init_from_batch", from_batch}});
        rmin = r->output(0), rmax = r->output(1);
      }
      fq = add("FakeQuantWithMinMaxVars", base + "/FakeQuantWithMinMaxVars", fq_inputs(t, rmin, rmax),
               fq_attrs(o.activation_bits, false));
    } else {
      fq = add("FakeQuantWithMinMaxVars", base + "/FakeQuantWithMinMaxVars", {t, vmin, vmax},
               {{"num_bits", (int64_t)o.activation_bits}, {"narrow_range", false}});
    }
    std::vector<Node*> except{fq};
    if (mm) except.push_back(mm);
    g.replace_uses(t, fq->output(0), except);
    record_fq(fq);
    return fq;
  }

  // FakeQuant sharing an existing FakeQuant's range (pooling: TFLite requires equal params).
  Node* shared_quant(Output t, Node* src, const std::string& base) {
    std::vector<Output> in{t, src->input(1), src->input(2)};
    AttrMap a{{"num_bits", src->attr_int("num_bits", 8)}, {"narrow_range", src->attr_bool("narrow_range", false)}};
    if (src->num_inputs() == 4) {
      in.push_back(src->input(3));
      a["quant_delay"] = src->attr_int("quant_delay", 0);
    }
    Node* fq = add(src->op(), base + "/" + src->op(), in, a);
    g.replace_uses(t, fq->output(0), std::vector<Node*>{fq});
    record_fq(fq);
    return fq;
  }

  // Last-value weight FakeQuant (narrow range, per channel when asked).
  Output weight_quant(Output w, const std::string& base, int64_t channels) {
    Node* mm = add("QuantMinMax", base + "/min_max", {w}, {{"channels", channels}});
    Node* r = add("QuantRangeLastValue", base + "/range", {mm->output(0), mm->output(1)},
                  {{"num_bits", (int64_t)o.weight_bits}, {"narrow_range", true}, {"symmetric", o.symmetric}});
    const char* op = channels > 0 ? "FakeQuantWithMinMaxVarsPerChannel" : "FakeQuantWithMinMaxVars";
    Node* fq = add(op, base + "/" + op, fq_inputs(w, r->output(0), r->output(1)), fq_attrs(o.weight_bits, true));
    record_fq(fq);
    return fq->output(0);
  }

  // The range-giving FakeQuant of a tensor quantized upstream (through ops that keep the
  // quantized grid: max pooling, reshapes, ReLU, zero padding), or nullptr.
  Node* quantized(Output o) const {
    for (int hops = 0; hops < 64 && o.node; ++hops) {
      Node* n = o.node;
      if (is_fq(n)) return n;
      const std::string& op = n->op();
      if (op == "MaxPool" || op == "Reshape" || op == "Relu" || op == "Relu6" || op == "Identity" || op == "Pad")
        o = n->input(0);
      else
        return nullptr;
    }
    return nullptr;
  }
  bool output_quantized(Output o) const {
    Node* c = sole_consumer(o);
    return c && is_fq(c);
  }
};

std::string prefix_of(const Node* n) {
  auto p = n->name().rfind('/');
  return p == std::string::npos ? n->name() : n->name().substr(0, p);
}

Node* variable_source(Output w) {
  Node* n = w.node;
  while (n && n->op() == "Identity") n = n->input(0).node;
  return n && n->op() == "Variable" ? n : nullptr;
}

// ---- one layer ----------------------------------------------------------------------------------
void rewrite_layer(Ctx& c, Node* L) {
  Graph& g = c.g;
  const std::string P = prefix_of(L);
  if (!variable_source(L->input(1)))
    fail<Error>("{}: cannot quantize: its weights {} are not a variable", L->describe(), L->input(1).str());
  // Match the chain of ops TFLite fuses into this layer.
  Node *bn = nullptr, *bias = nullptr, *bypass = nullptr, *act = nullptr, *post = nullptr;
  Output cur = L->output(0);
  Node* nx = c.sole_consumer(cur);
  if (nx && nx->op() == "FusedBatchNorm" && nx->input(0) == cur) bn = nx;
  else if (nx && nx->op() == "BiasAdd" && nx->input(0) == cur) bias = nx;
  if (bn || bias) {
    cur = (bn ? bn : bias)->output(0);
    nx = c.sole_consumer(cur);
  }
  if (nx && is_add(nx) && !c.claimed.count(nx) && c.in_scope(nx)) {
    bypass = nx;
    c.claimed.insert(nx);
    cur = nx->output(0);
    nx = c.sole_consumer(cur);
  }
  if (nx && is_act(nx) && c.in_scope(nx)) {
    act = nx;
    cur = nx->output(0);
    nx = c.sole_consumer(cur);
    if (nx && is_add(nx) && !c.claimed.count(nx) && c.in_scope(nx)) {
      post = nx;
      c.claimed.insert(nx);
    }
  }
  c.sum.layers.push_back(L->name());

  const bool dw = L->op() == "DepthwiseConv2dNative", mm = L->op() == "MatMul";
  const Shape& ws = L->input(1).node->output_info(L->input(1).index).shape;
  if (mm && L->attr_bool("transpose_b", false) && (bn || c.o.per_channel))
    fail<Error>("{}: cannot quantize: transposed MatMul weights with batch norm / per-channel", L->describe());
  int64_t out_channels = ws.empty() ? 0 : (dw && ws.size() == 4 ? ws[2] * ws[3] : ws.back());

  // Weights (folded by the batch norm's scale first).
  Output w = L->input(1), s;
  if (bn) {
    double eps = bn->attr_float("epsilon", 1e-3);
    Node* sc = c.add("BnFoldScale", P + "/fold_scale", {bn->input(1), bn->input(4)}, {{"epsilon", eps}});
    s = sc->output(0);
    Output sw = s;
    if (dw) sw = ops::reshape(g, s, {ws[2], ws[3]}, g.unique_name(P + "/fold_scale_dw"));
    w = ops::mul(g, w, sw, g.unique_name(P + "/mul_fold"));
  }
  int64_t wch = (c.o.per_channel && !mm) ? out_channels : 0;
  g.set_input(L, 1, c.weight_quant(w, P + "/weights_quant", wch));

  // Batch norm: folded training form (batch statistics + correction) or inference form.
  Output core = bias ? bias->output(0) : L->output(0);
  if (bn) {
    c.sum.folded_batch_norms.push_back(bn->name());
    double eps = bn->attr_float("epsilon", 1e-3);
    bool train_bn = c.training && bn->attr_bool("is_training", false);
    // The moving-average updates of the float BN (replaced by BnFoldMovingUpdate).
    double decay = 0.999;
    std::vector<Node*> old_updates;
    for (int k = 1; k < bn->num_outputs(); ++k)
      for (auto [n, i] : g.consumers(bn->output(k))) {
        if (n->op() == "AssignMovingAverage") {
          decay = n->attr_float("decay", decay);
          old_updates.push_back(n);
        } else {
          fail<Error>("{}: cannot fold: its statistics output {} is read by {}", bn->describe(), k, n->describe());
        }
      }
    Output gamma = bn->input(1), beta = bn->input(2), mmean = bn->input(3), mvar = bn->input(4);
    Output out;
    if (train_bn) {
      if (!graph::input_node(bn, 3, "Variable") || !graph::input_node(bn, 4, "Variable"))
        fail<Error>("{}: cannot fold: moving statistics are not variables", bn->describe());
      AttrMap fz{{"freeze_bn_delay", c.o.freeze_bn_delay}};
      Node* sums = c.add("BnChannelSums", P + "/batch_sums", {L->output(0), s, mmean, c.step}, fz);
      Output stats = sums->output(1);
      // Towers: one update per batch norm, fed by the sum of every tower's statistics.
      Node* upd = nullptr;
      for (auto [n, i] : g.consumers(mmean))
        if (n->op() == "BnFoldMovingUpdate" && i == 0) upd = n;
      if (upd) {
        Output total = upd->input(2);
        std::vector<Output> parts;
        if (total.node->op() == "AddN") parts = total.node->inputs();
        else parts.push_back(total);
        parts.push_back(stats);
        Node* addn = c.add("AddN", c.var_name(P) + "/tower_stats", parts);
        g.replace_uses(total, addn->output(0), std::vector<Node*>{addn});
        if (total.node->op() == "AddN" && g.consumer_nodes(total.node).empty()) g.remove_node(total.node);
        stats = addn->output(0);
      }
      AttrMap aa{{"epsilon", eps}, {"freeze_bn_delay", c.o.freeze_bn_delay}};
      out = c.add("BnFoldApply", P + "/fold_apply",
                  {sums->output(0), stats, sums->output(2), s, gamma, beta, mmean, mvar, c.step}, aa)
                ->output(0);
      if (!upd) {
        Node* u = c.add("BnFoldMovingUpdate", P + "/fold_update",
                        {mmean, mvar, stats, sums->output(2), s, c.step},
                        {{"decay", decay}, {"freeze_bn_delay", c.o.freeze_bn_delay}});
        g.add_to_collection(graph::kUpdateOps, u);
      }
    } else {
      Node* b = c.add("BnFoldBias", P + "/fold_bias", {gamma, beta, mmean, mvar}, {{"epsilon", eps}});
      out = c.add("BiasAdd", P + "/add_fold", {L->output(0), b->output(0)})->output(0);
    }
    g.replace_uses(bn->output(0), out);
    for (Node* u : old_updates) g.remove_node(u);
    g.remove_node(bn);
    core = out;
  }

  // Activation ranges where TFLite's fused kernel writes its output.
  if (bypass) c.act_quant(core, P + "/conv_quant", -6.f, 6.f);
  if (act) {
    c.act_quant(act->output(0), P + "/act_quant", 0.f, 6.f);
  } else if (bypass) {
    c.act_quant(bypass->output(0), P + "/add_quant", -6.f, 6.f);
  } else {
    c.act_quant(core, P + "/act_quant", -6.f, 6.f);
  }
  if (post) c.act_quant(post->output(0), P + "/post_activation_bypass_quant", -6.f, 6.f);
}

std::vector<std::string> node_names(const std::vector<Node*>& nodes) {
  std::vector<std::string> r;
  for (Node* n : nodes) r.push_back(n->name());
  return r;
}

// ---- model inputs --------------------------------------------------------------------------------
bool reaches_layer(const Ctx& c, Node* start) {
  std::deque<Node*> q{start};
  std::set<Node*> seen{start};
  while (!q.empty()) {
    Node* n = q.front();
    q.pop_front();
    if (n != start && is_layer(n) && c.in_scope(n)) return true;
    for (Node* m : c.g.consumer_nodes(n))
      if (seen.insert(m).second && seen.size() < 4096) q.push_back(m);
  }
  return false;
}

void quantize_inputs(Ctx& c) {
  for (const std::string& name : node_names(c.g.nodes())) {
    Node* n = c.g.find(name);  // by name: a rewrite step may remove nodes of the snapshot
    if (!n) continue;
    if (n->op() != "Placeholder" || n->output_info(0).dtype != DType::kFloat32 || n->output_info(0).shape.size() < 2)
      continue;
    if (c.output_quantized(n->output(0))) continue;  // an earlier (tower) call did it
    bool direct_fq = false;
    for (auto [m, i] : c.g.consumers(n->output(0))) direct_fq |= is_fq(m);
    if (direct_fq || !reaches_layer(c, n)) continue;
    // Not TF (its converter takes input stats instead): the model input gets a range too, so
    // the integer model's input quantization is part of what training sees.
    c.act_quant(n->output(0), n->name() + "/input_quant", 0.f, 0.f, /*from_batch=*/true);
  }
}

// ---- ops without weights ----------------------------------------------------------------------
void quantize_rest(Ctx& c) {
  static const std::set<std::string> passthrough = {"MaxPool", "Reshape", "Relu", "Relu6", "Identity", "Pad"};
  static const std::set<std::string> exempt = {
      "SparseSoftmaxCrossEntropyWithLogits", "SoftmaxCrossEntropyWithLogits", "Softmax", "ArgMax", "QuantMinMax",
      "BnChannelSums", "FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxVarsPerChannel", "Shape", "ZerosLike",
      "OnesLike"};
  for (const std::string& name : node_names(c.g.topo_order())) {
    Node* n = c.g.find(name);
    if (!n) continue;
    if (!c.in_scope(n) || n->num_inputs() == 0) continue;
    const std::string& op = n->op();
    const std::string P = prefix_of(n);
    if (op == "FusedBatchNorm")
      fail<Error>("{}: cannot quantize: a batch norm must follow Conv2D, DepthwiseConv2dNative or MatMul (with its "
                  "output read by nothing else) to be folded",
                  n->describe());
    if (is_layer(n) || passthrough.count(op) || exempt.count(op) || op == "BiasAdd") continue;
    if (op == "AvgPool" || op == "Mean") {
      Node* src = c.quantized(n->input(0));
      if (src && !c.output_quantized(n->output(0)))
        c.shared_quant(n->output(0), src, P + "/pool_quant");
      continue;
    }
    if (is_add(n) && c.claimed.count(n)) continue;  // a layer's bypass, quantized with the layer
    if (op == "ConcatV2" || is_add(n)) {
      bool all = true, any = false;
      for (const Output& in : n->inputs()) {
        bool q = c.quantized(in) != nullptr;
        all = all && q;
        any = any || q;
      }
      if (!any) continue;
      if (!all)
        fail<Error>("{}: cannot quantize: input {} has no quantization range", n->describe(),
                    [&] {
                      for (const Output& in : n->inputs())
                        if (!c.quantized(in)) return in.str();
                      return std::string();
                    }());
      Output out = n->output(0);
      if (c.output_quantized(out)) continue;
      if (op == "ConcatV2") {
        c.act_quant(out, P + "/concat_quant", -6.f, 6.f);
      } else {
        Node* a = c.sole_consumer(out);
        if (a && is_act(a) && c.in_scope(a)) {
          if (!c.output_quantized(a->output(0))) c.act_quant(a->output(0), P + "/add_quant", 0.f, 6.f);
        } else {
          c.act_quant(out, P + "/add_quant", -6.f, 6.f);
        }
      }
      continue;
    }
    // Anything else that reads a quantized activation and feeds a quantized layer has no
    // integer kernel with a range here (ops that only lead to the loss are the float head).
    if (n->output_info(0).dtype != DType::kFloat32 || !reaches_layer(c, n)) continue;
    for (const Output& in : n->inputs())
      if (c.quantized(in))
        fail<Error>("{}: cannot quantize: no quantized form for this op after {}", n->describe(), in.str());
  }
}

void check_no_training_ops(const Graph& g, const char* fn) {
  for (Node* n : g.nodes())
    if (n->op().rfind("Apply", 0) == 0 || n->op().rfind("ResourceApply", 0) == 0)
      fail<UsageError>("{}: training op found in graph ({}): call it before adding the optimizer", fn,
                       n->describe());
  for (Node* n : g.nodes()) {
    if (n->name().rfind("gradients/", 0) == 0 || n->name().find("/gradients/") != std::string::npos)
      fail<UsageError>("{}: gradient nodes found in graph ({}): call it before computing gradients", fn,
                       n->describe());
  }
}

RewriteSummary run(Graph& g, const QuantizeOptions& o, bool training) {
  register_quantize_ops();
  const char* fn = training ? "create_training_graph" : "create_eval_graph";
  QAT_CHECK_T(UsageError, o.weight_bits >= 2 && o.weight_bits <= 16, "{}: weight_bits must be in 2..16, got {}", fn,
              o.weight_bits);
  QAT_CHECK_T(UsageError, o.activation_bits >= 2 && o.activation_bits <= 16,
              "{}: activation_bits must be in 2..16, got {}", fn, o.activation_bits);
  QAT_CHECK_T(UsageError, o.quant_delay >= 0, "{}: quant_delay must be >= 0, got {}", fn, o.quant_delay);
  QAT_CHECK_T(UsageError, o.ema_decay >= 0 && o.ema_decay < 1, "{}: ema_decay must be in [0, 1), got {}", fn,
              o.ema_decay);
  if (training) check_no_training_ops(g, fn);
  Ctx c{g, o, training, {}, {}, {}};
  if (training) c.step = graph::get_or_create_global_step(g);
  bool any = false;
  // Layers first, by name: rewriting removes nodes (batch norms, their updates), so a node
  // list taken before the loop would hold dangling pointers.
  std::vector<std::string> layers;
  for (Node* n : g.nodes())
    if (is_layer(n) && c.in_scope(n)) layers.push_back(n->name());
  for (const std::string& name : layers) {
    Node* n = g.find(name);
    if (!n) continue;
    any = true;
    Output w = n->input(1);
    if (w.node && is_fq(w.node)) continue;  // rewritten by an earlier call
    rewrite_layer(c, n);
  }
  if (!o.scope.empty() && !any)
    fail<UsageError>("{}: scope '{}' contains no Conv2D, DepthwiseConv2dNative or MatMul node", fn, o.scope);
  if (o.quantize_inputs) quantize_inputs(c);
  quantize_rest(c);
  g.infer_shapes();
  return c.sum;
}

}  // namespace

void register_quantize_ops() {
  // Once: re-registering would replace OpDefs that existing Session plans point to.
  static std::once_flag once;
  std::call_once(once, [] {
    ops::register_standard_ops();
    detail::register_fake_quant_ops();
    detail::register_quant_range_ops();
    detail::register_bn_fold_ops();
  });
}

RewriteSummary create_training_graph(Graph& g, const QuantizeOptions& opt) { return run(g, opt, true); }
RewriteSummary create_eval_graph(Graph& g, const QuantizeOptions& opt) { return run(g, opt, false); }

std::function<void(Graph&)> training_rewrite(const QuantizeOptions& opt) {
  return [opt](Graph& g) { create_training_graph(g, opt); };
}
std::function<void(Graph&)> eval_rewrite(const QuantizeOptions& opt) {
  return [opt](Graph& g) { create_eval_graph(g, opt); };
}

}  // namespace qat::quantize
