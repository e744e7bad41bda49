// qat::graph — a TF1-style dataflow graph built for rewriting.
//
// A Graph owns named Nodes. A Node is an op name ("Conv2D"), a list of data inputs (Outputs of
// other nodes), control inputs, typed attributes and the statically inferred dtype/shape of each
// of its outputs (-1 marks a dimension unknown until run time, e.g. the batch). Everything a
// later pass needs is visible in the graph: variables are explicit nodes whose values live in a
// VariableStore (name -> Tensor, i.e. the checkpoint), state updates are ops (Assign*,
// AssignMovingAverage, optimizer Apply* ops registered by the train layer), and gradients are
// ordinary nodes added by gradients(), so the QAT rewrite, freeze and the converter can see and
// rewrite all of them.
//
// Layering: this header is implemented by the graph layer (src/graph: IR, registry, autodiff,
// executor, JSON format). The standard ops (shape functions, kernels, gradients) and the builder
// functions live in the ops layer (include/qat/ops.h, src/ops); call
// qat::ops::register_standard_ops() once before building graphs. Other layers register their own
// ops with register_op() — explicitly, never from static initialisers.
//
// Worked example (y = relu(x·W + b), dL/dW):
//   qat::ops::register_standard_ops();
//   Graph g;
//   Output x = ops::placeholder(g, DType::kFloat32, {-1, 4}, "x");
//   Output w = ops::variable(g, "w", Tensor::filled({4, 3}, 0.1f));
//   Output b = ops::variable(g, "b", Tensor::zeros({3}));
//   Output y = ops::relu(g, ops::bias_add(g, ops::matmul(g, x, w), b));
//   Output loss = ops::mean(g, y, {0, 1});
//   std::vector<Output> dw = gradients(g, loss, {w});
//   VariableStore vars; vars.initialize(g);
//   Session s(g, vars);
//   auto r = s.run({{x, some_tensor}}, {loss, dw[0]});
//
// The file format is documented in docs/graph_format.md.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "qat/error.h"
#include "qat/tensor.h"
#include "qat/thread_pool.h"

namespace qat::graph {

class Graph;
class Node;

// One output of a node: the value edges of the graph carry these. node == nullptr means "none"
// (e.g. no gradient flows).
struct Output {
  Node* node = nullptr;
  int index = 0;
  explicit operator bool() const { return node != nullptr; }
  bool operator==(const Output&) const = default;
  std::string str() const;  // "name:index" ("name" for index 0)
};

// Attribute values. Integers are int64, floats are double (stored exactly in JSON).
using AttrValue = std::variant<int64_t, double, std::string, bool, std::vector<int64_t>,
                               std::vector<double>, Tensor, DType>;
using AttrMap = std::map<std::string, AttrValue>;
std::string attr_type_name(const AttrValue& v);  // "int", "float", "string", ...

// Statically inferred type of one output; dims of -1 are unknown until run time.
struct TensorInfo {
  DType dtype = DType::kFloat32;
  Shape shape;
};

class Node {
 public:
  const std::string& name() const { return name_; }
  const std::string& op() const { return op_; }
  Graph& graph() const { return *graph_; }
  // Data inputs and control inputs. Change them only through Graph (set_input, replace_uses,
  // add_control_input) so that the graph's version counter (used by Session plans) moves.
  const std::vector<Output>& inputs() const { return inputs_; }
  Output input(int i) const;  // throws naming the node when out of range
  const std::vector<Node*>& control_inputs() const { return control_inputs_; }
  int num_inputs() const { return (int)inputs_.size(); }
  int num_outputs() const { return (int)outputs_.size(); }
  Output output(int i = 0);   // throws naming the node when out of range
  const TensorInfo& output_info(int i = 0) const;
  const std::vector<TensorInfo>& output_infos() const { return outputs_; }
  // Free-form placement/scope tag (e.g. "tower_0"); not interpreted by the executor.
  std::string device;
  // Creation sequence number: the executor runs independent nodes in creation order, so state
  // updates created last (optimizer Apply*) run after every read of the old value made by nodes
  // created earlier (the forward and backward passes).
  int64_t seq() const { return seq_; }

