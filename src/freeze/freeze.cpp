// Freeze: variables -> constants, prune to the outputs, fold identities, constants and batch norms.
// See include/qat/freeze.h for the contract and docs/freeze.md for the reasoning.
#include "qat/freeze.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "qat/ops.h"

namespace qat::freeze {

using graph::AttrMap;
using graph::Graph;
using graph::Node;
using graph::Output;
using graph::VariableStore;

bool is_fake_quant_op(std::string_view op) {
  return op == "FakeQuantWithMinMaxVars" || op == "FakeQuantWithMinMaxVarsPerChannel" ||
         op == "FakeQuantWithMinMaxArgs" || op == "FakeQuant";
}

namespace {

bool is_identity_op(std::string_view op) { return op == "Identity" || op == "StopGradient" || op == "Snapshot"; }

// Ops never folded into constants: sources, state, FakeQuant (its ranges must reach the
// converter) and ops without a kernel.
bool foldable_op(const Node* n) {
  const std::string& op = n->op();
  if (op == "Const" || op == "Placeholder" || op == "Variable" || is_fake_quant_op(op)) return false;
  const graph::OpDef* def = graph::find_op(op);
  if (!def || def->stateful || !def->kernel) return false;
  return n->num_inputs() > 0;
}

struct OutputKey {
  const Node* node;
  int index;
  bool operator<(const OutputKey& o) const { return node != o.node ? node < o.node : index < o.index; }
};

// Parses the output list; returns the nodes to keep.
std::vector<const Node*> output_nodes(const Graph& g, const std::vector<std::string>& names) {
  if (names.empty()) fail<UsageError>("freeze: no output nodes given (--output-nodes)");
  std::vector<const Node*> r;
  for (const auto& s : names) {
    Output o = g.output(s);  // throws naming the node
    r.push_back(o.node);
  }
  return r;
}

// Data-edge reachability from the outputs (control edges are dropped by freeze).
std::unordered_set<const Node*> needed_nodes(const std::vector<const Node*>& outs) {
  std::unordered_set<const Node*> live;
  std::vector<const Node*> stack(outs.begin(), outs.end());
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!live.insert(n).second) continue;
    for (const auto& in : n->inputs())
      if (in.node) stack.push_back(in.node);
  }
  return live;
}

// Removes `n` and re-creates a node under the same name via `make`, rewiring every data use of
// n's output k to make()'s output remap[k]. Keeps names stable (outputs and error messages).
template <class Make>
Node* replace_keep_name(Graph& g, Node* n, Make make) {
  std::vector<std::tuple<Node*, int, int>> uses;  // consumer, input index, output index of n
  for (int k = 0; k < n->num_outputs(); ++k)
    for (auto [c, i] : g.consumers(n->output(k))) uses.emplace_back(c, i, k);
  std::string name = n->name();
  g.remove_node(n, /*force=*/true);
  Node* r = make(name);
  for (auto [c, i, k] : uses) g.set_input(c, i, r->output(k));
  return r;
}

