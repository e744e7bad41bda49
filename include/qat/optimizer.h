// Optimizers (SGD, Momentum, Adam, weight decay) and learning-rate schedules, TF1 style.
//
// An optimizer adds one Apply* node per trainable variable to the graph (ApplyGradientDescent,
// ApplyMomentum, ApplyAdam; registered by register_train_ops()), so the graph itself shows that
// it is a training graph: the QAT rewrite refuses to run once Apply* nodes exist, exactly as
// tf.contrib.quantize does. Usage (TF1 order):
//   build model -> loss -> [quantize::create_training_graph] -> Optimizer::minimize
// The split form compute_gradients() / apply_gradients() is where towers average gradients and
// where an MPI allreduce of one fused gradient buffer goes.
//
// Update rules (per element; w variable, g gradient, lr the learning rate of this step):
//   weight decay (L2, coupled, as torch.optim.SGD/Adam weight_decay): g += wd * w
//   sgd:       w -= lr * g
//   momentum:  v = mu * v + g;  w -= lr * v          (TF ApplyMomentum == torch SGD momentum)
//              nesterov: w -= lr * (g + mu * v)
//   adam:      m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  t = step + 1
//              w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)   (torch.optim.Adam form)
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "qat/graph.h"

namespace qat::train {

using graph::Graph;
using graph::Node;
using graph::Output;

// ------------------------------------------------------------------------------------ schedules
struct Schedule {
  enum class Kind { kConstant, kStep, kCosine };
  Kind kind = Kind::kConstant;
  double base_lr = 0.1;
  int64_t total_steps = 1;   // cosine: decays from base_lr at step 0 to 0 at total_steps
  int64_t step_size = 1;     // step: multiply by gamma every step_size steps
  double gamma = 0.1;
  int64_t warmup_steps = 0;  // linear warm-up from 0 over the first steps (0: none)

  double lr(int64_t step) const;
  static Kind parse_kind(const std::string& name);  // constant|step|cosine, UsageError otherwise
  static const char* kind_name(Kind k);
};

// --------------------------------------------------------------------------------- update math
// Reference element-wise updates (the Apply* kernels run these over thread-pool chunks).
void sgd_update(float* w, const float* g, int64_t n, float lr, float wd);
void momentum_update(float* w, float* v, const float* g, int64_t n, float lr, float mu, float wd, bool nesterov);
void adam_update(float* w, float* m, float* v, const float* g, int64_t n, float lr, float beta1, float beta2,
                 float eps, float wd, int64_t t);

// Registers ApplyGradientDescent, ApplyMomentum, ApplyAdam (and the standard ops). Idempotent.
void register_train_ops();

// ---------------------------------------------------------------------------------- optimizer
struct OptimizerOptions {
  std::string type = "momentum";  // sgd | momentum | adam
  double momentum = 0.9;
  bool nesterov = false;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;
  double weight_decay = 0.0;
};

struct GradAndVar {
  Output grad;
  Node* var = nullptr;  // a Variable node
};

class Optimizer {
 public:
  explicit Optimizer(OptimizerOptions opt);
  const OptimizerOptions& options() const { return opt_; }
  // The name used for slot variables and the Apply scope ("Momentum", "GradientDescent", "Adam").
  std::string name() const;
  // Slots of this optimizer per variable ("momentum"; "adam_m", "adam_v"; none for sgd).
  std::vector<std::string> slot_names() const;

  // d(loss)/d(var) for each var (default: the trainable-variables collection).
  std::vector<GradAndVar> compute_gradients(Graph& g, Output loss, std::vector<Node*> vars = {}) const;
  // Adds the slot variables ("<var>/<slot>", not trainable, zero-initialised, in the collection
  // "optimizer_slots"), one Apply* node per variable, then increments global_step. The returned
  // NoOp "train_op" depends on every Apply*, the update_ops collection (BN moving averages) and
  // the global-step increment. `learning_rate` is a float scalar (usually the placeholder made
  // by learning_rate_placeholder()).
  Node* apply_gradients(Graph& g, const std::vector<GradAndVar>& grads, Output learning_rate) const;
  // compute_gradients + apply_gradients.
  Node* minimize(Graph& g, Output loss, Output learning_rate, std::vector<Node*> vars = {}) const;

 private:
  OptimizerOptions opt_;
};

// A float scalar placeholder "learning_rate", fed every step from the schedule.
Output learning_rate_placeholder(Graph& g);
// True if the graph holds any Apply* node (i.e. an optimizer was added).
bool has_optimizer(const Graph& g);
inline constexpr const char* kOptimizerSlots = "optimizer_slots";

}  // namespace qat::train