  // Attributes. The typed getters throw ShapeError "node 'n' (Op): ..." when the attribute is
  // missing or has another type; the overloads with a default return it when missing.
  const AttrMap& attrs() const { return attrs_; }
  bool has_attr(const std::string& key) const { return attrs_.count(key) != 0; }
  void set_attr(const std::string& key, AttrValue v);
  const AttrValue& attr(const std::string& key) const;
  int64_t attr_int(const std::string& key) const;
  int64_t attr_int(const std::string& key, int64_t dflt) const;
  double attr_float(const std::string& key) const;
  double attr_float(const std::string& key, double dflt) const;
  bool attr_bool(const std::string& key) const;
  bool attr_bool(const std::string& key, bool dflt) const;
  const std::string& attr_string(const std::string& key) const;
  std::string attr_string(const std::string& key, const std::string& dflt) const;
  const std::vector<int64_t>& attr_ints(const std::string& key) const;
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> dflt) const;
  const std::vector<double>& attr_floats(const std::string& key) const;
  const Tensor& attr_tensor(const std::string& key) const;
  DType attr_dtype(const std::string& key) const;

  // "node 'conv1/Conv2D' (Conv2D)" — prefix for error messages.
  std::string describe() const;

 private:
  friend class Graph;
  Graph* graph_ = nullptr;
  std::string name_, op_;
  std::vector<Output> inputs_;
  std::vector<Node*> control_inputs_;
  AttrMap attrs_;
  std::vector<TensorInfo> outputs_;
  int64_t seq_ = 0;
};

// Standard collection names (like tf.GraphKeys).
inline constexpr const char* kTrainableVariables = "trainable_variables";
inline constexpr const char* kGlobalVariables = "variables";
inline constexpr const char* kUpdateOps = "update_ops";  // BN moving-average updates etc.
inline constexpr const char* kGlobalStep = "global_step";
inline constexpr const char* kLosses = "losses";
inline constexpr const char* kTowers = "towers";  // replicate_towers' split nodes (Session: concurrent towers)

class Graph {
 public:
  Graph();
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Adds a node; runs the op's shape function (ShapeError naming the node on mismatch). `name`
  // must be unique (UsageError otherwise); use unique_name() to derive one. The op must be
  // registered (register_op) — unknown ops are an error naming the node.
  Node* add_node(const std::string& op, const std::string& name, std::vector<Output> inputs,
                 AttrMap attrs = {}, std::vector<Node*> control_inputs = {});
  // "scope/base", or "scope/base_1", "scope/base_2"... if taken. The current name scope (see
  // NameScope) is prefixed.
  std::string unique_name(const std::string& base) const;
  // Name scopes ("tower_0", "gradients", ...) as in tf.name_scope. Nesting joins with '/'.
  class NameScope {
   public:
    NameScope(Graph& g, const std::string& scope);
    ~NameScope();
    NameScope(const NameScope&) = delete;
    NameScope& operator=(const NameScope&) = delete;

   private:
    Graph& g_;
    std::string saved_;
  };
  const std::string& current_scope() const { return scope_; }

  Node* find(const std::string& name) const;  // nullptr if absent
  Node* get(const std::string& name) const;   // throws UsageError naming the node if absent
  // Parses "name" or "name:k"; throws if absent or k out of range.
  Output output(const std::string& spec) const;
  // All nodes in creation order (stable pointers; removal erases).
  std::vector<Node*> nodes() const;
  int num_nodes() const;
  // A topological order of all nodes (creation order among independent nodes).
  std::vector<Node*> topo_order() const;

  // ---- Rewriting helpers ----
  // (node, input index) pairs that read `out` as a data input.
  std::vector<std::pair<Node*, int>> consumers(Output out) const;
  // All nodes that read any output of `n` (data or control), each once.
  std::vector<Node*> consumer_nodes(const Node* n) const;
  void set_input(Node* n, int index, Output value);
  void add_control_input(Node* n, Node* dep);
  // Makes every data input that reads `from` read `to` instead, except in nodes in `except`
  // (typically the new node that itself reads `from`). Returns the number of edges changed.
  int replace_uses(Output from, Output to, std::span<Node* const> except = {});
  // Removes a node. Throws UsageError if another node still reads it, unless force (then those
  // edges must be fixed by the caller before running).
  void remove_node(Node* n, bool force = false);
  // Removes every node not needed (data or control) by `keep`; returns how many were removed.
  int prune(std::span<Node* const> keep);
  // Re-runs shape inference on every node in topological order (after rewrites changed inputs).
  void infer_shapes();
  // Changes whenever nodes or edges change; Session re-plans when it moves.
  uint64_t version() const { return version_; }

