// Optimizer graph construction (TF1's Optimizer.minimize = compute_gradients + apply_gradients).
#include "qat/optimizer.h"

#include <mutex>

#include "qat/ops.h"

namespace qat::train {

namespace detail {
void register_apply_gradient_descent();
void register_apply_momentum();
void register_apply_adam();
}  // namespace detail

void register_train_ops() {
  static std::once_flag once;
  std::call_once(once, [] {
    ops::register_standard_ops();
    detail::register_apply_gradient_descent();
    detail::register_apply_momentum();
    detail::register_apply_adam();
  });
}

Optimizer::Optimizer(OptimizerOptions opt) : opt_(std::move(opt)) {
  if (opt_.type != "sgd" && opt_.type != "momentum" && opt_.type != "adam")
    fail<UsageError>("unknown optimizer '{}' (expected sgd, momentum or adam)", opt_.type);
  QAT_CHECK_T(UsageError, opt_.momentum >= 0 && opt_.momentum < 1, "momentum must be in [0, 1), got {}", opt_.momentum);
  QAT_CHECK_T(UsageError, opt_.weight_decay >= 0, "weight decay must be >= 0, got {}", opt_.weight_decay);
  QAT_CHECK_T(UsageError, opt_.beta1 >= 0 && opt_.beta1 < 1 && opt_.beta2 >= 0 && opt_.beta2 < 1,
              "Adam betas must be in [0, 1)");
  register_train_ops();
}

std::string Optimizer::name() const {
  if (opt_.type == "sgd") return "GradientDescent";
  if (opt_.type == "momentum") return "Momentum";
  return "Adam";
}

std::vector<std::string> Optimizer::slot_names() const {
  if (opt_.type == "momentum") return {"momentum"};
  if (opt_.type == "adam") return {"adam_m", "adam_v"};
  return {};
}

std::vector<GradAndVar> Optimizer::compute_gradients(Graph& g, Output loss, std::vector<Node*> vars) const {
  if (vars.empty()) vars = graph::trainable_variables(g);
  QAT_CHECK_T(UsageError, !vars.empty(), "optimizer: the graph has no trainable variables");
  std::vector<Output> xs;
  for (Node* v : vars) xs.push_back(v->output(0));
  std::vector<Output> grads = graph::gradients(g, loss, std::span<const Output>(xs));
  std::vector<GradAndVar> r;
  for (size_t i = 0; i < vars.size(); ++i) r.push_back({grads[i], vars[i]});
  return r;
}

Node* Optimizer::apply_gradients(Graph& g, const std::vector<GradAndVar>& grads, Output learning_rate) const {
  std::vector<Node*> deps;
  Output step = graph::get_or_create_global_step(g);
  // Slot variables first, outside the optimizer's name scope: their names are absolute
  // ("<var>/<slot>") so that a checkpoint written by one graph restores into another.
  std::vector<std::vector<Output>> all_slots(grads.size());
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].grad) continue;
    Node* var = grads[i].var;
    for (const auto& s : slot_names()) {
      std::string slot_name = var->name() + "/" + s;
      Node* existing = g.find(slot_name);
      Output slot = existing ? existing->output(0)
                             : ops::variable(g, slot_name, Tensor::zeros(var->output_info(0).shape), false);
      g.add_to_collection(kOptimizerSlots, slot.node);
      all_slots[i].push_back(slot);
    }
  }
  {
    Graph::NameScope scope(g, name());
    for (size_t i = 0; i < grads.size(); ++i) {
      const auto& gv = grads[i];
      if (!gv.grad) continue;  // the variable does not influence the loss (TF skips it too)
      Node* var = gv.var;
      const std::vector<Output>& slots = all_slots[i];
      graph::AttrMap attrs{{"weight_decay", opt_.weight_decay}};
      std::vector<Output> in{var->output(0)};
      std::string op;
      if (opt_.type == "sgd") {
        op = "ApplyGradientDescent";
        in.push_back(learning_rate);
        in.push_back(gv.grad);
      } else if (opt_.type == "momentum") {
        op = "ApplyMomentum";
        in.push_back(slots[0]);
        in.push_back(learning_rate);
        in.push_back(gv.grad);
        attrs["momentum"] = opt_.momentum;
        attrs["use_nesterov"] = opt_.nesterov;
      } else {
        op = "ApplyAdam";
        in.push_back(slots[0]);
        in.push_back(slots[1]);
        in.push_back(learning_rate);
        in.push_back(gv.grad);
        in.push_back(step);
        attrs["beta1"] = opt_.beta1;
        attrs["beta2"] = opt_.beta2;
        attrs["epsilon"] = opt_.epsilon;
      }
      deps.push_back(g.add_node(op, g.unique_name("update_" + var->name()), in, attrs));
    }
  }
  QAT_CHECK_T(UsageError, !deps.empty(), "optimizer: no variable receives a gradient from the loss");
  // The global-step increment is created after every Apply* so it runs after ApplyAdam read it.
  Output one = ops::constant(g, Tensor::from_span<int64_t>({}, std::span<const int64_t>(std::vector<int64_t>{1})),
                             g.unique_name("global_step/one"));
  Node* inc = g.add_node("AssignAdd", g.unique_name("global_step/increment"), {step, one});
  deps.push_back(inc);
  for (Node* u : g.collection(graph::kUpdateOps)) deps.push_back(u);
  return g.add_node("NoOp", g.unique_name("train_op"), {}, {}, deps);
}

Node* Optimizer::minimize(Graph& g, Output loss, Output learning_rate, std::vector<Node*> vars) const {
  return apply_gradients(g, compute_gradients(g, loss, std::move(vars)), learning_rate);
}

Output learning_rate_placeholder(Graph& g) {
  if (Node* n = g.find("learning_rate")) return n->output(0);
  return ops::placeholder(g, DType::kFloat32, {}, "learning_rate");
}

bool has_optimizer(const Graph& g) {
  for (Node* n : g.nodes())
    if (n->op().rfind("Apply", 0) == 0) return true;
  return false;
}

}  // namespace qat::train
