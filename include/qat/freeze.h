// qat::freeze — turn a trained graph + variable values into a self-contained inference graph.
//
// What freeze does (the TF1 `freeze_graph` + `optimize_for_inference` steps, in one pass):
//   1. keeps only what the output nodes need through *data* edges: the loss, the optimizer, the
//      moving-average and FakeQuant range updates and every control dependency go;
//   2. turns every Variable into a Const holding its value from the VariableStore (checkpoint);
//   3. removes Identity (and StopGradient) nodes, except an output node itself, so names asked
//      for as outputs survive;
//   4. sets FusedBatchNorm to inference (is_training = false: moving statistics);
//   5. folds constant sub-graphs (every non-stateful op whose inputs are all constant), EXCEPT
//      FakeQuant nodes: they stay, with their min/max now constants holding the final ranges, so
//      the converter can read them (the frozen graph computes exactly what the eval graph did);
//   6. folds an inference batch norm that follows Conv2D / DepthwiseConv2dNative / MatMul (with
//      or without a BiasAdd) and whose weights are constant into the weights and a bias:
//        s = gamma / sqrt(var + eps);  w'[..., c] = w[..., c] * s[c];  b' = beta + (b - mean) * s.
//      (A QAT graph has its batch norms folded by the QAT rewrite already; this handles float
//      graphs, so float and PTQ conversions see the same layer structure.)
// The result is a new Graph; the input graph is not modified. File format: docs/graph_format.md.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "qat/graph.h"

namespace qat::freeze {

struct FreezeOptions {
  // Node names ("logits") or outputs ("bn:0") the frozen graph must compute. Required.
  std::vector<std::string> output_nodes;
  bool fold_batch_norms = true;
  bool fold_constants = true;
  bool remove_identities = true;
};

struct FreezeStats {
  int variables_frozen = 0;
  int nodes_in = 0, nodes_out = 0;
  int identities_removed = 0;
  int constants_folded = 0;   // nodes replaced by Const
  int batch_norms_folded = 0;
  int fake_quant_kept = 0;
};

// True for the FakeQuant op names of tf.quantization (and of qat's QAT rewrite).
bool is_fake_quant_op(std::string_view op);

// Freezes `g` with the variable values in `vars` (every Variable the outputs need must be there;
// UsageError naming it otherwise). Throws UsageError for an unknown output node.
std::unique_ptr<graph::Graph> freeze_graph(const graph::Graph& g, const graph::VariableStore& vars,
                                           const FreezeOptions& opt, FreezeStats* stats = nullptr);

// Loads a checkpoint file (qat::train format) into a VariableStore.
graph::VariableStore load_variables(const std::string& checkpoint_path);

// The graph file of a run folder: the eval graph when the run has one (runs/NAME/eval_graph.json
// or the file named in the run's metadata), else the training graph (graph.json). IoError if
// none exists.
std::string run_graph_path(const std::string& run_dir);

// `qat freeze --run DIR [--checkpoint FILE]`: loads the run's graph and checkpoint (default: the
// run's latest) and freezes it. Registers the standard and QAT ops first.
std::unique_ptr<graph::Graph> freeze_run(const std::string& run_dir, const std::string& checkpoint,
                                         const FreezeOptions& opt, FreezeStats* stats = nullptr);

// Registers every op a frozen graph may contain (standard ops and the QAT rewrite's FakeQuant
// ops). Idempotent.
void register_all_ops();

}  // namespace qat::freeze
