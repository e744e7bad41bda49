// qat: quantization-aware training and integer-only inference.
#include <cstdio>
#include <exception>

#include "commands.h"
#include "qat/error.h"

int main(int argc, char** argv) {
  CLI::App app{"qat: quantization-aware training and integer-only inference"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "qat 0.1.0");
  qat::cli::register_train(app);
  qat::cli::register_eval(app);
  qat::cli::register_freeze(app);
  qat::cli::register_convert(app);
  qat::cli::register_run(app);
  qat::cli::register_bench(app);
  qat::cli::register_inspect(app);
  qat::cli::register_report(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "qat: error: %s\n", e.what());
    return 2;
  } catch (const qat::UsageError& e) {
    std::fprintf(stderr, "qat: error: %s\n", e.what());
    return 2;
  } catch (const qat::Error& e) {
    std::fprintf(stderr, "qat: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "qat: internal error: %s\n", e.what());
    return 1;
  }
  return 0;
}