  // ---- Collections (like tf.add_to_collection): ordered, duplicate-free node names ----
  void add_to_collection(const std::string& key, const Node* n);
  std::vector<Node*> collection(const std::string& key) const;  // skips removed nodes
  const std::map<std::string, std::vector<std::string>>& collections() const { return collections_; }

  // ---- File format (JSON; docs/graph_format.md) ----
  void save(const std::string& path) const;
  static std::unique_ptr<Graph> load(const std::string& path);  // FormatError naming the file
  std::string to_json() const;
  static std::unique_ptr<Graph> from_json(const std::string& text, const std::string& origin = "<string>");

 private:
  friend class Node;
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string scope_;
  std::map<std::string, std::vector<std::string>> collections_;
  uint64_t version_ = 0;
  int64_t next_seq_ = 0;
};

// Convenience queries.
std::vector<Node*> trainable_variables(const Graph& g);  // collection kTrainableVariables
std::vector<Node*> global_variables(const Graph& g);     // collection kGlobalVariables
// The int64 scalar "global_step" variable; created (not trainable) on first call.
Output get_or_create_global_step(Graph& g);
// Small structural pattern matching for rewrites: the producer of input i if its op is `op`
// (or any op when op is empty), else nullptr.
Node* input_node(const Node* n, int i, std::string_view op = {});
bool is_op(const Node* n, std::string_view op);

// ---------------------------------------------------------------------------------------------
// Variables: values live outside the graph so that train and eval graphs (and towers) share them
// by name, and a checkpoint is just the store.
class VariableStore {
 public:
  bool has(const std::string& name) const { return vars_.count(name) != 0; }
  Tensor& get(const std::string& name);  // throws UsageError naming the variable
  const Tensor& get(const std::string& name) const;
  void set(const std::string& name, Tensor value);  // replaces the value (copy-in, not aliasing)
  // Creates every Variable node's value in `g` from its "init" attribute (a Tensor) when the
  // store lacks it (or always when overwrite). Throws if a variable has neither.
  void initialize(const Graph& g, bool overwrite = false);
  std::map<std::string, Tensor>& all() { return vars_; }
  const std::map<std::string, Tensor>& all() const { return vars_; }

 private:
  std::map<std::string, Tensor> vars_;
};

// ---------------------------------------------------------------------------------------------
// Op registry.
class InferContext {
 public:
  InferContext(Node& n, std::vector<TensorInfo>& outputs) : node_(n), outputs_(outputs) {}
  const Node& node() const { return node_; }
  int num_inputs() const { return node_.num_inputs(); }
  const TensorInfo& input(int i) const;
  DType dtype(int i) const { return input(i).dtype; }
  const Shape& shape(int i) const { return input(i).shape; }
  int rank(int i) const { return (int)shape(i).size(); }
  void set_output(int i, DType dtype, Shape shape);
  // Throws ShapeError "node 'n' (Op): <message>".
  template <class... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    qat::fail<ShapeError>("{}: {}", node_.describe(), fmt::format(f, std::forward<Args>(args)...));
  }
  // Common checks (each fails naming the node): exact input count, dtype, rank.
  void expect_inputs(int n) const;
  void expect_dtype(int i, DType t) const;
  void expect_rank(int i, int r) const;

 private:
  Node& node_;
  std::vector<TensorInfo>& outputs_;
};

class BufferPool;  // executor-private (src/graph/session.cpp)

