// Step 3: freeze the eval graph: variables become constants, training-only nodes go, the
// FakeQuant nodes stay (their min/max now constants: the converter reads the ranges there).
//
// TF1 equivalent: freeze_graph(input_graph, input_checkpoint, output_node_names="logits")
//
// Usage: 03_freeze RUN_DIR FROZEN.json
#include <cstdio>
#include <memory>
#include <string>
#include "qat/freeze.h"
#include "qat/graph.h"

int main(int argc, char** argv) {
  if (argc < 3) { std::fprintf(stderr, "usage: %s RUN_DIR FROZEN.json\n", argv[0]); return 2; }
  const std::string run = argv[1];

  // Loading a graph file needs its ops registered (standard ops + the QAT rewrite's).
  qat::freeze::register_all_ops();
  std::unique_ptr<qat::graph::Graph> g = qat::graph::Graph::load(run + "/eval_graph.json");
  qat::graph::VariableStore vars = qat::freeze::load_variables(run + "/eval.qatckpt");

  qat::freeze::FreezeOptions opt;
  opt.output_nodes = {"logits"};  // everything "logits" does not need through data edges goes
  qat::freeze::FreezeStats stats;
  std::unique_ptr<qat::graph::Graph> frozen = qat::freeze::freeze_graph(*g, vars, opt, &stats);

  std::printf("frozen: %d variables -> constants, %d -> %d nodes, %d FakeQuant nodes kept\n",
              stats.variables_frozen, stats.nodes_in, stats.nodes_out, stats.fake_quant_kept);
  // (One call does all of this for a run folder: qat::freeze::freeze_run(run, "", opt).)
  frozen->save(argv[2]);
  std::printf("wrote %s\n", argv[2]);
  return 0;
}
