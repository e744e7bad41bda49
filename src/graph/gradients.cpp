// Reverse-mode autodiff, TF1 style: gradients are added to the graph as ordinary nodes (named
// "<scope>/<forward node>_grad/..."), so the QAT rewrite, towers and freeze see them like any
// other node. Only nodes on a path from some x to some y take part; a value read by several
// consumers receives the AddN of their contributions.
#include <unordered_map>
#include <unordered_set>

#include "qat/graph.h"

namespace qat::graph {
namespace {
struct OutputHash {
  size_t operator()(const Output& o) const { return std::hash<const void*>()(o.node) * 31 + (size_t)o.index; }
};
bool differentiable(DType t) { return t == DType::kFloat32; }
}  // namespace

std::vector<Output> gradients(Graph& g, std::span<const Output> ys, std::span<const Output> xs,
                              std::span<const Output> grad_ys, const std::string& scope) {
  QAT_CHECK_T(UsageError, grad_ys.empty() || grad_ys.size() == ys.size(),
              "gradients: {} grad_ys for {} ys", grad_ys.size(), ys.size());
  for (auto& y : ys) QAT_CHECK_T(UsageError, y.node && &y.node->graph() == &g, "gradients: y is null or in another graph");
  for (auto& x : xs) QAT_CHECK_T(UsageError, x.node && &x.node->graph() == &g, "gradients: x is null or in another graph");

  // Nodes that reach some y (backwards over data edges).
  std::unordered_set<const Node*> to_y;
  std::vector<const Node*> stack;
  for (auto& y : ys) stack.push_back(y.node);
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!to_y.insert(n).second) continue;
    for (auto& in : n->inputs()) stack.push_back(in.node);
  }
  // Nodes reachable from some x (forwards), restricted to to_y.
  std::vector<Node*> order = g.topo_order();
  std::unordered_set<const Node*> from_x;
  for (auto& x : xs) from_x.insert(x.node);
  for (Node* n : order) {
    if (from_x.count(n)) continue;
    for (auto& in : n->inputs())
      if (from_x.count(in.node)) {
        from_x.insert(n);
        break;
      }
  }
  auto relevant = [&](const Node* n) { return to_y.count(n) && from_x.count(n); };

  std::unordered_map<Output, std::vector<Output>, OutputHash> contrib;
  Graph::NameScope top(g, scope);
  auto sum_of = [&](const Output& o) -> Output {
    auto it = contrib.find(o);
    if (it == contrib.end() || it->second.empty()) return Output{};
    auto& v = it->second;
    if (v.size() == 1) return v[0];
    Node* n = g.add_node("AddN", g.unique_name(o.node->name() + "_grad/AddN"), v);
    v.assign(1, n->output(0));
    return v[0];
  };
  for (size_t i = 0; i < ys.size(); ++i) {
    Output seed;
    if (!grad_ys.empty() && grad_ys[i]) {
      seed = grad_ys[i];
    } else {
      Node* ones = g.add_node("OnesLike", g.unique_name(ys[i].node->name() + "_grad/OnesLike"), {ys[i]});
      seed = ones->output(0);
    }
    contrib[ys[i]].push_back(seed);
  }

  std::unordered_set<Output, OutputHash> wanted(xs.begin(), xs.end());
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    Node* n = *it;
    if (!relevant(n)) continue;
    GradContext ctx;
    ctx.g_ = &g;
    ctx.node_ = n;
    bool any = false;
    for (int k = 0; k < n->num_outputs(); ++k) {
      ctx.dys_.push_back(sum_of(Output{n, k}));
      any = any || ctx.dys_.back();
    }
    if (!any) continue;
    // Does any input need a gradient?
    bool need = false;
    for (auto& in : n->inputs())
      need = need || (relevant(in.node) && differentiable(in.node->output_info(in.index).dtype));
    if (!need) continue;
    const OpDef& def = get_op(n->op());
    if (!def.grad) fail<UsageError>("gradients: {} has no gradient, but a gradient must flow through it", n->describe());
    std::vector<Output> dxs;
    {
      Graph::NameScope local(g, n->name() + "_grad");
      dxs = def.grad(ctx);
    }
    if ((int)dxs.size() != n->num_inputs())
      fail("gradients: gradient of {} returned {} values for {} inputs", n->describe(), dxs.size(), n->num_inputs());
    for (int i = 0; i < n->num_inputs(); ++i) {
      Output in = n->inputs()[i];
      if (!dxs[i] || !relevant(in.node) || !differentiable(in.node->output_info(in.index).dtype)) continue;
      contrib[in].push_back(dxs[i]);
    }
  }
  std::vector<Output> result;
  for (auto& x : xs) result.push_back(sum_of(x));
  return result;
}

}  // namespace qat::graph
