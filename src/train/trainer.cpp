// The training loop: seeded batches -> Session::run(train_op) with the scheduled learning rate,
// progress line, per-epoch evaluation and metrics, checkpoints, exact resume.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <cstdlib>
#include <cstring>

#include <nlohmann/json.hpp>

#include "qat/distributed.h"
#include "qat/train.h"

namespace qat::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::string fmt_eta(double s) {
  if (!(s >= 0) || s > 1e7) return "?";
  int64_t t = (int64_t)std::llround(s);
  if (t >= 3600) return fmt::format("{}h{:02}m", t / 3600, (t / 60) % 60);
  if (t >= 60) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

std::string dbl(double v) { return fmt::format("{:.17g}", v); }

double meta_double(const Checkpoint& c, const std::string& key) {
  std::string s = c.meta_str(key, "0");
  try {
    return std::stod(s);
  } catch (const std::exception&) {
    fail<FormatError>("checkpoint: meta '{}' = '{}' is not a number", key, s);
  }
}

void write_text(const std::string& path, const std::string& text) { write_file_atomic(path, text); }

// Keeps the newest `keep` ckpt-*.qatckpt files of a run folder (keep 0: removes them all).
void prune_checkpoints(const std::string& dir, int keep) {
  if (keep < 0) return;
  std::vector<std::pair<int64_t, fs::path>> found;
  static const std::regex re(R"(ckpt-(\d+)\.qatckpt)");
  for (const auto& e : fs::directory_iterator(dir)) {
    std::smatch m;
    std::string name = e.path().filename().string();
    if (std::regex_match(name, m, re)) found.push_back({std::stoll(m[1]), e.path()});
  }
  std::sort(found.begin(), found.end());
  for (size_t i = 0; i + (size_t)keep < found.size(); ++i) {
    std::error_code ec;
    fs::remove(found[i].second, ec);
  }
}

}  // namespace

std::string EpochMetrics::to_json() const {
  nlohmann::json j{{"epoch", epoch},           {"step", step},   {"train_loss", train_loss},
                   {"train_acc", train_acc},   {"lr", lr},       {"images_per_s", images_per_s},
                   {"seconds", seconds}};
  if (test_acc >= 0) j["test_acc"] = test_acc;
  return j.dump();
}

std::string TrainResult::to_json() const {
  nlohmann::json j{{"steps", steps},
                   {"test_acc", test_acc},
                   {"images_per_s", images_per_s},
                   {"train_seconds", train_seconds},
                   {"parameters", parameters},
                   {"checkpoint", checkpoint},
                   {"stopped_early", stopped_early}};
  if (!epochs.empty()) {
    j["epochs"] = epochs.back().epoch;
    j["train_loss"] = epochs.back().train_loss;
  }
  return j.dump();
}

std::string EvalResult::to_json() const {
  return nlohmann::json{{"accuracy", accuracy}, {"examples", examples}, {"seconds", seconds},
                        {"graph", graph},       {"checkpoint", checkpoint}}
      .dump();
}

