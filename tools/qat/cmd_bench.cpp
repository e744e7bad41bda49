// `qat bench MODEL.tflite [--threads T] [--runs N] [--warmup W] [--requant M] [--batch B] [--inputs K] [--json]
//  [--profile]`: Invoke latency on deterministic random inputs: median, min, max (and mean) over N
// timed runs after W warm-up runs. --batch resizes dimension 0 of every input first
// (ResizeInputTensor). --profile then runs N more Invokes with the interpreter's per-op profiling
// on (like TFLite's benchmark_model --enable_op_profiling) and prints each op's median time and
// share and a per-op-type summary; the latency figures above come from unprofiled runs.
// --json prints one JSON line instead of text (with a "profile" object under --profile). The header
// names the active ISA and whether the int8 GEMM runs on AMX tiles (QAT_NO_AMX=1 turns that off).
// --inputs N cycles through N different random inputs (seeds 1..N, all held in memory; each run
// copies the next set into the input tensors before its clock starts), as a stream of images: the int8
// kernels tune themselves to the first inputs they see (split bounds, cold channels), so repeating
// one input (N = 1, the default, as TFLite's benchmark_model does) can time them more favourably
// than a stream of real data would.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <string>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "lite/tool_support.h"
#include "qat/cpu_features.h"
#include "qat/interpreter.h"