// ---- constant folding -----------------------------------------------------------------------
int fold_constants(Graph& g, const std::set<std::string>& keep_names) {
  std::unordered_set<const Node*> foldable;
  std::vector<Node*> order = g.topo_order();
  for (Node* n : order) {
    if (!foldable_op(n)) continue;
    bool all_const = true;
    for (const auto& in : n->inputs())
      if (!(in.node->op() == "Const" || foldable.count(in.node))) all_const = false;
    if (all_const) foldable.insert(n);
  }
  if (foldable.empty()) return 0;
  // The frontier: foldable outputs read by a node that is not folded (or asked for as output).
  std::vector<Output> fetch;
  std::map<OutputKey, int> fetch_index;
  for (Node* n : order) {
    if (!foldable.count(n)) continue;
    for (int k = 0; k < n->num_outputs(); ++k) {
      bool frontier = keep_names.count(n->name()) != 0;
      for (auto [c, i] : g.consumers(n->output(k)))
        if (!foldable.count(c)) frontier = true;
      if (frontier) {
        fetch_index[{n, k}] = (int)fetch.size();
        fetch.push_back(n->output(k));
      }
    }
  }
  std::vector<Tensor> values;
  if (!fetch.empty()) {
    VariableStore none;
    graph::Session s(g, none);
    values = s.run(graph::Session::Feeds{}, fetch);
  }
  // Record the non-folded uses, then remove every folded node (consumers first) and put a Const
  // in place of each frontier output.
  struct Use { Node* consumer; int input; int value; };
  std::vector<Use> uses;
  std::map<const Node*, std::vector<int>> frontier_outputs;  // node -> fetch indices by output
  for (auto& [key, idx] : fetch_index) {
    frontier_outputs[key.node].push_back(idx);
    for (auto [c, i] : g.consumers(const_cast<Node*>(key.node)->output(key.index)))
      if (!foldable.count(c)) uses.push_back({c, i, idx});
  }
  std::map<int, std::string> const_names;
  for (auto& [node, idxs] : frontier_outputs) {
    bool single = node->num_outputs() == 1;
    for (int idx : idxs)
      const_names[idx] = single ? node->name() : fmt::format("{}/output_{}", node->name(), fetch[idx].index);
  }
  int folded = (int)foldable.size();
  for (auto it = order.rbegin(); it != order.rend(); ++it)
    if (foldable.count(*it)) g.remove_node(*it, /*force=*/true);
  std::map<int, Node*> consts;
  for (auto& [idx, name] : const_names) {
    std::string nm = g.find(name) ? g.unique_name(name) : name;
    consts[idx] = g.add_node("Const", nm, {}, AttrMap{{"value", values[idx]}});
  }
  for (const Use& u : uses) g.set_input(u.consumer, u.input, consts[u.value]->output(0));
  return folded;
}

// ---- batch-norm folding -----------------------------------------------------------------------
const Tensor* const_value(const Output& o) {
  if (!o.node || o.node->op() != "Const") return nullptr;
  return &o.node->attr_tensor("value");
}

bool single_data_consumer(const Graph& g, Output o) { return g.consumers(o).size() == 1; }

// Folds one FusedBatchNorm; returns false when the pattern does not apply.
bool fold_one_batch_norm(Graph& g, Node* bn) {
  if (bn->attr_bool("is_training", false)) return false;
  for (int k = 1; k < bn->num_outputs(); ++k)
    if (!g.consumers(bn->output(k)).empty()) return false;
  const Tensor* gamma = const_value(bn->input(1));
  const Tensor* beta = const_value(bn->input(2));
  const Tensor* mean = const_value(bn->input(3));
  const Tensor* var = const_value(bn->input(4));
  if (!gamma || !beta || !mean || !var) return false;
  Node* prev = bn->input(0).node;
  Node* bias_add = nullptr;
  Node* layer = prev;
  if (prev->op() == "BiasAdd") {
    if (!single_data_consumer(g, prev->output(0))) return false;
    bias_add = prev;
    layer = prev->input(0).node;
    if (!const_value(bias_add->input(1))) return false;
  }
  const std::string& op = layer->op();
  if (op != "Conv2D" && op != "DepthwiseConv2dNative" && op != "MatMul") return false;
  if (!single_data_consumer(g, layer->output(0))) return false;
  if (op == "MatMul" && (layer->attr_bool("transpose_b", false) || layer->attr_bool("transpose_a", false)))
    return false;
  const Tensor* w = const_value(layer->input(1));
  if (!w || w->dtype() != DType::kFloat32) return false;
  const int64_t channels = gamma->size();
  // Output channel of a flat weight index: the last dim for HWIO and [in,out]; c*M+m for the
  // depthwise [KH,KW,C,M] layout, which is also the flat index modulo C*M.
  int64_t out_ch = op == "DepthwiseConv2dNative" ? w->dim(-1) * w->dim(-2) : w->dim(-1);
  if (out_ch != channels) return false;
  const double eps = bn->attr_float("epsilon", 1e-3);
  std::vector<double> s(channels);
  const float* pg = gamma->data<float>();
  const float* pv = var->data<float>();
  for (int64_t c = 0; c < channels; ++c) s[c] = (double)pg[c] / std::sqrt((double)pv[c] + eps);
  Tensor w2(DType::kFloat32, w->shape());
  const float* pw = w->data<float>();
  float* pw2 = w2.data<float>();
  for (int64_t i = 0; i < w->size(); ++i) pw2[i] = (float)((double)pw[i] * s[i % channels]);
  Tensor b2(DType::kFloat32, {channels});
  const float* pb = bias_add ? const_value(bias_add->input(1))->data<float>() : nullptr;
  const float* pbeta = beta->data<float>();
  const float* pm = mean->data<float>();
  for (int64_t c = 0; c < channels; ++c)
    b2.data<float>()[c] = (float)((double)pbeta[c] + ((pb ? (double)pb[c] : 0.0) - (double)pm[c]) * s[c]);

  Node* wc = g.add_node("Const", g.unique_name(layer->name() + "/folded_weights"), {}, AttrMap{{"value", w2}});
  g.set_input(layer, 1, wc->output(0));
  Node* bc = g.add_node("Const", g.unique_name(bn->name() + "/folded_bias"), {}, AttrMap{{"value", b2}});
  Output layer_out = layer->output(0);
  if (bias_add) g.remove_node(bias_add, /*force=*/true);  // its only consumer is bn, replaced next
  replace_keep_name(g, bn, [&](const std::string& name) {
    return g.add_node("BiasAdd", name, {layer_out, bc->output(0)});
  });
  return true;
}

