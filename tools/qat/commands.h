// The qat CLI: one file per subcommand, each exposing register_<name>(CLI::App&).
// Errors: qat::UsageError and CLI11 parse errors exit 2 with a one-line message; any other
// qat::Error exits 1.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>
#include <vector>

#include "qat/data.h"

namespace qat::cli {
void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_freeze(CLI::App& app);
void register_convert(CLI::App& app);
void register_run(CLI::App& app);
void register_bench(CLI::App& app);
void register_inspect(CLI::App& app);
void register_report(CLI::App& app);

// Shared between subcommands (defined in cmd_train.cpp).
std::string resolve_data_dir(const std::string& data, const std::string& data_dir);
data::MnistSplits load_data_or_usage_error(const std::string& dir);
const CLI::Validator& non_negative_number();

// Accuracy of a classifier on a test set (cmd_report.cpp).
struct ClassifierEval {
  double accuracy = 0, seconds = 0;
  int64_t examples = 0;
  std::vector<int32_t> predictions;  // argmax per test image (first maximum on ties)
};
// Interpreter accuracy of a classifier .tflite (one image per Invoke, `threads` interpreters).
ClassifierEval evaluate_tflite(const std::string& path, const data::Dataset& ds, float scale, int threads);
}  // namespace qat::cli
