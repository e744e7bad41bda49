// Graph IR: nodes, edges, names, collections and the rewriting helpers (graph.h).
#include "qat/graph.h"

#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

namespace qat::graph {

std::string Output::str() const {
  if (!node) return "<none>";
  return index == 0 ? node->name() : fmt::format("{}:{}", node->name(), index);
}

std::string attr_type_name(const AttrValue& v) {
  static const char* const names[] = {"int", "float", "string", "bool", "int_list", "float_list", "tensor", "dtype"};
  return names[v.index()];
}

// ---------------------------------------------------------------------------------------------
// Node

std::string Node::describe() const { return fmt::format("node '{}' ({})", name_, op_); }

Output Node::input(int i) const {
  QAT_CHECK_T(ShapeError, i >= 0 && i < (int)inputs_.size(), "{}: input {} out of range ({} inputs)", describe(), i,
              inputs_.size());
  return inputs_[i];
}

Output Node::output(int i) {
  QAT_CHECK_T(ShapeError, i >= 0 && i < (int)outputs_.size(), "{}: output {} out of range ({} outputs)", describe(),
              i, outputs_.size());
  return Output{this, i};
}

const TensorInfo& Node::output_info(int i) const {
  QAT_CHECK_T(ShapeError, i >= 0 && i < (int)outputs_.size(), "{}: output {} out of range ({} outputs)", describe(),
              i, outputs_.size());
  return outputs_[i];
}

void Node::set_attr(const std::string& key, AttrValue v) {
  attrs_[key] = std::move(v);
  if (graph_) ++graph_->version_;
}

const AttrValue& Node::attr(const std::string& key) const {
  auto it = attrs_.find(key);
  if (it == attrs_.end()) fail<ShapeError>("{}: missing attribute '{}'", describe(), key);
  return it->second;
}

namespace {
template <class T>
const T& get_typed(const Node& n, const std::string& key, const char* want) {
  const AttrValue& v = n.attr(key);
  const T* p = std::get_if<T>(&v);
  if (!p) fail<ShapeError>("{}: attribute '{}' is {}, expected {}", n.describe(), key, attr_type_name(v), want);
  return *p;
}
}  // namespace

int64_t Node::attr_int(const std::string& key) const {
  const AttrValue& v = attr(key);
  if (auto* b = std::get_if<bool>(&v)) return *b;
  return get_typed<int64_t>(*this, key, "int");
}
int64_t Node::attr_int(const std::string& key, int64_t dflt) const { return has_attr(key) ? attr_int(key) : dflt; }
double Node::attr_float(const std::string& key) const {
  const AttrValue& v = attr(key);
  if (auto* i = std::get_if<int64_t>(&v)) return (double)*i;
  return get_typed<double>(*this, key, "float");
}
double Node::attr_float(const std::string& key, double dflt) const { return has_attr(key) ? attr_float(key) : dflt; }
bool Node::attr_bool(const std::string& key) const { return get_typed<bool>(*this, key, "bool"); }
bool Node::attr_bool(const std::string& key, bool dflt) const { return has_attr(key) ? attr_bool(key) : dflt; }
const std::string& Node::attr_string(const std::string& key) const {
  return get_typed<std::string>(*this, key, "string");
}
std::string Node::attr_string(const std::string& key, const std::string& dflt) const {
  return has_attr(key) ? attr_string(key) : dflt;
}
const std::vector<int64_t>& Node::attr_ints(const std::string& key) const {
  return get_typed<std::vector<int64_t>>(*this, key, "int_list");
}
std::vector<int64_t> Node::attr_ints(const std::string& key, std::vector<int64_t> dflt) const {
  return has_attr(key) ? attr_ints(key) : dflt;
}
const std::vector<double>& Node::attr_floats(const std::string& key) const {
  return get_typed<std::vector<double>>(*this, key, "float_list");
}
const Tensor& Node::attr_tensor(const std::string& key) const { return get_typed<Tensor>(*this, key, "tensor"); }
DType Node::attr_dtype(const std::string& key) const { return get_typed<DType>(*this, key, "dtype"); }

// ---------------------------------------------------------------------------------------------
// Graph

struct Graph::Impl {
  std::vector<std::unique_ptr<Node>> nodes;  // creation order
  std::unordered_map<std::string, Node*> by_name;
  // Every name and name-scope prefix ever used ("a/b/c" adds "a", "a/b", "a/b/c"), so that
  // unique_name never hands out a name that is already a scope (as tf.name_scope).
  std::unordered_set<std::string> used;
  void use(const std::string& name) {
    for (size_t p = name.find('/'); p != std::string::npos; p = name.find('/', p + 1)) used.insert(name.substr(0, p));
    used.insert(name);
  }
};

Graph::Graph() : impl_(std::make_unique<Impl>()) {}
Graph::~Graph() = default;

static void run_shape_fn(Node& n, std::vector<TensorInfo>& outs) {
  const OpDef* def = find_op(n.op());
  if (!def) fail<UsageError>("{}: unknown op '{}' (not registered)", n.describe(), n.op());
  for (int i = 0; i < n.num_inputs(); ++i) {
    Output in = n.inputs()[i];
    if (!in.node) fail<UsageError>("{}: input {} is null", n.describe(), i);
    if (in.index < 0 || in.index >= in.node->num_outputs())
      fail<UsageError>("{}: input {} reads output {} of {}, which has {} outputs", n.describe(), i, in.index,
                       in.node->describe(), in.node->num_outputs());
  }
  outs.clear();
  InferContext ctx(n, outs);
  if (def->shape_fn) def->shape_fn(ctx);
}

Node* Graph::add_node(const std::string& op, const std::string& name, std::vector<Output> inputs, AttrMap attrs,
                      std::vector<Node*> control_inputs) {
  QAT_CHECK_T(UsageError, !name.empty(), "add_node: empty node name for op {}", op);
  if (impl_->by_name.count(name)) fail<UsageError>("add_node: a node named '{}' already exists", name);
  for (auto& in : inputs)
    if (in.node && &in.node->graph() != this)
      fail<UsageError>("add_node '{}': input {} belongs to another graph", name, in.node->name());
  auto n = std::make_unique<Node>();
  n->graph_ = this;
  n->name_ = name;
  n->op_ = op;
  n->inputs_ = std::move(inputs);
  n->control_inputs_ = std::move(control_inputs);
  n->attrs_ = std::move(attrs);
  n->seq_ = next_seq_++;
  std::vector<TensorInfo> outs;
  run_shape_fn(*n, outs);
  n->outputs_ = std::move(outs);
  Node* p = n.get();
  impl_->by_name[name] = p;
  impl_->use(name);
  impl_->nodes.push_back(std::move(n));
  ++version_;
  return p;
}

std::string Graph::unique_name(const std::string& base) const {
  std::string full = scope_.empty() ? base : scope_ + "/" + base;
  if (!impl_->by_name.count(full) && !impl_->used.count(full)) return full;
  for (int i = 1;; ++i) {
    std::string cand = fmt::format("{}_{}", full, i);
    if (!impl_->by_name.count(cand) && !impl_->used.count(cand)) return cand;
  }
}

Graph::NameScope::NameScope(Graph& g, const std::string& scope) : g_(g), saved_(g.scope_) {
  if (!scope.empty()) g.scope_ = saved_.empty() ? scope : saved_ + "/" + scope;
}
Graph::NameScope::~NameScope() { g_.scope_ = saved_; }

Node* Graph::find(const std::string& name) const {
  auto it = impl_->by_name.find(name);
  return it == impl_->by_name.end() ? nullptr : it->second;
}

Node* Graph::get(const std::string& name) const {
  Node* n = find(name);
  if (!n) fail<UsageError>("no node named '{}' in the graph", name);
  return n;
}

Output Graph::output(const std::string& spec) const {
  auto colon = spec.rfind(':');
  if (colon != std::string::npos && colon + 1 < spec.size() &&
      std::all_of(spec.begin() + colon + 1, spec.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    Node* n = get(spec.substr(0, colon));
    return n->output(std::stoi(spec.substr(colon + 1)));
  }
  return get(spec)->output(0);
}

std::vector<Node*> Graph::nodes() const {
  std::vector<Node*> r;
  r.reserve(impl_->nodes.size());
  for (auto& n : impl_->nodes) r.push_back(n.get());
  return r;
}

int Graph::num_nodes() const { return (int)impl_->nodes.size(); }

std::vector<Node*> Graph::topo_order() const {
  // Kahn's algorithm with a min-heap on creation sequence so the order is deterministic and
  // follows creation order where dependencies allow.
  std::unordered_map<const Node*, int> indeg;
  std::unordered_map<const Node*, std::vector<Node*>> outs;
  for (auto& up : impl_->nodes) {
    Node* n = up.get();
    std::unordered_set<const Node*> deps;
    for (auto& in : n->inputs_)
      if (in.node) deps.insert(in.node);
    for (auto* c : n->control_inputs_) deps.insert(c);
    indeg[n] = (int)deps.size();
    for (auto* d : deps) outs[d].push_back(n);
  }
  auto cmp = [](Node* a, Node* b) { return a->seq() > b->seq(); };
  std::priority_queue<Node*, std::vector<Node*>, decltype(cmp)> ready(cmp);
  for (auto& up : impl_->nodes)
    if (indeg[up.get()] == 0) ready.push(up.get());
  std::vector<Node*> order;
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    order.push_back(n);
    for (auto* c : outs[n])
      if (--indeg[c] == 0) ready.push(c);
  }
  if (order.size() != impl_->nodes.size()) {
    for (auto& up : impl_->nodes)
      if (indeg[up.get()] > 0) fail<UsageError>("graph has a cycle through {}", up->describe());
  }
  return order;
}

std::vector<std::pair<Node*, int>> Graph::consumers(Output out) const {
  std::vector<std::pair<Node*, int>> r;
  for (auto& up : impl_->nodes)
    for (int i = 0; i < (int)up->inputs_.size(); ++i)
      if (up->inputs_[i] == out) r.emplace_back(up.get(), i);
  return r;
}

std::vector<Node*> Graph::consumer_nodes(const Node* n) const {
  std::vector<Node*> r;
  for (auto& up : impl_->nodes) {
    bool uses = std::any_of(up->inputs_.begin(), up->inputs_.end(), [&](const Output& o) { return o.node == n; }) ||
                std::find(up->control_inputs_.begin(), up->control_inputs_.end(), n) != up->control_inputs_.end();
    if (uses) r.push_back(up.get());
  }
  return r;
}

void Graph::set_input(Node* n, int index, Output value) {
  QAT_CHECK_T(UsageError, index >= 0 && index < n->num_inputs(), "set_input: {} has no input {}", n->describe(),
              index);
  QAT_CHECK_T(UsageError, value.node && value.index >= 0 && value.index < value.node->num_outputs(),
              "set_input: invalid value for input {} of {}", index, n->describe());
  n->inputs_[index] = value;
  ++version_;
}

void Graph::add_control_input(Node* n, Node* dep) {
  if (std::find(n->control_inputs_.begin(), n->control_inputs_.end(), dep) == n->control_inputs_.end())
    n->control_inputs_.push_back(dep);
  ++version_;
}

int Graph::replace_uses(Output from, Output to, std::span<Node* const> except) {
  int changed = 0;
  for (auto& up : impl_->nodes) {
    if (std::find(except.begin(), except.end(), up.get()) != except.end()) continue;
    for (auto& in : up->inputs_)
      if (in == from) {
        in = to;
        ++changed;
      }
  }
  if (changed) ++version_;
  return changed;
}

void Graph::remove_node(Node* n, bool force) {
  if (!force) {
    auto users = consumer_nodes(n);
    if (!users.empty())
      fail<UsageError>("remove_node: {} is still used by {}", n->describe(), users.front()->describe());
  }
  // Drop control edges pointing to it (harmless to keep otherwise dangling pointers).
  for (auto& up : impl_->nodes) {
    auto& c = up->control_inputs_;
    c.erase(std::remove(c.begin(), c.end(), n), c.end());
  }
  impl_->by_name.erase(n->name());
  auto& v = impl_->nodes;
  v.erase(std::remove_if(v.begin(), v.end(), [&](const std::unique_ptr<Node>& p) { return p.get() == n; }), v.end());
  ++version_;
}

int Graph::prune(std::span<Node* const> keep) {
  std::unordered_set<const Node*> live;
  std::vector<const Node*> stack(keep.begin(), keep.end());
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!live.insert(n).second) continue;
    for (auto& in : n->inputs_)
      if (in.node) stack.push_back(in.node);
    for (auto* c : n->control_inputs_) stack.push_back(c);
  }
  int removed = 0;
  auto& v = impl_->nodes;
  for (auto& up : v)
    if (!live.count(up.get())) {
      impl_->by_name.erase(up->name());
      ++removed;
    }
  v.erase(std::remove_if(v.begin(), v.end(), [&](const std::unique_ptr<Node>& p) { return !live.count(p.get()); }),
          v.end());
  if (removed) ++version_;
  return removed;
}

