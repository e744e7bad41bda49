// qat::quantize — the QAT graph rewrite (tf.contrib.quantize semantics, REFERENCE.md §3).
//
//   Graph g;  ... build the float model and its loss (BN in training mode) ...
//   qat::quantize::create_training_graph(g, {.quant_delay = 2000});   // before the optimizer
//   ... optimizer.minimize(...) ...
//   Graph e;  ... build the same model for inference ...
//   qat::quantize::create_eval_graph(e);
//
// Both rewrite the graph in place: batch norms that follow Conv2D / DepthwiseConv2dNative /
// MatMul are folded into the weights, and FakeQuant nodes are inserted where TFLite fuses ops:
// on the (folded) weights and on the output of each fused layer (after bias, bypass Add and
// Relu/Relu6), on model inputs, and after average pooling / concat / free-standing Add. The
// node and variable names, attributes and the quant-delay / BN-freeze switches are the contract
// with freeze/convert: see docs/qat.md.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "qat/graph.h"

namespace qat::quantize {

struct QuantizeOptions {
  // Activations (and weights, as TF) pass through unquantized while global_step < quant_delay;
  // their ranges are tracked all along. 0: quantize from the first step.
  int64_t quant_delay = 0;
  // From global_step >= freeze_bn_delay the folded batch norms use (and stop updating) their
  // moving statistics. -1: never freeze.
  int64_t freeze_bn_delay = -1;
  int weight_bits = 8;      // 2..16
  int activation_bits = 8;  // 2..16
  // TFLite's int8 scheme for weights: symmetric ranges, narrow [-127, 127], zero point 0.
  bool symmetric = false;
  // Per-output-channel weight ranges for Conv2D (axis O) and DepthwiseConv2dNative (C*M);
  // MatMul weights stay per tensor (TFLite FULLY_CONNECTED is per-tensor in the int8 spec).
  bool per_channel = false;
  // Rewrite only nodes whose name starts with "<scope>/" (empty: the whole graph). Calling the
  // rewrite once per tower scope is supported: towers share weights and range variables.
  std::string scope;
  double ema_decay = 0.999;  // activation ranges (TF's default)
  bool quantize_inputs = true;  // FakeQuant on float model inputs (Placeholders feeding a layer)
  // Not TF: start each activation range at its first batch's range instead of the fixed
  // initial guess ([0, 6] after ReLU, [-6, 6] otherwise). Model inputs always start this way.
  bool init_ranges_from_batch = false;
};

// What a rewrite did (for logs and tests).
struct RewriteSummary {
  std::vector<std::string> layers;            // matched layer nodes (Conv2D / ... / MatMul)
  std::vector<std::string> folded_batch_norms;
  std::vector<std::string> fake_quant_nodes;  // every FakeQuant node added
};

// Training rewrite. UsageError if the graph already has an optimizer (Apply* op) or gradient
// nodes ("call it before the optimizer", as TF); Error naming the node for anything that cannot
// be quantized. Idempotent per layer: layers already rewritten are skipped.
RewriteSummary create_training_graph(graph::Graph& g, const QuantizeOptions& opt = {});
// Inference rewrite of a graph built in eval mode: the same FakeQuant placement with ranges read
// from the variables (no updates), batch norms folded in inference form (weights * gamma /
// sigma_mv, bias beta - gamma * mean / sigma_mv). Variable names equal the training graph's.
RewriteSummary create_eval_graph(graph::Graph& g, const QuantizeOptions& opt = {});

// Registers the ops of the rewrite (FakeQuantWithMinMaxVars[PerChannel][Gradient], QuantMinMax,
// QuantRange*, BnFold*; docs/qat.md). Idempotent; the rewrite calls it itself.
void register_quantize_ops();

// Hooks for train::TrainConfig::train_rewrite / eval_rewrite.
std::function<void(graph::Graph&)> training_rewrite(const QuantizeOptions& opt);
std::function<void(graph::Graph&)> eval_rewrite(const QuantizeOptions& opt);

// ---- Towers ------------------------------------------------------------------------------------
// Replaces the forward pass and loss of a training graph (every node depending on the batch
// inputs, default "input" and "labels") by `towers` replicas in scopes "tower_0".."tower_K-1"
// that share every variable; tower k reads rows [N*k/K, N*(k+1)/K) of the batch (op
// TowerSplit), and the nodes reading the forward pass ("logits", "loss") read the batch
// concatenation of the towers' values, so the loss is the whole batch's mean and its gradient
// the average of the towers'. Call before the optimizer (and before or after nothing else).
void replicate_towers(graph::Graph& g, int towers,
                      const std::vector<std::string>& batch_inputs = {"input", "labels"});
// Training hook: replicate_towers, then (when `quantize`) create_training_graph once per tower
// (scope "tower_k"; the whole graph when towers == 1).
std::function<void(graph::Graph&)> towers_training_rewrite(const QuantizeOptions& opt, int towers, bool quantize);

// Collection holding every FakeQuant node the rewrite added.
inline constexpr const char* kFakeQuantCollection = "fake_quant";

}  // namespace qat::quantize