class KernelContext {
 public:
  const Node& node() const { return *node_; }
  int num_inputs() const { return (int)inputs_.size(); }
  const Tensor& input(int i) const { return *inputs_[i]; }
  int num_outputs() const { return (int)outputs_.size(); }
  // Output buffer of the given type and shape. The executor hands out buffers released by
  // values that died earlier (this step or the last), so the contents are UNDEFINED (not
  // zeroed): write every element.
  Tensor& allocate_output(int i, DType dtype, const Shape& shape);
  Tensor& allocate_output(int i, const Shape& shape) { return allocate_output(i, DType::kFloat32, shape); }
  // Sets an output directly (it may alias an input, as Identity/Reshape do).
  void set_output(int i, Tensor t) { outputs_[i] = std::move(t); }
  Tensor& output(int i) { return outputs_[i]; }
  ThreadPool& pool() const { return *pool_; }
  VariableStore& variables() const { return *vars_; }
  template <class... Args>
  [[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) const {
    qat::fail<ShapeError>("{}: {}", node_->describe(), fmt::format(f, std::forward<Args>(args)...));
  }

  // Set up by the executor (and by tests running one kernel).
  const Node* node_ = nullptr;
  std::vector<const Tensor*> inputs_;
  std::span<Tensor> outputs_;
  BufferPool* buffers_ = nullptr;  // executor's buffer pool; null: plain allocation
  ThreadPool* pool_ = nullptr;
  VariableStore* vars_ = nullptr;
};

class GradContext {
 public:
  Graph& graph() const { return *g_; }
  Node* node() const { return node_; }
  Output x(int i) const { return node_->input(i); }   // forward input i
  Output y(int i = 0) const { return node_->output(i); }  // forward output i
  // Incoming gradient for output i; a null Output when none flows to that output.
  Output dy(int i = 0) const { return dys_[i]; }
  Graph* g_ = nullptr;
  Node* node_ = nullptr;
  std::vector<Output> dys_;
};

struct OpDef {
  std::string name;
  // Fills output dtypes/shapes from input infos and attributes; fails naming the node.
  std::function<void(InferContext&)> shape_fn = {};
  // Computes outputs from inputs. Must not keep state between calls except through variables.
  std::function<void(KernelContext&)> kernel = {};
  // Adds gradient nodes (under the current name scope) and returns one Output per data input
  // (null Output: no gradient, e.g. integer inputs). Empty function: op is not differentiable
  // (gradients() fails naming the node if a gradient must flow through it).
  std::function<std::vector<Output>(GradContext&)> grad = {};
  // Stateful ops (variable writes) are never pruned as duplicates or constant-folded.
  bool stateful = false;
};

void register_op(OpDef def);  // replaces an existing definition of the same name
const OpDef* find_op(std::string_view name);  // nullptr if unknown
const OpDef& get_op(std::string_view name);   // throws UsageError if unknown
std::vector<std::string> registered_ops();
// Registers the ops that the graph layer itself needs: Placeholder, Const, Variable, Identity,
// NoOp, AddN, ZerosLike, OnesLike, Assign, AssignAdd, AssignSub, AssignMovingAverage.
// Idempotent; called by ops::register_standard_ops().
void register_core_ops();

// Plan-time kernel fusion (an executor optimisation; the graph itself is never changed, so
// rewrites and files see the unfused ops). A rule fuses a two-node chain first -> second where
// output `first_output` of `first` is read only by `second` (as its input `second_input`) and is
// neither fed nor fetched, provided every other input of `second` is available when `first`
// runs. The fused kernel then runs at `first`'s place with inputs = first's inputs followed by
// second's inputs (the fused edge's entry is an undefined tensor) and outputs = first's
// outputs followed by second's outputs; it need not produce the fused edge.
struct FusionRule {
  std::string name;  // for profiles, e.g. "FusedBatchNorm+Relu"
  std::string first_op, second_op;
  int first_output = 0, second_input = 0;
  std::function<bool(const Node& first, const Node& second)> applies = {};  // optional extra test
  std::function<void(KernelContext&, const Node& first, const Node& second)> kernel = {};
};
void register_fusion(FusionRule rule);
std::vector<const FusionRule*> fusion_rules();

// ---------------------------------------------------------------------------------------------
// Reverse-mode autodiff: adds gradient nodes to `g` (under name scope `scope`, nested in the
// current scope) and returns d(sum of ys)/d(x) for each x; a null Output where x does not
// influence ys. Multiple consumers are summed with AddN. `grad_ys` (optional, same length as ys)
// seeds the gradient of each y; default ones.
std::vector<Output> gradients(Graph& g, std::span<const Output> ys, std::span<const Output> xs,
                              std::span<const Output> grad_ys = {}, const std::string& scope = "gradients");
inline std::vector<Output> gradients(Graph& g, Output y, std::span<const Output> xs,
                                     const std::string& scope = "gradients") {
  return gradients(g, std::span<const Output>(&y, 1), xs, {}, scope);
}
inline std::vector<Output> gradients(Graph& g, Output y, std::initializer_list<Output> xs,
                                     const std::string& scope = "gradients") {
  return gradients(g, std::span<const Output>(&y, 1), std::span<const Output>(xs.begin(), xs.size()), {},
                   scope);
}

// ---------------------------------------------------------------------------------------------
// Executor. Plans once per (feeds, fetches, targets) set — pruning to the nodes needed, ordering
// them, assigning value slots and last uses — and reuses the plan; intermediate tensors are
// released after their last use, their buffers going back to a per-plan pool that
// allocate_output draws from (memory follows the live set; no allocation in the steady state).
// Fetched tensors are returned as copies (safe to keep across steps).
class Session {
 public:
  Session(Graph& g, VariableStore& vars, ThreadPool& pool = default_pool());
  ~Session();
  using Feeds = std::vector<std::pair<Output, Tensor>>;
  std::vector<Tensor> run(const Feeds& feeds, const std::vector<Output>& fetches,
                          const std::vector<Node*>& targets = {});
  // By name: feeds/fetches "node" or "node:k", targets are node names.
  std::vector<Tensor> run(const std::map<std::string, Tensor>& feeds, const std::vector<std::string>& fetches,
                          const std::vector<std::string>& targets = {});
  Graph& graph() const { return g_; }
  VariableStore& variables() const { return vars_; }
  // Per-op-type wall time (seconds) and call counts accumulated while profiling is on.
  void set_profiling(bool on) { profiling_ = on; }
  // Plan-time kernel fusion (FusionRule); on by default (off when the environment variable
  // QAT_NO_FUSION=1). Changing it drops cached plans.
  void set_fusion(bool on);
  struct OpTime {
    double seconds = 0;
    int64_t calls = 0;
  };
  const std::map<std::string, OpTime>& profile() const { return profile_; }
  std::string profile_report() const;  // one line per op type, slowest first

