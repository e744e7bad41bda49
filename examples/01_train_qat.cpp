// Step 1 of the TF1 QAT flow: build the training graph, rewrite it with
// create_training_graph (fake quantization + batch-norm folding), train, save a run folder.
//
// TF1 equivalent:
//   loss = build_model(...)                                        # float model + loss
//   tf.contrib.quantize.create_training_graph(quant_delay=N)       # before the optimizer
//   train_op = optimizer.minimize(loss); ... saver.save(...)
//
// Usage: 01_train_qat RUN_DIR [STEPS]
#include <cstdio>
#include <cstdlib>
#include <string>
#include "qat/data.h"
#include "qat/model.h"
#include "qat/quantize.h"
#include "qat/thread_pool.h"
#include "qat/train.h"

int main(int argc, char** argv) {
  if (argc < 2) { std::fprintf(stderr, "usage: %s RUN_DIR [STEPS]\n", argv[0]); return 2; }
  const int64_t steps = argc > 2 ? std::atoll(argv[2]) : 200;
  qat::set_num_threads(2);  // the process-wide thread pool (and oneDNN's OpenMP)

  // Fashion-MNIST: 60k train / 10k test uint8 images (QAT_FASHION_MNIST_DIR overrides the path).
  qat::data::MnistSplits data = qat::data::load_mnist(qat::data::fashion_mnist_dir());

  // The QAT scheme: TFLite's int8 (symmetric, per-channel weights). Weights and activations
  // pass through unquantized for the first quant_delay steps while their ranges are tracked.
  qat::quantize::QuantizeOptions q;
  q.quant_delay = steps / 2;
  q.symmetric = true;
  q.per_channel = true;

  qat::train::TrainConfig cfg;
  cfg.model = qat::train::small_cnn();  // conv-bn-relu x2, pool, dense (models/small_cnn.json)
  cfg.batch = 32;
  cfg.train_limit = steps * cfg.batch;  // one epoch of exactly `steps` batches
  cfg.test_limit = 500;
  cfg.epochs = 1;
  cfg.lr = 0.05;
  cfg.out_dir = argv[1];  // run folder: graph.json, train_graph.json, run.json, ckpt-N, latest
  // The rewrite hook runs after the loss is built and before optimizer.minimize adds its
  // Apply* nodes: exactly where TF1 wants create_training_graph.
  cfg.train_rewrite = [&](qat::graph::Graph& g) {
    auto summary = qat::quantize::create_training_graph(g, q);
    std::printf("create_training_graph: %zu layers, %zu batch norms folded, %zu FakeQuant nodes\n",
                summary.layers.size(), summary.folded_batch_norms.size(), summary.fake_quant_nodes.size());
    std::fflush(stdout);  // before the trainer's progress lines (stderr)
  };
  // (No eval_rewrite here: step 2 builds the quantized eval graph itself, as a TF1 script
  // would in a separate eval/export program.)

  qat::train::TrainResult r = qat::train::train(cfg, data);
  std::printf("trained %lld steps, test accuracy (float eval graph) %.3f, checkpoint %s\n",
              (long long)r.steps, r.test_acc, r.checkpoint.c_str());
  return 0;
}