int fold_batch_norms(Graph& g) {
  int n = 0;
  for (Node* node : g.topo_order())
    if (node->op() == "FusedBatchNorm" && fold_one_batch_norm(g, node)) ++n;
  return n;
}

}  // namespace

std::unique_ptr<Graph> freeze_graph(const Graph& g, const VariableStore& vars, const FreezeOptions& opt,
                                    FreezeStats* stats) {
  FreezeStats st;
  st.nodes_in = g.num_nodes();
  std::vector<const Node*> outs = output_nodes(g, opt.output_nodes);
  std::set<std::string> keep_names;
  for (const Node* n : outs) keep_names.insert(n->name());
  std::unordered_set<const Node*> live = needed_nodes(outs);

  auto out = std::make_unique<Graph>();
  std::map<OutputKey, Output> map;  // source output -> frozen output
  auto mapped = [&](const Output& o) -> Output {
    auto it = map.find({o.node, o.index});
    if (it == map.end()) fail<Error>("freeze: internal error: input {} not mapped", o.str());
    return it->second;
  };
  for (Node* n : g.topo_order()) {
    if (!live.count(n)) continue;
    const std::string& op = n->op();
    if (op == "Variable") {
      if (!vars.has(n->name()))
        fail<UsageError>("freeze: variable '{}' needed by the outputs has no value in the checkpoint", n->name());
      const Tensor& v = vars.get(n->name());
      if (v.dtype() != n->output_info(0).dtype || v.shape() != n->output_info(0).shape)
        fail<UsageError>("freeze: checkpoint value of '{}' is {}{}, the graph declares {}{}", n->name(),
                         dtype_name(v.dtype()), shape_str(v.shape()), dtype_name(n->output_info(0).dtype),
                         shape_str(n->output_info(0).shape));
      Node* c = out->add_node("Const", n->name(), {}, AttrMap{{"value", v.clone()}});
      map[{n, 0}] = c->output(0);
      ++st.variables_frozen;
      continue;
    }
    if (opt.remove_identities && is_identity_op(op) && !keep_names.count(n->name())) {
      map[{n, 0}] = mapped(n->input(0));
      ++st.identities_removed;
      continue;
    }
    std::vector<Output> inputs;
    for (const auto& in : n->inputs()) inputs.push_back(mapped(in));
    AttrMap attrs = n->attrs();
    if (op == "FusedBatchNorm") attrs["is_training"] = false;
    if (is_fake_quant_op(op)) ++st.fake_quant_kept;
    Node* c = out->add_node(op, n->name(), std::move(inputs), std::move(attrs));
    c->device = n->device;
    for (int k = 0; k < n->num_outputs(); ++k) map[{n, k}] = c->output(k);
  }
  std::vector<Node*> keep;
  for (const Node* n : outs) keep.push_back(out->get(n->name()));
  // Fold constants first (a float graph's weights may be computed, e.g. Identity(Variable)*c),
  // then batch norms (which need constant weights), then constants again (nothing normally).
  if (opt.fold_constants) st.constants_folded += fold_constants(*out, keep_names);
  if (opt.fold_batch_norms) st.batch_norms_folded = fold_batch_norms(*out);
  keep.clear();
  for (const Node* n : outs) keep.push_back(out->get(n->name()));
  out->prune(keep);
  out->infer_shapes();
  st.nodes_out = out->num_nodes();
  if (stats) *stats = st;
  return out;
}

}  // namespace qat::freeze