namespace qat::cli {
namespace {

std::string ShapeText(const std::vector<int32_t>& dims) {
  std::string r = "[";
  for (size_t i = 0; i < dims.size(); ++i) r += (i ? "," : "") + std::to_string(dims[i]);
  return r + "]";
}

void PrintProfile(const lite::InvokeProfile& p) {
  size_t w = 2;
  for (const auto& op : p.ops) w = std::max(w, op.op.size());
  size_t sw = 12;
  for (const auto& op : p.ops) sw = std::max(sw, ShapeText(op.output_shape).size());
  std::printf("\nPer-op profile, %d runs: median per op; share of the sum of the op medians (%.3f ms; Invoke median "
              "%.3f ms)\n",
              p.runs, p.sum_of_medians_ms, p.invoke_median_ms);
  std::printf("%5s  %-*s  %-*s  %10s  %10s  %7s  %7s\n", "node", (int)w, "op", (int)sw, "output shape", "median ms",
              "mean ms", "share", "cdf");
  double cdf = 0;
  for (const auto& op : p.ops) {
    cdf += op.share;
    std::printf("%5d  %-*s  %-*s  %10.4f  %10.4f  %6.2f%%  %6.2f%%\n", op.node, (int)w, op.op.c_str(), (int)sw,
                ShapeText(op.output_shape).c_str(), op.median_ms, op.mean_ms, 100 * op.share, 100 * cdf);
  }
  std::printf("\nBy op type (sum of the op medians), slowest first\n");
  std::printf("%-*s  %5s  %10s  %7s\n", (int)w, "op", "count", "median ms", "share");
  for (const auto& t : p.by_type)
    std::printf("%-*s  %5d  %10.4f  %6.2f%%\n", (int)w, t.op.c_str(), t.count, t.median_ms, 100 * t.share);
}

nlohmann::json ProfileJson(const lite::InvokeProfile& p) {
  nlohmann::json ops = nlohmann::json::array(), types = nlohmann::json::array();
  for (const auto& op : p.ops)
    ops.push_back({{"node", op.node}, {"op", op.op}, {"output_shape", op.output_shape}, {"median_ms", op.median_ms},
                   {"mean_ms", op.mean_ms}, {"min_ms", op.min_ms}, {"max_ms", op.max_ms}, {"share", op.share}});
  for (const auto& t : p.by_type)
    types.push_back({{"op", t.op}, {"count", t.count}, {"median_ms", t.median_ms}, {"share", t.share}});
  return {{"runs", p.runs},           {"invoke_median_ms", p.invoke_median_ms},
          {"sum_of_medians_ms", p.sum_of_medians_ms}, {"ops", ops}, {"by_type", types}};
}

}  // namespace

void register_bench(CLI::App& app) {
  struct Args {
    std::string model, requant = "tflite", float_math = "fused";
    int threads = 1, runs = 50, warmup = 5, batch = 0, inputs = 1;
    bool json = false, profile = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("bench", "Time Invoke of a .tflite model");
  c->add_option("model", a->model, ".tflite model")->required();
  c->add_option("--threads", a->threads, "Threads")->check(CLI::PositiveNumber);
  c->add_option("--runs", a->runs, "Timed runs")->check(CLI::PositiveNumber);
  c->add_option("--warmup", a->warmup, "Untimed warm-up runs")->check(CLI::NonNegativeNumber);
  c->add_option("--requant", a->requant, "tflite or xnnpack")->check(CLI::IsMember({"tflite", "xnnpack"}));
  c->add_option("--float-math", a->float_math,
                "Float conv / FC / depthwise arithmetic: fused (FMA on AVX-512 CPUs, default) or exact (the "
                "reference's multiply-then-add values)")
      ->check(CLI::IsMember({"exact", "fused"}));
  c->add_option("--batch", a->batch, "Resize dimension 0 of the inputs to B")->check(CLI::PositiveNumber);
  c->add_option("--inputs", a->inputs, "Cycle through N different random inputs (default 1: one input repeated)")
      ->check(CLI::Range(1, 1024));
  c->add_flag("--json", a->json, "One JSON line");
  c->add_flag("--profile", a->profile, "Then N profiled runs: per-op median times and shares, per-op-type summary");
  c->callback([a] {
    lite::InterpreterOptions opt;
    opt.threads = a->threads;
    opt.requant = lite::ParseRequantMode(a->requant);
    opt.float_math = lite::ParseFloatMath(a->float_math);
    auto interp = lite::Interpreter::FromFile(a->model, lite::DefaultOpResolver(), opt);
    if (a->batch > 0)
      for (int i = 0; i < interp->inputs_size(); ++i) {
        auto dims = interp->input(i).dims;
        if (!dims.empty()) dims[0] = a->batch;
        interp->ResizeInputTensor(i, dims);
      }
    interp->AllocateTensors();
    // Input sets 1..N (set k: FillRandomInputs with seed k), copied in before each run when N > 1.
    std::vector<std::vector<std::vector<uint8_t>>> sets;
    for (int k = 1; k <= a->inputs; ++k) {
      lite::FillRandomInputs(*interp, (uint32_t)k);
      if (a->inputs == 1) break;
      auto& set = sets.emplace_back();
      for (int i = 0; i < interp->inputs_size(); ++i) {
        const auto* d = static_cast<const uint8_t*>(interp->input(i).data);
        set.emplace_back(d, d + interp->input(i).bytes);
      }
    }
    int next_set = 0;
    auto load_next = [&] {
      if (sets.empty()) return;
      const auto& set = sets[(size_t)next_set++ % sets.size()];
      for (int i = 0; i < interp->inputs_size(); ++i) std::memcpy(interp->input(i).data, set[i].data(), set[i].size());
    };
    for (int i = 0; i < a->warmup; ++i) {
      load_next();
      interp->Invoke();
    }
    std::vector<double> ms;
    ms.reserve(a->runs);
    for (int i = 0; i < a->runs; ++i) {
      load_next();
      const auto t0 = std::chrono::steady_clock::now();
      interp->Invoke();
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    const size_t n = sorted.size();
    const double median = n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
    const double mean = std::accumulate(ms.begin(), ms.end(), 0.0) / n;
    lite::InvokeProfile prof;
    if (a->profile) {
      interp->set_profiling(true);
      for (int i = 0; i < a->runs; ++i) {
        load_next();
        interp->Invoke();
      }
      interp->set_profiling(false);
      prof = interp->profile();
    }
    const int batch = interp->inputs_size() && !interp->input(0).dims.empty() ? interp->input(0).dims[0] : 1;
    if (a->json) {
      nlohmann::json j = {{"model", a->model},  {"threads", a->threads},         {"runs", a->runs},
                          {"batch", batch}, {"inputs", a->inputs},
                          {"warmup", a->warmup}, {"requant", a->requant}, {"float_math", a->float_math},         {"median_ms", median},
                          {"min_ms", sorted.front()}, {"max_ms", sorted.back()}, {"mean_ms", mean},
                          {"arena_bytes", interp->arena_bytes()}, {"nodes", interp->nodes_size()},
                          {"micro_batch", interp->micro_batch()}, {"lanes", interp->lanes()},
                          {"isa", isa_name(active_isa())}, {"amx", amx_int8_enabled()}};
      if (a->profile) j["profile"] = ProfileJson(prof);
      std::printf("%s\n", j.dump().c_str());
    } else {
      std::printf("%s: %d nodes, arena %.2f MiB, threads %d, requant %s, float %s, isa %s%s", a->model.c_str(),
                  interp->nodes_size(), interp->arena_bytes() / 1048576.0, a->threads, a->requant.c_str(),
                  a->float_math.c_str(), isa_name(active_isa()), amx_int8_enabled() ? " + amx" : "");
      if (interp->lanes()) std::printf(", %d image lanes", interp->lanes());
      else if (interp->micro_batch()) std::printf(", micro-batches of %d", interp->micro_batch());
      if (interp->tail_batch())
        std::printf(" (from node %d on, groups of %d)", interp->tail_start(), interp->tail_batch());
      std::printf("\n");
      if (a->inputs > 1) std::printf("%d different inputs, cycled\n", a->inputs);
      std::printf("%d runs after %d warm-up: median %.3f ms, min %.3f ms, max %.3f ms, mean %.3f ms\n", a->runs,
                  a->warmup, median, sorted.front(), sorted.back(), mean);
      if (a->profile && interp->lanes())
        std::printf("\nNote: the per-op profile runs the batch's images one after another on one thread (each op\n"
                    "needs one timeline); the timing above used %d image lanes.\n", interp->lanes());
      if (a->profile) PrintProfile(prof);
    }
  });
}

}  // namespace qat::cli
