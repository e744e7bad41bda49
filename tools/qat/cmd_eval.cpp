// `qat eval`: test accuracy of a run folder (its inference graph + latest checkpoint) or of an
// explicit --graph / --checkpoint pair, on the 10k test images.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "qat/error.h"
#include "qat/quantize.h"
#include "qat/thread_pool.h"
#include "qat/train.h"

namespace qat::cli {

namespace {
struct EvalArgs {
  std::string model, predictions, run, graph, checkpoint, data = "fashion-mnist", data_dir;
  int threads = 0;
  int64_t batch = 500, test_limit = 0;
  bool json = false;
};
}  // namespace

void register_eval(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* c = app.add_subcommand("eval", "Test accuracy of a trained run (or a graph + checkpoint)");
  c->add_option("model", a->model, "a classifier .tflite: its accuracy through qat's interpreter");
  c->add_option("--predictions", a->predictions, "MODEL.tflite: write the predicted class of each image, one per line");
  c->add_option("--run", a->run, "run folder written by qat train");
  c->add_option("--graph", a->graph, "inference graph file (default: RUN/graph.json)");
  c->add_option("--checkpoint", a->checkpoint, "checkpoint (default: RUN's latest)");
  c->add_option("--data", a->data, "dataset name: fashion-mnist");
  c->add_option("--data-dir", a->data_dir, "MNIST-format folder");
  c->add_option("--batch", a->batch, "evaluation batch size")->check(CLI::Range(int64_t(1), int64_t(1) << 20));
  c->add_option("--test-limit", a->test_limit, "use the first N test images")->check(non_negative_number());
  c->add_option("--threads", a->threads, "threads (default: all cores)")->check(CLI::Range(1, 1024));
  c->add_flag("--json", a->json, "print one JSON line");
  c->callback([a] {
    namespace fs = std::filesystem;
    if (a->threads > 0) set_num_threads(a->threads);
    if (!a->model.empty()) {  // qat eval MODEL.tflite --data fashion-mnist
      if (!fs::exists(a->model)) fail<UsageError>("model '{}' not found", a->model);
      data::MnistSplits d = load_data_or_usage_error(resolve_data_dir(a->data, a->data_dir));
      data::Dataset test = a->test_limit > 0 ? d.test.head(a->test_limit) : d.test;
      ClassifierEval r = evaluate_tflite(a->model, test, 1.0f / 255.0f, std::max(a->threads, 1));
      if (!a->predictions.empty()) {
        std::ofstream f(a->predictions);
        for (int32_t p : r.predictions) f << p << "\n";
        if (!f) fail<IoError>("cannot write '{}'", a->predictions);
      }
      if (a->json)
        std::printf("%s\n", nlohmann::json({{"model", a->model}, {"accuracy", r.accuracy}, {"examples", r.examples},
                                             {"seconds", r.seconds}}).dump().c_str());
      else
        std::printf("test accuracy %.4f (%lld images, %s, interpreter)\n", r.accuracy, (long long)r.examples,
                    a->model.c_str());
      return;
    }
    if (a->run.empty() && (a->graph.empty() || a->checkpoint.empty()))
      fail<UsageError>("give --run RUN_FOLDER, or both --graph and --checkpoint");
    double scale = 1.0 / 255.0;
    if (!a->run.empty()) {
      if (!fs::is_directory(a->run)) fail<UsageError>("run folder '{}' not found", a->run);
      if (a->graph.empty()) a->graph = (fs::path(a->run) / "graph.json").string();
      if (a->checkpoint.empty()) {
        try {
          a->checkpoint = train::latest_checkpoint(a->run);
        } catch (const IoError& e) {
          throw UsageError(e.what());
        }
      }
      std::ifstream rj(fs::path(a->run) / "run.json");
      if (rj) {
        try {
          auto j = nlohmann::json::parse(rj);
          if (j.contains("input_scale")) scale = j["input_scale"].get<double>();
        } catch (const std::exception&) {
          fail<UsageError>("{}: run.json is not valid JSON", a->run);
        }
      }
    }
    if (!fs::exists(a->graph)) fail<UsageError>("graph file '{}' not found", a->graph);
    if (!fs::exists(a->checkpoint)) fail<UsageError>("checkpoint '{}' not found", a->checkpoint);
    data::MnistSplits d = load_data_or_usage_error(resolve_data_dir(a->data, a->data_dir));
    data::Dataset test = a->test_limit > 0 ? d.test.head(a->test_limit) : d.test;
    // QAT run folders hold FakeQuant nodes: make the quantize layer's ops known before loading.
    quantize::register_quantize_ops();
    train::EvalResult r = train::evaluate_files(a->graph, a->checkpoint, test, a->batch, (float)scale);
    if (a->json)
      std::printf("%s\n", r.to_json().c_str());
    else
      std::printf("test accuracy %.4f (%lld images, %s, %s)\n", r.accuracy, (long long)r.examples, a->graph.c_str(),
                  a->checkpoint.c_str());
  });
}

}  // namespace qat::cli