void Graph::infer_shapes() {
  for (Node* n : topo_order()) {
    std::vector<TensorInfo> outs;
    run_shape_fn(*n, outs);
    n->outputs_ = std::move(outs);
  }
  ++version_;
}

void Graph::add_to_collection(const std::string& key, const Node* n) {
  auto& v = collections_[key];
  if (std::find(v.begin(), v.end(), n->name()) == v.end()) v.push_back(n->name());
}

std::vector<Node*> Graph::collection(const std::string& key) const {
  std::vector<Node*> r;
  auto it = collections_.find(key);
  if (it == collections_.end()) return r;
  for (auto& name : it->second)
    if (Node* n = find(name)) r.push_back(n);
  return r;
}

std::vector<Node*> trainable_variables(const Graph& g) { return g.collection(kTrainableVariables); }
std::vector<Node*> global_variables(const Graph& g) { return g.collection(kGlobalVariables); }

Output get_or_create_global_step(Graph& g) {
  auto existing = g.collection(kGlobalStep);
  if (!existing.empty()) return existing.front()->output(0);
  if (Node* n = g.find("global_step")) {
    g.add_to_collection(kGlobalStep, n);
    return n->output(0);
  }
  Tensor init(DType::kInt64, {});
  Node* n = g.add_node("Variable", "global_step", {},
                       {{"dtype", DType::kInt64}, {"shape", std::vector<int64_t>{}}, {"trainable", false},
                        {"init", init}});
  g.add_to_collection(kGlobalVariables, n);
  g.add_to_collection(kGlobalStep, n);
  return n->output(0);
}

