// Inputs found by fuzz/tflite_fuzz.cpp, kept in fuzz/regressions/. So far the fuzzer found no
// crash or sanitizer report, only slow units:
//  - rejected_*: invalid files that used to reach the kernels (a depthwise conv with padding -1
//    took seconds on a tiny tensor; a max-pool with padding 2 behind a 65536-column PAD); the
//    verifier now rejects unknown padding/activation values.
//  - others: valid (after mutation) models whose declared shapes make a lot of work (a 1536x1536
//    input into a depthwise conv). The arena limit is what bounds such models: check it does.
#include <gtest/gtest.h>

#include <filesystem>

#include "lite/tool_support.h"
#include "qat/interpreter.h"

namespace qat::lite {
namespace {

std::vector<std::string> Regressions() {
  std::vector<std::string> r;
  const std::filesystem::path dir = std::string(QAT_SOURCE_DIR) + "/fuzz/regressions";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec))
    if (e.path().extension() == ".tflite") r.push_back(e.path().string());
  std::sort(r.begin(), r.end());
  return r;
}

TEST(InterpreterFuzzRegressions, SlowUnitsAreBoundedByTheArenaLimit) {
  const auto files = Regressions();
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    SCOPED_TRACE(f);
    if (f.find("/rejected_") != std::string::npos) {
      EXPECT_THROW(Interpreter::FromFile(f, DefaultOpResolver()), FormatError);
      continue;
    }
    InterpreterOptions opt;
    opt.max_arena_bytes = size_t(1) << 20;
    auto in = Interpreter::FromFile(f, DefaultOpResolver(), opt);
    EXPECT_THROW(in->AllocateTensors(), ShapeError);
    // With room, they plan fine (running them is legitimate, just slow).
    opt.max_arena_bytes = size_t(512) << 20;
    auto big = Interpreter::FromFile(f, DefaultOpResolver(), opt);
    EXPECT_NO_THROW(big->AllocateTensors());
  }
}

}  // namespace
}  // namespace qat::lite
