// `qat freeze`: a run folder (or a graph + checkpoint) -> a frozen inference graph file.
//   qat freeze --run runs/NAME [--checkpoint FILE] [--output-nodes logits] --out frozen.json
//   qat freeze --graph G.json --checkpoint C.qatckpt --output-nodes logits --out frozen.json
#include <cstdio>

#include "commands.h"
#include "qat/freeze.h"

namespace qat::cli {

void register_freeze(CLI::App& app) {
  struct Args {
    std::string run, graph, checkpoint, out;
    std::vector<std::string> outputs;
    bool no_fold_bn = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("freeze", "Variables -> constants, prune to the outputs, fold batch norms");
  c->add_option("--run", a->run, "Run folder (runs/NAME) with graph.json and checkpoints");
  c->add_option("--graph", a->graph, "Graph file (instead of --run)");
  c->add_option("--checkpoint", a->checkpoint, "Checkpoint (default: the run's latest)");
  c->add_option("--output-nodes", a->outputs, "Output node names (comma separated; default: logits)")->delimiter(',');
  c->add_option("--out", a->out, "Frozen graph file to write")->required();
  c->add_flag("--no-fold-batch-norms", a->no_fold_bn, "Keep FusedBatchNorm nodes");
  c->callback([a] {
    freeze::FreezeOptions opt;
    opt.output_nodes = a->outputs;
    opt.fold_batch_norms = !a->no_fold_bn;
    freeze::FreezeStats st;
    std::unique_ptr<graph::Graph> g;
    if (!a->run.empty()) {
      if (!a->graph.empty()) throw UsageError("freeze: give --run or --graph, not both");
      g = freeze::freeze_run(a->run, a->checkpoint, opt, &st);
    } else {
      if (a->graph.empty() || a->checkpoint.empty())
        throw UsageError("freeze: give --run DIR, or --graph FILE with --checkpoint FILE");
      freeze::register_all_ops();
      auto src = graph::Graph::load(a->graph);
      if (opt.output_nodes.empty()) opt.output_nodes = {"logits"};
      g = freeze::freeze_graph(*src, freeze::load_variables(a->checkpoint), opt, &st);
    }
    g->save(a->out);
    std::printf("froze %d variables: %d -> %d nodes (%d identities, %d constants folded, %d batch norms folded, "
                "%d FakeQuant kept) -> %s\n",
                st.variables_frozen, st.nodes_in, st.nodes_out, st.identities_removed, st.constants_folded,
                st.batch_norms_folded, st.fake_quant_kept, a->out.c_str());
  });
}

}  // namespace qat::cli
