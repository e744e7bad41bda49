// Model-level acceptance of the op kernels against the peer runtimes (QAT_PEERS_DIR, see
// ../shared/peers/README.md; skipped when unset):
//  1. int8 models (cnn b1/b64, mbv1_050, mbv1_100): 0 differing output bytes with LiteRT.js in
//     xnnpack mode (the stored *_ref_int8.bin) and with the TFLite 2.2 C API in tflite mode
//     (tflite_c_run, run here and cached in the build dir); three Invokes each, all the same bytes
//     (the split GEMM retunes its bounds after the first).
//  2. Every MediaPipe float model the peers extract: loads, runs, and agrees with LiteRT.js on
//     its deterministic random input within 1e-4 (max |diff| / max |ref|, per output) with
//     FloatMath::kExact (LiteRT.js has no FMA), and within 1e-3 with kFused (the default: one
//     rounding per tap instead of two, which the deep pose models amplify to ~4e-4 on one output).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "lite/op_resolver.h"
#include "lite/ops/mediapipe_ops.h"
#include "qat/interpreter.h"

namespace fs = std::filesystem;
using qat::lite::Interpreter;
using qat::lite::InterpreterOptions;
using qat::lite::RequantMode;

namespace {

std::string PeersDir() {
  const char* d = std::getenv("QAT_PEERS_DIR");
  return d ? d : "";
}

std::vector<uint8_t> ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

fs::path CacheDir() {
  fs::path d = fs::path(QAT_BINARY_DIR) / "peer_refs";
  fs::create_directories(d);
  return d;
}

// Runs `model` on the concatenated input bytes and returns the bytes of each output.
// runs > 1: Invoke that many times (the split GEMM retunes its bounds after the first call) and
// throw unless every run gives the first run's bytes.
std::vector<std::vector<uint8_t>> RunQatOutputs(const fs::path& model, const std::vector<uint8_t>& input,
                                                RequantMode mode, int runs = 1,
                                                qat::lite::FloatMath math = qat::lite::FloatMath::kExact) {
  qat::lite::OpResolver resolver = qat::lite::BuiltinOpResolver();
  qat::lite::RegisterMediaPipeOps(resolver);
  InterpreterOptions opt;
  opt.requant = mode;
  opt.float_math = math;
  auto interp = Interpreter::FromFile(model.string(), resolver, opt);
  interp->AllocateTensors();
  size_t off = 0;
  for (int i = 0; i < interp->inputs_size(); ++i) {
    const size_t n = interp->input(i).bytes;
    if (off + n > input.size()) throw qat::Error("input file too short for " + model.string());
    interp->SetInput(i, input.data() + off, n);
    off += n;
  }
  if (off != input.size()) throw qat::Error("input file too long for " + model.string());
  std::vector<std::vector<uint8_t>> outs;
  for (int run = 0; run < runs; ++run) {
    interp->Invoke();
    for (int i = 0; i < interp->outputs_size(); ++i) {
      const auto& t = interp->output(i);
      const auto* p = static_cast<const uint8_t*>(t.data);
      if (run == 0) {
        outs.emplace_back(p, p + t.bytes);
      } else if (!std::equal(p, p + t.bytes, outs[i].begin())) {
        throw qat::Error("run " + std::to_string(run + 1) + " of " + model.string() + " differs from the first");
      }
    }
  }
  return outs;
}

// All outputs concatenated (the peers' output file layout).
std::vector<uint8_t> RunQat(const fs::path& model, const std::vector<uint8_t>& input, RequantMode mode, int runs = 1) {
  std::vector<uint8_t> out;
  for (auto& o : RunQatOutputs(model, input, mode, runs)) out.insert(out.end(), o.begin(), o.end());
  return out;
}

size_t DiffBytes(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  size_t n = a.size() == b.size() ? 0 : std::max(a.size(), b.size());
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) n += a[i] != b[i];
  return n;
}

int System(const std::string& cmd) {
  const int rc = std::system((cmd + " > /dev/null 2>&1").c_str());
  return rc;
}

class Int8Models : public ::testing::TestWithParam<std::string> {};

TEST_P(Int8Models, BitExactXnnpackModeWithLiteRT) {
  if (PeersDir().empty()) GTEST_SKIP() << "QAT_PEERS_DIR unset";
  const fs::path dir = fs::path(PeersDir()) / "data" / "models";
  const std::string m = GetParam();
  const auto input = ReadFile(dir / (m + "_in_int8.bin"));
  const auto ref = ReadFile(dir / (m + "_ref_int8.bin"));
  ASSERT_FALSE(input.empty());
  ASSERT_FALSE(ref.empty());
  const auto out = RunQat(dir / (m + ".tflite"), input, RequantMode::kXnnpack, 3);
  EXPECT_EQ(DiffBytes(out, ref), 0u) << m << ": differing bytes vs LiteRT.js (XNNPACK)";
}

