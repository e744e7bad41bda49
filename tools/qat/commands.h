// The qat CLI: one file per subcommand, each exposing register_<name>(CLI::App&).
// Errors: qat::UsageError and CLI11 parse errors exit 2 with a one-line message; any other
// qat::Error exits 1.
#pragma once
#include <CLI/CLI.hpp>

namespace qat::cli {
void register_train(CLI::App& app);
void register_eval(CLI::App& app);
void register_freeze(CLI::App& app);
void register_convert(CLI::App& app);
void register_run(CLI::App& app);
void register_bench(CLI::App& app);
void register_inspect(CLI::App& app);
void register_report(CLI::App& app);
}  // namespace qat::cli
