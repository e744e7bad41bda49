// `qat train`: trains a model file on an MNIST-format dataset and writes a run folder
// (graph, checkpoints, metrics.jsonl). See docs/training.md.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "commands.h"
#include "qat/distributed.h"
#include "qat/error.h"
#include "qat/quantize.h"
#include "qat/thread_pool.h"
#include "qat/train.h"

namespace qat::cli {
namespace {

struct TrainArgs {
  std::string model, data = "fashion-mnist", data_dir, out, schedule = "cosine", optimizer = "momentum", restore;
  int epochs = 3, threads = 0, keep = 3;
  int64_t batch = 128, train_limit = 0, test_limit = 0, max_steps = 0, checkpoint_every = 0, log_every = 50,
          warmup = 0;
  double lr = 0.05, momentum = 0.9, weight_decay = 0.0, lr_gamma = 0.1, lr_step_epochs = 1.0;
  uint64_t seed = 1;
  int crop_pad = 0, towers = 1;
  int64_t quant_delay = 0, freeze_bn_delay = -1;
  bool quantize = false, symmetric = false, per_channel = false;
  int weight_bits = 8, activation_bits = 8;
  bool flip = false, nesterov = false, resume = false, json = false, quiet = false;
};

}  // namespace

// Number validators with short messages (CLI11's own print the whole double range).
const CLI::Validator& positive_number() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        try {
          size_t used = 0;
          double x = std::stod(s, &used);
          if (used == s.size() && x > 0 && std::isfinite(x)) return "";
        } catch (const std::exception&) {
        }
        return "must be a number > 0, got '" + s + "'";
      },
      "POSITIVE");
  return v;
}
const CLI::Validator& non_negative_number() {
  static const CLI::Validator v(
      [](std::string& s) -> std::string {
        try {
          size_t used = 0;
          double x = std::stod(s, &used);
          if (used == s.size() && x >= 0 && std::isfinite(x)) return "";
        } catch (const std::exception&) {
        }
        return "must be a number >= 0, got '" + s + "'";
      },
      "NONNEGATIVE");
  return v;
}

// Resolves --data / --data-dir to a folder; a missing folder is a usage error (exit 2).
std::string resolve_data_dir(const std::string& data, const std::string& data_dir) {
  std::string dir = data_dir;
  if (dir.empty()) {
    if (data != "fashion-mnist")
      fail<UsageError>("unknown --data '{}' (use fashion-mnist, or --data-dir DIR for any MNIST-format folder)", data);
    dir = data::fashion_mnist_dir();
  }
  if (!std::filesystem::is_directory(dir))
    fail<UsageError>("data folder '{}' not found{}", dir,
                     data_dir.empty() ? " (install the dataset-fashion-mnist package)" : "");
  return dir;
}

// Input files problems (missing, malformed) are reported as usage errors: exit code 2.
data::MnistSplits load_data_or_usage_error(const std::string& dir) {
  try {
    return data::load_mnist(dir);
  } catch (const IoError& e) {
    throw UsageError(e.what());
  } catch (const FormatError& e) {
    throw UsageError(e.what());
  }
}