TEST_P(Int8Models, BitExactTfliteModeWithTflite22) {
  if (PeersDir().empty()) GTEST_SKIP() << "QAT_PEERS_DIR unset";
  const fs::path dir = fs::path(PeersDir()) / "data" / "models";
  const std::string m = GetParam();
  const fs::path runner = fs::path(PeersDir()) / "node/node_modules/.cache/tflite-c/tflite_c_run";
  if (!fs::exists(runner)) GTEST_SKIP() << "no " << runner;
  const fs::path ref_path = CacheDir() / (m + "_ref_tflite22.bin");
  if (!fs::exists(ref_path)) {
    const std::string cmd = runner.string() + " " + (dir / (m + ".tflite")).string() + " " +
                            (dir / (m + "_in_int8.bin")).string() + " " + ref_path.string();
    ASSERT_EQ(System(cmd), 0) << cmd;
  }
  const auto input = ReadFile(dir / (m + "_in_int8.bin"));
  const auto ref = ReadFile(ref_path);
  ASSERT_FALSE(ref.empty());
  const auto out = RunQat(dir / (m + ".tflite"), input, RequantMode::kTflite, 3);
  EXPECT_EQ(DiffBytes(out, ref), 0u) << m << ": differing bytes vs TFLite 2.2 builtin kernels";
}

INSTANTIATE_TEST_SUITE_P(Peers, Int8Models, ::testing::Values("cnn_b1", "cnn_b64", "mbv1_050_b1", "mbv1_100_b1"));

// All MediaPipe .tflite files under data/npm.
std::vector<fs::path> MediaPipeModels() {
  std::vector<fs::path> v;
  if (PeersDir().empty()) return v;
  const fs::path root = fs::path(PeersDir()) / "data" / "npm";
  if (!fs::exists(root)) return v;
  // QAT_MEDIAPIPE_FILTER=substring limits the run (debugging).
  const char* filter = std::getenv("QAT_MEDIAPIPE_FILTER");
  for (auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file() && e.path().extension() == ".tflite" &&
        (!filter || e.path().string().find(filter) != std::string::npos))
      v.push_back(e.path());
  std::sort(v.begin(), v.end());
  return v;
}

void CheckMediaPipeAgainstLiteRT(qat::lite::FloatMath math, double tolerance) {
  if (PeersDir().empty()) GTEST_SKIP() << "QAT_PEERS_DIR unset";
  const auto models = MediaPipeModels();
  ASSERT_FALSE(models.empty());
  const fs::path node_dir = fs::path(PeersDir()) / "node";
  for (const auto& model : models) {
    SCOPED_TRACE(model.string());
    const std::string stem = model.stem().string();
    const fs::path in_path = CacheDir() / (stem + "_litert_in.bin");
    const fs::path ref_path = CacheDir() / (stem + "_litert_out.bin");
    if (!fs::exists(ref_path) || !fs::exists(in_path)) {
      const std::string cmd = "cd " + node_dir.string() + " && node litert_run.mjs " + model.string() + " - " +
                              ref_path.string() + " --save-input " + in_path.string() + " --quiet";
      ASSERT_EQ(System(cmd), 0) << cmd;
    }
    const auto input = ReadFile(in_path);
    const auto ref = ReadFile(ref_path);
    std::vector<std::vector<uint8_t>> outs;
    ASSERT_NO_THROW(outs = RunQatOutputs(model, input, RequantMode::kTflite, 1, math));
    size_t total = 0;
    for (auto& o : outs) total += o.size();
    ASSERT_EQ(total, ref.size());
    // All MediaPipe outputs are float32; each output is compared on its own scale.
    size_t off = 0;
    for (size_t k = 0; k < outs.size(); ++k) {
      const auto* a = reinterpret_cast<const float*>(outs[k].data());
      const auto* b = reinterpret_cast<const float*>(ref.data() + off);
      const size_t n = outs[k].size() / 4;
      off += outs[k].size();
      double max_diff = 0, max_ref = 0;
      for (size_t i = 0; i < n; ++i) {
        max_diff = std::max(max_diff, (double)std::fabs(a[i] - b[i]));
        max_ref = std::max(max_ref, (double)std::fabs(b[i]));
      }
      const double rel = max_ref > 0 ? max_diff / max_ref : max_diff;
      std::printf("[ mediapipe %s ] %-32s out %zu (%8zu values) max|diff| %.3g max|ref| %.3g rel %.3g\n",
                  qat::kernels::FloatMathName(math), stem.c_str(), k, n, max_diff, max_ref, rel);
      EXPECT_LE(rel, tolerance) << stem << " output " << k;
    }
  }
}

TEST(MediaPipeModels, MatchLiteRTWithin1e4) { CheckMediaPipeAgainstLiteRT(qat::lite::FloatMath::kExact, 1e-4); }

// The default arithmetic. On CPUs without AVX-512 it computes the exact values (the test above's).
TEST(MediaPipeModels, FusedMatchLiteRTWithin1e3) { CheckMediaPipeAgainstLiteRT(qat::lite::FloatMath::kFused, 1e-3); }

}  // namespace
