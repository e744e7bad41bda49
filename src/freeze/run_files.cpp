// Freeze from files: a run folder (runs/NAME: graph.json + ckpt-*.qatckpt + latest) or a
// (graph, checkpoint) pair. The run folder layout is the train layer's (include/qat/train.h).
#include <filesystem>

#include "qat/checkpoint.h"
#include "qat/freeze.h"
#include "qat/ops.h"
#include "qat/quantize.h"

namespace qat::freeze {

namespace fs = std::filesystem;

void register_all_ops() {
  ops::register_standard_ops();
  quantize::register_quantize_ops();
}

graph::VariableStore load_variables(const std::string& checkpoint_path) {
  train::Checkpoint ck = train::load_checkpoint(checkpoint_path);
  graph::VariableStore vars;
  for (auto& [name, t] : ck.variables) vars.set(name, t);
  return vars;
}

std::string run_graph_path(const std::string& run_dir) {
  if (!fs::is_directory(run_dir)) fail<IoError>("{}: not a run folder (no such directory)", run_dir);
  // graph.json is the inference (eval) graph, with the QAT eval rewrite applied when the run
  // was a QAT run; train_graph.json is never what freeze wants.
  for (const char* f : {"eval_graph.json", "graph.json"}) {
    fs::path p = fs::path(run_dir) / f;
    if (fs::exists(p)) return p.string();
  }
  fail<IoError>("{}: run folder has no graph.json", run_dir);
}

std::unique_ptr<graph::Graph> freeze_run(const std::string& run_dir, const std::string& checkpoint,
                                         const FreezeOptions& opt, FreezeStats* stats) {
  register_all_ops();
  std::string gpath = run_graph_path(run_dir);
  std::string ckpt = checkpoint.empty() ? train::latest_checkpoint(run_dir) : checkpoint;
  auto g = graph::Graph::load(gpath);
  graph::VariableStore vars = load_variables(ckpt);
  FreezeOptions o = opt;
  if (o.output_nodes.empty()) o.output_nodes = {"logits"};  // build_model's output node
  return freeze_graph(*g, vars, o, stats);
}

}  // namespace qat::freeze