  // Concurrent towers (quantize::replicate_towers): the steps of nodes named "tower_k/..." or
  // ".../tower_k/..." (gradients) run on lane k, each lane on its own thread with its share of
  // the pool's T threads (T/K; kernels see it through num_threads() and KernelContext::pool());
  // other steps run on lane 0. A step waits for the steps it reads (data and control inputs),
  // and a variable-writing (stateful) step is a barrier: it runs after every step planned
  // before it and before every step planned after it, so every read sees the value the
  // sequential order gives. Results do not depend on the schedule (bit-identical run to run,
  // and to a sequential run with T/K threads per kernel). Needs T >= K, else sequential.
  // Default: on when the graph has the "towers" collection (replicate_towers sets it), off with
  // the environment variable QAT_SEQUENTIAL_TOWERS=1. Changing it drops cached plans.
  void set_concurrent_towers(bool on);
  // Lanes the last plan run used (1: sequential).
  int last_run_lanes() const { return last_lanes_; }

 private:
  struct Plan;
  struct Lanes;
  Plan& plan_for(const Feeds& feeds, const std::vector<Output>& fetches, const std::vector<Node*>& targets);
  void run_sequential(Plan& P);
  void run_concurrent(Plan& P);
  Graph& g_;
  VariableStore& vars_;
  ThreadPool& pool_;
  std::vector<std::unique_ptr<Plan>> plans_;
  bool profiling_ = false;
  bool fusion_ = true;
  int concurrent_ = -1;  // -1: auto (the "towers" collection), 0 off, 1 on
  int last_lanes_ = 1;
  std::unique_ptr<Lanes> lanes_;
  std::map<std::string, OpTime> profile_;
};

}  // namespace qat::graph
