// `qat bench`: not yet implemented; registers nothing, so the CLI reports it as unknown.
#include "commands.h"

namespace qat::cli {
void register_bench(CLI::App&) {}
}  // namespace qat::cli
