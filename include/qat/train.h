// Training: graph assembly in TF1 order, the training loop, evaluation, run folders.
//
//   build_train_graph():  model (Mode::kTrain) -> loss -> [rewrite hook] -> optimizer.minimize
//   build_eval_graph():   model (Mode::kEval)  -> [rewrite hook]
// The rewrite hooks are where quantize::create_training_graph / create_eval_graph go: they run
// after the loss exists and before any Apply* node. Both graphs use the same variable names, so
// one VariableStore serves both (and is what a checkpoint holds).
//
// Run folder (runs/NAME): model.json (copy), graph.json (the inference graph, graph-file format),
// train_graph.json, run.json (names of the input/logits nodes and the training settings),
// ckpt-STEP.qatckpt + latest, metrics.jsonl (one JSON object per epoch).
#pragma once
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qat/checkpoint.h"
#include "qat/data.h"
#include "qat/graph.h"
#include "qat/model.h"
#include "qat/optimizer.h"

namespace qat::train {

using GraphRewrite = std::function<void(graph::Graph&)>;

struct TrainGraph {
  std::unique_ptr<graph::Graph> graph;
  graph::Output input, labels, logits, loss, learning_rate;
  graph::Node* train_op = nullptr;
};
// labels: int32 placeholder "labels" [-1]; loss: "loss" = mean sparse softmax cross-entropy.
TrainGraph build_train_graph(const ModelSpec& spec, const OptimizerOptions& opt, uint64_t seed,
                             const GraphRewrite& rewrite = {});

struct EvalGraph {
  std::unique_ptr<graph::Graph> graph;
  graph::Output input, logits;
};
EvalGraph build_eval_graph(const ModelSpec& spec, uint64_t seed, const GraphRewrite& rewrite = {});

// Fraction of `ds` whose argmax(logits) equals the label, in batches of `batch`.
double evaluate(graph::Session& s, graph::Output input, graph::Output logits, const data::Dataset& ds,
                int64_t batch = 500, float scale = 1.0f / 255.0f);

// Checkpoint <-> VariableStore. Optimizer slots (collection optimizer_slots) go to the slot
// section, everything else (weights, BN statistics, global_step) to the variable section.
Checkpoint checkpoint_from_store(const graph::Graph& g, const graph::VariableStore& vars);
// Loads every variable of `g` from `ckpt` (exact match required: name and shape), naming the
// offending variable on mismatch.
void restore_store(const graph::Graph& g, graph::VariableStore& vars, const Checkpoint& ckpt, const std::string& path);
// --restore: copies the model variables that exist in `ckpt` (shapes must match); the ones
// missing keep their initial value and are returned. Slots and global_step are not restored.
std::vector<std::string> restore_partial(const graph::Graph& g, graph::VariableStore& vars, const Checkpoint& ckpt,
                                         const std::string& path);

struct TrainConfig {
  ModelSpec model;
  std::string model_json;  // copied to the run folder verbatim (empty: model.to_json())
  int epochs = 1;
  int64_t batch = 128;
  Schedule::Kind schedule = Schedule::Kind::kCosine;
  double lr = 0.05;
  double lr_gamma = 0.1;       // step schedule
  double lr_step_epochs = 1;   // step schedule: decay every this many epochs
  int64_t warmup_steps = 0;
  OptimizerOptions optimizer;
  uint64_t seed = 1;
  int crop_pad = 0;
  bool flip = false;
  int64_t train_limit = 0, test_limit = 0;  // use the first N examples (0: all)
  std::string out_dir;                       // empty: no files written
  bool resume = false;                       // continue from out_dir's latest checkpoint
  std::string restore;                       // --restore CKPT: initial variables from another run
  int64_t stop_after_steps = 0;              // stop (and checkpoint) at this global step (0: never)
  int64_t checkpoint_every = 0;              // also checkpoint every N steps (0: each epoch end)
  int keep_checkpoints = 3;
  int64_t eval_batch = 500;
  bool eval_each_epoch = true;
  // Progress line on `progress` (nullptr: silent): \r-updated on a TTY, else one line every
  // log_every steps. Messages (restore notes) go there too.
  std::FILE* progress = stderr;
  int64_t log_every = 100;
  GraphRewrite train_rewrite, eval_rewrite;
};

struct EpochMetrics {
  int epoch = 0;          // 1-based
  int64_t step = 0;       // global step at the end of the epoch
  double train_loss = 0;  // mean over the epoch's steps
  double train_acc = 0;
  double test_acc = -1;   // -1: not evaluated
  double images_per_s = 0;  // training steps only (data + forward + backward + update)
  double lr = 0;          // at the last step
  double seconds = 0;     // wall time of the epoch, evaluation included
  std::string to_json() const;
};

struct TrainResult {
  std::vector<EpochMetrics> epochs;
  int64_t steps = 0;
  double test_acc = -1;
  double images_per_s = 0;  // over all training steps run in this process
  double train_seconds = 0;
  int64_t parameters = 0;
  std::string checkpoint;   // last checkpoint written ("" if none)
  bool stopped_early = false;
  std::string to_json() const;
};

// Trains on `data` (train split) and evaluates on its test split. With out_dir, writes the run
// folder. The VariableStore after training is returned through `vars_out` when given.
TrainResult train(const TrainConfig& cfg, const data::MnistSplits& data, graph::VariableStore* vars_out = nullptr);

// Evaluation of a run folder or of a (graph, checkpoint) pair: the graph must have "input" and
// "logits" nodes (as build_eval_graph makes). Returns the test accuracy.
struct EvalResult {
  double accuracy = 0;
  int64_t examples = 0;
  double seconds = 0;
  std::string graph, checkpoint;
  std::string to_json() const;
};
EvalResult evaluate_files(const std::string& graph_path, const std::string& checkpoint_path,
                          const data::Dataset& test, int64_t batch = 500, float scale = 1.0f / 255.0f);

}  // namespace qat::train