TrainResult train(const TrainConfig& cfg, const data::MnistSplits& data_in, graph::VariableStore* vars_out) {
  QAT_CHECK_T(UsageError, cfg.epochs >= 1, "epochs must be >= 1, got {}", cfg.epochs);
  QAT_CHECK_T(UsageError, cfg.batch >= 1, "batch must be >= 1, got {}", cfg.batch);
  QAT_CHECK_T(UsageError, cfg.lr > 0 && std::isfinite(cfg.lr), "learning rate must be > 0, got {}", cfg.lr);
  QAT_CHECK_T(UsageError, !cfg.resume || !cfg.out_dir.empty(), "--resume needs an output folder");
  const ModelSpec& spec = cfg.model;
  const data::Dataset& train_full = data_in.train;
  QAT_CHECK_T(UsageError, train_full.h == spec.height && train_full.w == spec.width && train_full.c == spec.channels,
              "model '{}' expects {}x{}x{} inputs but the data is {}x{}x{}", spec.name, spec.height, spec.width,
              spec.channels, train_full.h, train_full.w, train_full.c);
  data::Dataset train_sub, test_sub;
  const data::Dataset* train_ds = &train_full;
  const data::Dataset* test_ds = &data_in.test;
  if (cfg.train_limit > 0 && cfg.train_limit < train_full.n) train_ds = &(train_sub = train_full.head(cfg.train_limit));
  if (cfg.test_limit > 0 && cfg.test_limit < data_in.test.n) test_ds = &(test_sub = data_in.test.head(cfg.test_limit));

  // Data parallel (mpirun, docs/distributed.md): `batch` is the global batch; rank r trains on
  // its rows of it, and only rank 0 writes the run folder and logs.
  const int rank = distributed::world_rank(), ranks = distributed::world_size();
  const bool dist = ranks > 1;
  QAT_CHECK_T(UsageError, cfg.batch >= ranks, "batch {} is smaller than the {} MPI ranks", cfg.batch, ranks);
  const std::string out_dir = rank == 0 ? cfg.out_dir : "";
  std::FILE* out = rank == 0 ? cfg.progress : nullptr;
  const bool tty = out && ::isatty(::fileno(out));
  auto note = [&](const std::string& s) {
    if (out) std::fprintf(out, "%s\n", s.c_str()), std::fflush(out);
  };

  // ---- graphs and variables (under mpirun: sync BN and global ranges inside the train graph)
  int64_t shard_first = 0, shard_count = cfg.batch;
  if (dist) distributed::shard_rows(cfg.batch, rank, ranks, &shard_first, &shard_count);
  const double shard_weight = (double)shard_count / (double)cfg.batch;
  TrainGraph tg = build_train_graph(
      spec, cfg.optimizer, cfg.seed,
      dist ? distributed::with_synced_statistics(cfg.train_rewrite, shard_weight) : cfg.train_rewrite);
  EvalGraph eg = build_eval_graph(spec, cfg.seed, cfg.eval_rewrite);
  graph::VariableStore local_vars;
  graph::VariableStore& vars = vars_out ? *vars_out : local_vars;
  vars.initialize(*tg.graph);
  vars.initialize(*eg.graph);

  data::LoaderOptions lo;
  lo.batch = cfg.batch;
  lo.seed = cfg.seed;
  lo.scale = (float)spec.input_scale;
  lo.crop_pad = cfg.crop_pad;
  lo.flip = cfg.flip;
  data::Loader loader(*train_ds, lo);
  const int64_t steps_per_epoch = loader.steps_per_epoch();
  const int64_t total_steps = steps_per_epoch * cfg.epochs;

  Schedule sched;
  sched.kind = cfg.schedule;
  sched.base_lr = cfg.lr;
  sched.total_steps = total_steps;
  sched.gamma = cfg.lr_gamma;
  sched.step_size = std::max<int64_t>(1, (int64_t)std::llround(cfg.lr_step_epochs * (double)steps_per_epoch));
  sched.warmup_steps = cfg.warmup_steps;

  // ---- position (fresh, resumed or restored)
  int64_t step = 0, epoch = 0, pos = 0;
  double ep_loss = 0, ep_time = 0;
  int64_t ep_correct = 0, ep_seen = 0;
  if (!out_dir.empty()) fs::create_directories(out_dir);
  bool resumed = false;
  if (cfg.resume && rank == 0) {
    std::string path;
    try {
      path = latest_checkpoint(out_dir);
    } catch (const IoError&) {
      note(fmt::format("{}: no checkpoint to resume from; starting fresh", out_dir));
    }
    if (!path.empty()) {
      Checkpoint c = load_checkpoint(path);
      if (c.meta_int("batch", cfg.batch) != cfg.batch || c.meta_int("seed", (int64_t)cfg.seed) != (int64_t)cfg.seed)
        fail<UsageError>("{}: written with --batch {} --seed {}; resuming needs the same values", path,
                         c.meta_int("batch", 0), c.meta_str("seed"));
      if (c.meta_str("optimizer", cfg.optimizer.type) != cfg.optimizer.type)
        fail<UsageError>("{}: written with optimizer '{}', not '{}'", path, c.meta_str("optimizer"), cfg.optimizer.type);
      restore_store(*tg.graph, vars, c, path);
      step = c.step;
      epoch = c.meta_int("epoch", 0);
      pos = c.meta_int("epoch_step", 0);
      ep_loss = meta_double(c, "epoch_loss_sum");
      ep_correct = c.meta_int("epoch_correct", 0);
      ep_seen = c.meta_int("epoch_seen", 0);
      ep_time = meta_double(c, "epoch_train_seconds");
      if (pos >= steps_per_epoch) ++epoch, pos = 0, ep_loss = 0, ep_correct = 0, ep_seen = 0, ep_time = 0;
      resumed = true;
      note(fmt::format("resuming from {} (step {}, epoch {}, batch {} of the epoch)", path, step, epoch + 1, pos));
    }
  }
  if (!resumed && !cfg.restore.empty() && rank == 0) {
    Checkpoint c = load_checkpoint(cfg.restore);
    auto missing = restore_partial(*tg.graph, vars, c, cfg.restore);
    note(fmt::format("restored {} variables from {}", c.variables.size() - (c.variables.count("global_step") ? 1 : 0),
                     cfg.restore));
    for (const auto& m : missing) note(fmt::format("  '{}' is not in {}: keeps its initial value", m, cfg.restore));
  }

  if (dist) {
    // Rank 0's initial / restored variables and position go to every rank (one broadcast each).
    distributed::broadcast_variables(vars);
    std::string pos_bytes = fmt::format("{} {} {} {} {} {} {} {}", step, epoch, pos, dbl(ep_loss), ep_correct, ep_seen,
                                        dbl(ep_time), resumed ? 1 : 0);
    distributed::broadcast_bytes(pos_bytes);
    int r = 0;
    std::istringstream is(pos_bytes);
    is >> step >> epoch >> pos >> ep_loss >> ep_correct >> ep_seen >> ep_time >> r;
    resumed = r != 0;
  }

  // ---- run folder
  if (!out_dir.empty()) {
    if (!resumed) {
      // A fresh run owns the folder: stale checkpoints of an earlier (longer) run would otherwise
      // outrank the new ones in pruning and in a later --resume.
      prune_checkpoints(out_dir, 0);
      std::error_code ec;
      fs::remove(fs::path(out_dir) / "latest", ec);
    }
    write_text((fs::path(out_dir) / "model.json").string(), cfg.model_json.empty() ? spec.to_json() : cfg.model_json);
    eg.graph->save((fs::path(out_dir) / "graph.json").string());
    // The run folder's train graph stays MPI-free (the same file as a one-process run).
    const std::string train_graph_path = (fs::path(out_dir) / "train_graph.json").string();
    if (dist) build_train_graph(spec, cfg.optimizer, cfg.seed, cfg.train_rewrite).graph->save(train_graph_path);
    else tg.graph->save(train_graph_path);
    nlohmann::json run{{"format", "qat-run-v1"},
                       {"model", "model.json"},
                       {"graph", "graph.json"},
                       {"train_graph", "train_graph.json"},
                       {"input", "input"},
                       {"logits", "logits"},
                       {"input_scale", spec.input_scale},
                       {"epochs", cfg.epochs},
                       {"batch", cfg.batch},
                       {"lr", cfg.lr},
                       {"schedule", Schedule::kind_name(cfg.schedule)},
                       {"optimizer", cfg.optimizer.type},
                       {"momentum", cfg.optimizer.momentum},
                       {"weight_decay", cfg.optimizer.weight_decay},
                       {"seed", cfg.seed}};
    write_text((fs::path(out_dir) / "run.json").string(), run.dump(2) + "\n");
  }

  TrainResult res;
  res.parameters = spec.num_parameters();
  auto save = [&](int64_t ep, int64_t p) {
    if (out_dir.empty()) return;
    Checkpoint c = checkpoint_from_store(*tg.graph, vars);
    c.step = step;
    c.meta = {{"model", spec.name},
              {"optimizer", cfg.optimizer.type},
              {"seed", std::to_string(cfg.seed)},
              {"batch", std::to_string(cfg.batch)},
              {"epoch", std::to_string(ep)},
              {"epoch_step", std::to_string(p)},
              {"epoch_loss_sum", dbl(ep_loss)},
              {"epoch_correct", std::to_string(ep_correct)},
              {"epoch_seen", std::to_string(ep_seen)},
              {"epoch_train_seconds", dbl(ep_time)}};
    std::string name = checkpoint_filename(step);
    save_checkpoint((fs::path(out_dir) / name).string(), c);
    write_latest(out_dir, name);
    prune_checkpoints(out_dir, std::max(cfg.keep_checkpoints, 1));
    res.checkpoint = (fs::path(out_dir) / name).string();
  };

  // One fused gradient allreduce per step, weighted by this rank's share of the global batch.
  distributed::SyncedState synced;
  if (dist) {
    distributed::insert_gradient_allreduce(*tg.graph, shard_weight);
    synced = distributed::synced_state(*tg.graph);
  }
  data::Batch shard;
  graph::Session train_sess(*tg.graph, vars);
  graph::Session eval_sess(*eg.graph, vars);
  // QAT_PROFILE=1: per-op wall time of the training step, printed to stderr at the end.
  const bool profile = std::getenv("QAT_PROFILE") && std::string(std::getenv("QAT_PROFILE")) == "1";
  train_sess.set_profiling(profile);
  Tensor lr_t = Tensor::scalar(0.0f);
  graph::Session::Feeds feeds{{tg.input, Tensor()}, {tg.labels, Tensor()}, {tg.learning_rate, lr_t}};
  std::vector<graph::Output> fetches{tg.loss, tg.logits};
  std::vector<graph::Node*> targets{tg.train_op};
  data::Batch batch;
  double total_train_s = 0;
  int64_t total_images = 0;
  std::string metrics_path = out_dir.empty() ? "" : (fs::path(out_dir) / "metrics.jsonl").string();
  if (!metrics_path.empty() && !resumed) std::ofstream(metrics_path, std::ios::trunc);

  for (; epoch < cfg.epochs; ++epoch) {
    auto t_epoch = Clock::now();
    loader.seek(epoch, pos);
    double lr = 0;
    bool stop = false;
    auto t_log = Clock::now();
    while (pos < steps_per_epoch) {
      if (cfg.stop_after_steps > 0 && step >= cfg.stop_after_steps) {
        stop = true;
        break;
      }
      if (dist) distributed::maybe_inject_failure(step);
      auto t0 = Clock::now();
      if (!loader.next(batch)) break;
      data::Batch* b_in = &batch;
      if (dist) {
        // This rank's rows of the global batch (the same seeded order on every rank).
        const int64_t sz = batch.images.size() / batch.size, n = shard_count;
        if (!shard.images.defined()) {
          Shape is = batch.images.shape();
          is[0] = n;
          shard.images = Tensor(DType::kFloat32, is);
          shard.labels = Tensor(DType::kInt32, {n});
        }
        std::memcpy(shard.images.data<float>(), batch.images.data<float>() + shard_first * sz,
                    (size_t)(n * sz) * sizeof(float));
        std::memcpy(shard.labels.data<int32_t>(), batch.labels.data<int32_t>() + shard_first, (size_t)n * sizeof(int32_t));
        shard.size = n;
        b_in = &shard;
      }
      lr = sched.lr(step);
      lr_t.data<float>()[0] = (float)lr;
      feeds[0].second = b_in->images;
      feeds[1].second = b_in->labels;
      std::vector<Tensor> r = train_sess.run(feeds, fetches, targets);
      if (dist) distributed::sync_state(synced, vars);
      double dt = seconds_since(t0);
      ep_time += dt;
      total_train_s += dt;
      total_images += batch.size;
      ++step;
      ++pos;
      double loss = r[0].at(0);
      const float* lg = r[1].data<float>();
      const int32_t* lab = b_in->labels.data<int32_t>();
      int64_t k = r[1].dim(1), correct = 0;
      for (int64_t i = 0; i < b_in->size; ++i) {
        int64_t best = 0;
        for (int64_t j = 1; j < k; ++j)
          if (lg[i * k + j] > lg[i * k + best]) best = j;
        correct += best == lab[i];
      }
      if (dist) {
        // Whole-batch loss and accuracy for logs and metrics (rank 0 prints them).
        std::vector<double> m{loss * (double)b_in->size, (double)correct};
        distributed::allreduce_sum(m);
        loss = m[0] / (double)batch.size;
        correct = (int64_t)std::llround(m[1]);
      }
      ep_correct += correct;
      if (!std::isfinite(loss))
        fail<Error>("training diverged: loss is {} at step {} (epoch {}); try a lower --lr", loss, step, epoch + 1);
      ep_loss += loss * (double)batch.size;
      ep_seen += batch.size;
      if (out && (pos % cfg.log_every == 0 || pos == steps_per_epoch || (tty && seconds_since(t_log) > 0.25))) {
        t_log = Clock::now();
        double ips = ep_time > 0 ? (double)ep_seen / ep_time : 0;
        double eta = ips > 0 ? (double)(total_steps - step) * (double)cfg.batch / ips : -1;
        std::string line = fmt::format("epoch {}/{} step {}/{} loss {:.4f} acc {:.4f} lr {:.5f} {:.0f} img/s ETA {}",
                                       epoch + 1, cfg.epochs, pos, steps_per_epoch, ep_loss / (double)ep_seen,
                                       (double)ep_correct / (double)ep_seen, lr, ips, fmt_eta(eta));
        if (tty)
          std::fprintf(out, "\r%s\033[K", line.c_str());
        else
          std::fprintf(out, "%s\n", line.c_str());
        std::fflush(out);
      }
      if (cfg.checkpoint_every > 0 && step % cfg.checkpoint_every == 0 && pos < steps_per_epoch) save(epoch, pos);
    }
    if (tty) std::fprintf(out, "\n");
    if (stop) {
      save(epoch, pos);
      res.stopped_early = true;
      break;
    }
    EpochMetrics m;
    m.epoch = (int)epoch + 1;
    m.step = step;
    m.train_loss = ep_seen ? ep_loss / (double)ep_seen : 0;
    m.train_acc = ep_seen ? (double)ep_correct / (double)ep_seen : 0;
    m.images_per_s = ep_time > 0 ? (double)ep_seen / ep_time : 0;
    m.lr = lr;
    if (cfg.eval_each_epoch || epoch + 1 == cfg.epochs) {
      if (!dist) {
        m.test_acc = evaluate(eval_sess, eg.input, eg.logits, *test_ds, cfg.eval_batch, (float)spec.input_scale);
      } else {
        // Each rank evaluates a contiguous part of the test set; the counts are summed.
        int64_t first = 0, count = 0;
        distributed::shard_rows(test_ds->n, rank, ranks, &first, &count);
        data::Dataset part = *test_ds;
        part.n = count;
        part.pixels.assign(test_ds->pixels.begin() + first * test_ds->image_size(),
                           test_ds->pixels.begin() + (first + count) * test_ds->image_size());
        part.labels.assign(test_ds->labels.begin() + first, test_ds->labels.begin() + first + count);
        double acc = count ? evaluate(eval_sess, eg.input, eg.logits, part, cfg.eval_batch, (float)spec.input_scale) : 0;
        std::vector<double> c{std::round(acc * (double)count)};
        distributed::allreduce_sum(c);
        m.test_acc = test_ds->n ? c[0] / (double)test_ds->n : 0;
      }
      res.test_acc = m.test_acc;
    }
    m.seconds = seconds_since(t_epoch);
    res.epochs.push_back(m);
    if (out)
      note(fmt::format("epoch {}/{} done: loss {:.4f} train-acc {:.4f} test-acc {} {:.0f} img/s", m.epoch, cfg.epochs,
                       m.train_loss, m.train_acc, m.test_acc >= 0 ? fmt::format("{:.4f}", m.test_acc) : "-",
                       m.images_per_s));
    if (!metrics_path.empty()) {
      std::ofstream f(metrics_path, std::ios::app);
      f << m.to_json() << "\n";
      if (!f) fail<IoError>("{}: write failed", metrics_path);
    }
    pos = 0;
    ep_loss = 0, ep_correct = 0, ep_seen = 0, ep_time = 0;
    save(epoch + 1, 0);
  }
  if (dist) distributed::maybe_dump_rank_state(*tg.graph, vars);
  res.steps = step;
  res.train_seconds = total_train_s;
  res.images_per_s = total_train_s > 0 ? (double)total_images / total_train_s : 0;
  if (profile) fmt::print(stderr, "training step profile:\n{}", train_sess.profile_report());
  return res;
}

EvalResult evaluate_files(const std::string& graph_path, const std::string& checkpoint_path, const data::Dataset& test,
                          int64_t batch, float scale) {
  register_train_ops();
  auto t0 = Clock::now();
  std::unique_ptr<graph::Graph> g = graph::Graph::load(graph_path);
  graph::Node* in = g->find("input");
  graph::Node* lg = g->find("logits");
  if (!in || !lg) fail<FormatError>("{}: graph has no 'input' and 'logits' nodes (not an inference graph)", graph_path);
  if (has_optimizer(*g))
    fail<UsageError>("{}: this is a training graph (it has Apply* nodes); evaluate graph.json instead", graph_path);
  Checkpoint c = load_checkpoint(checkpoint_path);
  graph::VariableStore vars;
  restore_store(*g, vars, c, checkpoint_path);
  graph::Session s(*g, vars);
  EvalResult r;
  r.accuracy = evaluate(s, in->output(0), lg->output(0), test, batch, scale);
  r.examples = test.n;
  r.graph = graph_path;
  r.checkpoint = checkpoint_path;
  r.seconds = seconds_since(t0);
  return r;
}

}  // namespace qat::train
