// Step 2: build the inference graph, rewrite it with create_eval_graph, restore the trained
// variables and save graph + checkpoint (what TF1 does before freeze_graph).
//
// TF1 equivalent:
//   logits = build_model(is_training=False)
//   tf.contrib.quantize.create_eval_graph()
//   saver.restore(sess, ckpt); write_graph(...); saver.save(sess, ...)
//
// Usage: 02_eval_graph_save RUN_DIR   (writes RUN_DIR/eval_graph.json and RUN_DIR/eval.qatckpt)
#include <cstdio>
#include <string>
#include "qat/checkpoint.h"
#include "qat/data.h"
#include "qat/graph.h"
#include "qat/quantize.h"
#include "qat/thread_pool.h"
#include "qat/train.h"

int main(int argc, char** argv) {
  if (argc < 2) { std::fprintf(stderr, "usage: %s RUN_DIR\n", argv[0]); return 2; }
  const std::string run = argv[1];
  qat::set_num_threads(2);

  // Same options as the training rewrite (01_train_qat.cpp): the variable names of the ranges
  // and folded weights must match the checkpoint.
  qat::quantize::QuantizeOptions q;
  q.symmetric = true;
  q.per_channel = true;

  // The model in eval mode ("input" placeholder -> ... -> "logits"), rewritten by the hook.
  qat::train::EvalGraph eg = qat::train::build_eval_graph(
      qat::train::small_cnn(), /*seed=*/1,
      [&](qat::graph::Graph& g) { qat::quantize::create_eval_graph(g, q); });

  // Restore the trained variables (weights, BN statistics, FakeQuant ranges) from the latest
  // checkpoint of the run.
  const std::string ckpt_path = qat::train::latest_checkpoint(run);
  qat::train::Checkpoint ckpt = qat::train::load_checkpoint(ckpt_path);
  qat::graph::VariableStore vars;
  qat::train::restore_store(*eg.graph, vars, ckpt, ckpt_path);

  // Sanity check: the fake-quant graph's accuracy on 500 test images.
  qat::data::Dataset test = qat::data::load_mnist(qat::data::fashion_mnist_dir()).test.head(500);
  qat::graph::Session session(*eg.graph, vars);
  std::printf("fake-quant eval graph accuracy: %.3f\n", qat::train::evaluate(session, eg.input, eg.logits, test));

  // Save the inference graph and a checkpoint holding just its variables.
  eg.graph->save(run + "/eval_graph.json");
  qat::train::save_checkpoint(run + "/eval.qatckpt", qat::train::checkpoint_from_store(*eg.graph, vars));
  std::printf("wrote %s/eval_graph.json and %s/eval.qatckpt\n", run.c_str(), run.c_str());
  return 0;
}
