// `qat bench MODEL.tflite [--threads T] [--runs N] [--warmup W] [--requant M] [--batch B] [--json]`:
// Invoke latency on deterministic random inputs: median, min, max (and mean) over N timed runs
// after W warm-up runs. --batch resizes dimension 0 of every input first (ResizeInputTensor).
// --json prints one JSON line instead of text.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "lite/tool_support.h"
#include "qat/interpreter.h"

namespace qat::cli {

void register_bench(CLI::App& app) {
  struct Args {
    std::string model, requant = "tflite";
    int threads = 1, runs = 50, warmup = 5, batch = 0;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("bench", "Time Invoke of a .tflite model");
  c->add_option("model", a->model, ".tflite model")->required();
  c->add_option("--threads", a->threads, "Threads")->check(CLI::PositiveNumber);
  c->add_option("--runs", a->runs, "Timed runs")->check(CLI::PositiveNumber);
  c->add_option("--warmup", a->warmup, "Untimed warm-up runs")->check(CLI::NonNegativeNumber);
  c->add_option("--requant", a->requant, "tflite or xnnpack")->check(CLI::IsMember({"tflite", "xnnpack"}));
  c->add_option("--batch", a->batch, "Resize dimension 0 of the inputs to B")->check(CLI::PositiveNumber);
  c->add_flag("--json", a->json, "One JSON line");
  c->callback([a] {
    lite::InterpreterOptions opt;
    opt.threads = a->threads;
    opt.requant = lite::ParseRequantMode(a->requant);
    auto interp = lite::Interpreter::FromFile(a->model, lite::DefaultOpResolver(), opt);
    if (a->batch > 0)
      for (int i = 0; i < interp->inputs_size(); ++i) {
        auto dims = interp->input(i).dims;
        if (!dims.empty()) dims[0] = a->batch;
        interp->ResizeInputTensor(i, dims);
      }
    interp->AllocateTensors();
    lite::FillRandomInputs(*interp);
    for (int i = 0; i < a->warmup; ++i) interp->Invoke();
    std::vector<double> ms;
    ms.reserve(a->runs);
    for (int i = 0; i < a->runs; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      interp->Invoke();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    const size_t n = sorted.size();
    const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    const double mean = std::accumulate(ms.begin(), ms.end(), 0.0) / n;
    const int batch = interp->inputs_size() && !interp->input(0).dims.empty() ? interp->input(0).dims[0] : 1;
    if (a->json) {
      nlohmann::json j = {{"model", a->model},  {"threads", a->threads},         {"runs", a->runs},
                          {"batch", batch},
                          {"warmup", a->warmup}, {"requant", a->requant},         {"median_ms", median},
                          {"min_ms", sorted.front()}, {"max_ms", sorted.back()}, {"mean_ms", mean},
                          {"arena_bytes", interp->arena_bytes()}, {"nodes", interp->nodes_size()}};
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%s: %d nodes, arena %.2f MiB, threads %d, requant %s\n", a->model.c_str(), interp->nodes_size(),
                  interp->arena_bytes() / 1048576.0, a->threads, a->requant.c_str());
      std::printf("%d runs after %d warm-up: median %.3f ms, min %.3f ms, max %.3f ms, mean %.3f ms\n", a->runs,
                  a->warmup, median, sorted.front(), sorted.back(), mean);
    }
  });
}

}  // namespace qat::cli
