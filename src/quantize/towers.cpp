// Towers: K replicas of a training graph's forward pass and loss that share every variable and
// each take 1/K of the batch (TF's multi-GPU pattern). The loss is the mean over the
// concatenation of the towers' per-example losses, so autodiff sums each tower's gradient with
// the weight 1/N of the whole batch: the averaged gradient of one replica on the whole batch.
// After replicate_towers, create_training_graph may be called once per tower (scope
// "tower_k"): the rewrite shares range variables and batch-norm statistics across the towers
// (see rewrite.cpp), which is what makes K towers compute exactly what one replica does.
#include <algorithm>
#include <map>
#include <set>

#include "qat/distributed.h"
#include "qat/ops.h"
#include "qat/quantize.h"
#include "quantize/quant_ops.h"

namespace qat::quantize {
namespace {

using graph::Graph;
using graph::Node;
using graph::Output;

// TowerSplit(x) -> K outputs: rows [N*k/K, N*(k+1)/K) of the batch (dim 0).
void register_tower_split() {
  if (graph::find_op("TowerSplit")) return;
  graph::register_op(
      {.name = "TowerSplit",
       .shape_fn =
           [](graph::InferContext& c) {
             c.expect_inputs(1);
             if (c.rank(0) < 1) c.fail("input must have a batch dimension");
             int64_t k = c.node().attr_int("towers");
             if (k < 1) c.fail("towers must be >= 1, got {}", k);
             Shape s = c.shape(0);
             s[0] = -1;
             for (int i = 0; i < k; ++i) c.set_output(i, c.dtype(0), s);
           },
       .kernel =
           [](graph::KernelContext& c) {
             const Tensor& x = c.input(0);
             int64_t k = c.node().attr_int("towers"), n = x.dim(0);
             if (n < k) c.fail("batch of {} cannot be split into {} towers", n, k);
             int64_t row = n ? x.size() / n : 0;
             size_t es = dtype_size(x.dtype());
             for (int64_t i = 0; i < k; ++i) {
               int64_t b = n * i / k, e = n * (i + 1) / k;
               Shape s = x.shape();
               s[0] = e - b;
               Tensor& y = c.allocate_output((int)i, x.dtype(), s);
               std::memcpy(y.raw(), (const char*)x.raw() + (size_t)(b * row) * es, (size_t)((e - b) * row) * es);
             }
           },
       .grad =
           [](graph::GradContext& g) {
             std::vector<Output> parts;
             for (int i = 0; i < g.node()->num_outputs(); ++i) {
               if (!g.dy(i)) return std::vector<Output>{Output{}};
               parts.push_back(g.dy(i));
             }
             return std::vector<Output>{ops::concat(g.graph(), parts, 0)};
           }});
}

}  // namespace

void replicate_towers(Graph& g, int towers, const std::vector<std::string>& batch_inputs) {
  register_quantize_ops();
  register_tower_split();
  QAT_CHECK_T(UsageError, towers >= 1, "towers must be >= 1, got {}", towers);
  if (towers == 1) return;
  for (Node* n : g.nodes())
    QAT_CHECK_T(UsageError, n->op().rfind("Apply", 0) != 0, "replicate_towers: the graph already has an optimizer ({})",
                n->describe());
  std::vector<Node*> sources;
  for (const auto& name : batch_inputs) {
    Node* n = g.find(name);
    if (n) sources.push_back(n);
  }
  QAT_CHECK_T(UsageError, !sources.empty(), "replicate_towers: none of the batch inputs exists");
  // Forward set: every node that depends on a batch input (data edges), in topological order.
  std::vector<Node*> order = g.topo_order();
  std::set<Node*> fwd;
  std::set<Node*> src_set(sources.begin(), sources.end());
  for (Node* n : order) {
    if (src_set.count(n)) continue;
    bool dep = false;
    for (const Output& in : n->inputs()) dep = dep || src_set.count(in.node) || fwd.count(in.node);
    for (Node* c : n->control_inputs()) dep = dep || fwd.count(c);
    if (dep) fwd.insert(n);
  }
  // Boundary: nodes outside the forward set that read it (e.g. "logits" Identity, "loss" Mean)
  // read the batch-concatenation of the towers' values instead. The boundary nodes themselves
  // stay single (they become the whole-batch outputs).
  std::set<Node*> boundary;
  for (Node* n : order)
    if (fwd.count(n))
      for (Node* c : g.consumer_nodes(n))
        if (!fwd.count(c)) boundary.insert(c);
  // Heads reading the forward set are kept whole: remove them (and what depends on them) from
  // the replicated set when they are the graph's outputs ("logits", "loss").
  for (const char* keep : {"logits", "loss"}) {
    Node* k = g.find(keep);
    if (k && fwd.count(k)) {
      fwd.erase(k);
      boundary.insert(k);
    }
  }
  // Anything downstream of a kept head is outside the towers too.
  bool changed = true;
  while (changed) {
    changed = false;
    for (Node* n : order)
      if (fwd.count(n))
        for (const Output& in : n->inputs())
          if (!fwd.count(in.node) && !src_set.count(in.node) && boundary.count(in.node)) {
            fwd.erase(n);
            boundary.insert(n);
            changed = true;
          }
  }
  std::map<Node*, std::vector<Node*>> splits;
  for (Node* s : sources) {
    splits[s].push_back(g.add_node("TowerSplit", g.unique_name(s->name() + "/tower_split"), {s->output(0)},
                                   {{"towers", (int64_t)towers}}));
    g.add_to_collection(graph::kTowers, splits[s].back());  // Session: run the towers concurrently
  }
  std::vector<std::map<Node*, Node*>> clone(towers);
  std::set<std::string> updates;
  for (Node* u : g.collection(graph::kUpdateOps)) updates.insert(u->name());
  for (int k = 0; k < towers; ++k) {
    const std::string scope = "tower_" + std::to_string(k);
    for (Node* n : order) {
      if (!fwd.count(n)) continue;
      std::vector<Output> in;
      for (const Output& o : n->inputs()) {
        if (src_set.count(o.node)) in.push_back(splits[o.node][0]->output(k));
        else if (fwd.count(o.node)) in.push_back(clone[k].at(o.node)->output(o.index));
        else in.push_back(o);
      }
      std::vector<Node*> ctrl;
      for (Node* c : n->control_inputs()) ctrl.push_back(fwd.count(c) ? clone[k].at(c) : c);
      Node* m = g.add_node(n->op(), scope + "/" + n->name(), in, n->attrs(), ctrl);
      m->device = scope;
      clone[k][n] = m;
      if (updates.count(n->name())) g.add_to_collection(graph::kUpdateOps, m);
    }
  }
  // Rewire the boundary: each input that read a forward node reads the concatenation.
  for (Node* b : boundary) {
    for (int i = 0; i < b->num_inputs(); ++i) {
      Output o = b->input(i);
      if (!fwd.count(o.node)) continue;
      std::vector<Output> parts;
      for (int k = 0; k < towers; ++k) parts.push_back(clone[k].at(o.node)->output(o.index));
      g.set_input(b, i, ops::concat(g, parts, 0, g.unique_name(o.node->name() + "/tower_concat")));
    }
  }
  // Remove the original single-replica forward nodes (consumers first).
  for (auto it = order.rbegin(); it != order.rend(); ++it)
    if (fwd.count(*it)) g.remove_node(*it, /*force=*/true);
  g.infer_shapes();
}

std::function<void(Graph&)> towers_training_rewrite(const QuantizeOptions& opt, int towers, bool quantize) {
  return [opt, towers, quantize](Graph& g) {
    replicate_towers(g, towers);
    if (!quantize) {
      // Float batch norms: one set of statistics over the towers (as the QAT rewrite's folded
      // ones), else each tower would normalise with its own slice's statistics and update the
      // moving averages once per tower. Under mpirun the trainer's sync_batch_statistics does
      // this over towers and ranks together.
      if (towers > 1 && distributed::world_size() == 1) distributed::sync_batch_statistics(g, 1.0);
      return;
    }
    if (towers <= 1) {
      create_training_graph(g, opt);
      return;
    }
    for (int k = 0; k < towers; ++k) {
      QuantizeOptions o = opt;
      o.scope = "tower_" + std::to_string(k);
      create_training_graph(g, o);
    }
  };
}

}  // namespace qat::quantize