void register_train(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* c = app.add_subcommand("train", "Train a model file (models/*.json) on Fashion-MNIST or an MNIST-format set");
  c->add_option("--model", a->model, "model file (JSON, docs/model_format.md)")->required();
  c->add_option("--data", a->data, "dataset name: fashion-mnist (the Debian package's folder)");
  c->add_option("--data-dir", a->data_dir, "folder with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]");
  c->add_option("--out", a->out, "run folder (graph, checkpoints, metrics.jsonl)");
  c->add_option("--epochs", a->epochs, "epochs")->check(CLI::Range(1, 100000));
  c->add_option("--batch", a->batch, "batch size")->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  c->add_option("--lr", a->lr, "base learning rate")->check(positive_number());
  c->add_option("--schedule", a->schedule, "constant | step | cosine (per step, over all steps)")
      ->check(CLI::IsMember({"constant", "step", "cosine"}));
  c->add_option("--lr-gamma", a->lr_gamma, "step schedule: decay factor")->check(positive_number());
  c->add_option("--lr-step-epochs", a->lr_step_epochs, "step schedule: epochs between decays")
      ->check(positive_number());
  c->add_option("--warmup-steps", a->warmup, "linear warm-up steps")->check(non_negative_number());
  c->add_option("--optimizer", a->optimizer, "sgd | momentum | adam")->check(CLI::IsMember({"sgd", "momentum", "adam"}));
  c->add_option("--momentum", a->momentum, "momentum (momentum optimizer)")->check(CLI::Range(0.0, 0.999999).description("in [0, 1)"));
  c->add_flag("--nesterov", a->nesterov, "Nesterov momentum");
  c->add_option("--weight-decay", a->weight_decay, "L2 weight decay (coupled, torch.optim style)")
      ->check(non_negative_number());
  c->add_option("--threads", a->threads, "threads (default: all cores)")->check(CLI::Range(1, 1024));
  c->add_option("--seed", a->seed, "seed for initialisation, shuffling and augmentation");
  c->add_option("--crop-pad", a->crop_pad, "augmentation: random crop after zero padding by N pixels")
      ->check(CLI::Range(0, 64));
  c->add_flag("--flip", a->flip, "augmentation: random horizontal flip");
  c->add_option("--train-limit", a->train_limit, "use the first N training images")->check(non_negative_number());
  c->add_option("--test-limit", a->test_limit, "use the first N test images")->check(non_negative_number());
  c->add_option("--max-steps", a->max_steps, "stop (and checkpoint) at this global step")->check(non_negative_number());
  c->add_option("--checkpoint-every", a->checkpoint_every, "also checkpoint every N steps")
      ->check(non_negative_number());
  c->add_option("--keep-checkpoints", a->keep, "checkpoints kept in the run folder")->check(CLI::Range(1, 1000000));
  c->add_option("--log-every", a->log_every, "progress line every N steps when not a TTY")->check(CLI::Range(1, 1 << 30));
  c->add_flag("--resume", a->resume, "continue from the run folder's latest checkpoint");
  c->add_option("--restore", a->restore, "initial variables from this checkpoint (partial restore allowed)");
  c->add_option("--towers", a->towers, "split each batch over K towers sharing the variables")
      ->check(CLI::Range(1, 1024));
  c->add_flag("--quantize", a->quantize, "quantization-aware training (the QAT rewrite, docs/qat.md)");
  c->add_option("--quant-delay", a->quant_delay, "--quantize: quantize from this global step");
  c->add_option("--freeze-bn-delay", a->freeze_bn_delay, "--quantize: freeze batch norms at this global step (-1: never)");
  c->add_option("--weight-bits", a->weight_bits, "--quantize: weight bits")->check(CLI::Range(2, 16));
  c->add_option("--activation-bits", a->activation_bits, "--quantize: activation bits")->check(CLI::Range(2, 16));
  c->add_flag("--symmetric", a->symmetric, "--quantize: TFLite int8 scheme (symmetric weights, zero point 0)");
  c->add_flag("--per-channel", a->per_channel, "--quantize: per-output-channel conv / depthwise weight ranges");
  c->add_flag("--json", a->json, "print one final JSON summary line");
  c->add_flag("--quiet", a->quiet, "no progress line");
  c->callback([a] {
    if (a->threads > 0) set_num_threads(a->threads);
    if (!std::filesystem::exists(a->model)) fail<UsageError>("model file '{}' not found", a->model);
    if (!a->restore.empty() && !std::filesystem::exists(a->restore))
      fail<UsageError>("--restore: checkpoint '{}' not found", a->restore);
    if (a->resume && a->out.empty()) fail<UsageError>("--resume needs --out RUN_FOLDER");
    train::TrainConfig cfg;
    std::ifstream mf(a->model);
    std::stringstream ss;
    ss << mf.rdbuf();
    cfg.model_json = ss.str();
    try {
      cfg.model = train::ModelSpec::from_json(cfg.model_json, a->model);
    } catch (const FormatError& e) {
      throw UsageError(e.what());
    }
    std::string dir = resolve_data_dir(a->data, a->data_dir);
    cfg.epochs = a->epochs;
    cfg.batch = a->batch;
    cfg.lr = a->lr;
    cfg.schedule = train::Schedule::parse_kind(a->schedule);
    cfg.lr_gamma = a->lr_gamma;
    cfg.lr_step_epochs = a->lr_step_epochs;
    cfg.warmup_steps = a->warmup;
    cfg.optimizer.type = a->optimizer;
    cfg.optimizer.momentum = a->momentum;
    cfg.optimizer.nesterov = a->nesterov;
    cfg.optimizer.weight_decay = a->weight_decay;
    cfg.seed = a->seed;
    cfg.crop_pad = a->crop_pad;
    cfg.flip = a->flip;
    cfg.train_limit = a->train_limit;
    cfg.test_limit = a->test_limit;
    cfg.out_dir = a->out;
    cfg.resume = a->resume;
    cfg.restore = a->restore;
    cfg.stop_after_steps = a->max_steps;
    cfg.checkpoint_every = a->checkpoint_every;
    cfg.keep_checkpoints = a->keep;
    cfg.log_every = a->log_every;
    cfg.progress = a->quiet ? nullptr : stderr;
    data::MnistSplits d = load_data_or_usage_error(dir);
    if (d.train.h != cfg.model.height || d.train.w != cfg.model.width || d.train.c != cfg.model.channels)
      fail<UsageError>("{}: model expects {}x{}x{} images but {} has {}x{}x{}", a->model, cfg.model.height,
                       cfg.model.width, cfg.model.channels, dir, d.train.h, d.train.w, d.train.c);
    if (cfg.batch > (cfg.train_limit > 0 ? std::min(cfg.train_limit, d.train.n) : d.train.n))
      fail<UsageError>("--batch {} is larger than the training set", cfg.batch);
    if (a->towers > 1 || a->quantize) {
      quantize::QuantizeOptions q;
      q.quant_delay = a->quant_delay;
      q.freeze_bn_delay = a->freeze_bn_delay;
      q.weight_bits = a->weight_bits;
      q.activation_bits = a->activation_bits;
      q.symmetric = a->symmetric;
      q.per_channel = a->per_channel;
      cfg.train_rewrite = quantize::towers_training_rewrite(q, a->towers, a->quantize);
      if (a->quantize) cfg.eval_rewrite = quantize::eval_rewrite(q);
    }
    // Under mpirun (docs/distributed.md): any error on one rank ends the whole job (MPI_Abort)
    // instead of leaving the others blocked in a collective; only rank 0 prints results.
    distributed::init();
    train::TrainResult r;
    if (distributed::world_size() > 1) {
      try {
        r = train::train(cfg, d);
      } catch (const std::exception& e) {
        distributed::abort_job(e.what(), dynamic_cast<const UsageError*>(&e) ? 2 : 1);
      }
      if (!distributed::is_root()) return;
    } else {
      r = train::train(cfg, d);
    }
    if (a->json) {
      std::printf("%s\n", r.to_json().c_str());
    } else {
      std::printf("trained %s: %lld steps, test accuracy %.4f, %.0f images/s (training steps), %lld parameters%s%s\n",
                  cfg.model.name.c_str(), (long long)r.steps, r.test_acc, r.images_per_s, (long long)r.parameters,
                  r.checkpoint.empty() ? "" : ", checkpoint ", r.checkpoint.c_str());
    }
  });
}

}  // namespace qat::cli