Node* input_node(const Node* n, int i, std::string_view op) {
  if (i < 0 || i >= n->num_inputs()) return nullptr;
  Node* p = n->inputs()[i].node;
  if (!p) return nullptr;
  return (op.empty() || p->op() == op) ? p : nullptr;
}

bool is_op(const Node* n, std::string_view op) { return n && n->op() == op; }

// ---------------------------------------------------------------------------------------------
// InferContext

const TensorInfo& InferContext::input(int i) const {
  if (i < 0 || i >= node_.num_inputs()) fail("expected at least {} inputs, got {}", i + 1, node_.num_inputs());
  Output o = node_.inputs()[i];
  return o.node->output_info(o.index);
}

void InferContext::set_output(int i, DType dtype, Shape shape) {
  if ((int)outputs_.size() <= i) outputs_.resize(i + 1);
  outputs_[i] = TensorInfo{dtype, std::move(shape)};
}

void InferContext::expect_inputs(int n) const {
  if (node_.num_inputs() != n) fail("expected {} inputs, got {}", n, node_.num_inputs());
}

void InferContext::expect_dtype(int i, DType t) const {
  if (input(i).dtype != t)
    fail("input {} ({}) is {}, expected {}", i, node_.inputs()[i].str(), dtype_name(input(i).dtype), dtype_name(t));
}

void InferContext::expect_rank(int i, int r) const {
  if ((int)input(i).shape.size() != r)
    fail("input {} ({}) has shape {}, expected rank {}", i, node_.inputs()[i].str(), shape_str(input(i).shape), r);
}

// ---------------------------------------------------------------------------------------------
// KernelContext

Tensor* buffer_pool_take(BufferPool* pool, DType dtype, const Shape& shape);  // session.cpp

Tensor& KernelContext::allocate_output(int i, DType dtype, const Shape& shape) {
  Tensor& out = outputs_[i];
  if (buffers_) {
    out = *buffer_pool_take(buffers_, dtype, shape);
    return out;
  }
  out = Tensor(dtype, shape);
  return out;
}

}  // namespace qat::graph
