// Model-level checks against the peers' reference outputs (QAT_PEERS_DIR): qat's interpreter in
// kXnnpack mode must reproduce LiteRT's XNNPACK int8 outputs byte for byte.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>

#include "../tflite/test_models.h"
#include "lite/op_resolver.h"
#include "lite/tool_support.h"
#include "qat/interpreter.h"

namespace qat::lite {
namespace {

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError("cannot open " + path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

class PeerModel : public ::testing::TestWithParam<const char*> {};

TEST_P(PeerModel, XnnpackModeMatchesLiteRtBitExact) {
  const std::string dir = qat::testing::PeersDir();
  if (dir.empty()) GTEST_SKIP() << "QAT_PEERS_DIR not set";
  const std::string base = dir + "/data/models/" + GetParam();
  InterpreterOptions opt;
  opt.requant = RequantMode::kXnnpack;
  opt.threads = 2;
  auto in = Interpreter::FromFile(base + ".tflite", opt);
  in->AllocateTensors();
  const auto x = ReadBytes(base + "_in_int8.bin");
  const auto ref = ReadBytes(base + "_ref_int8.bin");
  in->SetInput(0, x.data(), x.size());
  in->Invoke();
  const LiteTensor& y = in->output(0);
  ASSERT_EQ(y.bytes, ref.size());
  const auto* out = static_cast<const uint8_t*>(y.data);
  int diff = 0;
  for (size_t i = 0; i < ref.size(); ++i) diff += out[i] != ref[i];
  EXPECT_EQ(diff, 0) << diff << " of " << ref.size() << " output bytes differ";
  // The builtin-kernel rounding (kTflite) may differ by an LSB or two (REFERENCE.md §9), never more.
  in->set_requant_mode(RequantMode::kTflite);
  in->AllocateTensors();
  in->SetInput(0, x.data(), x.size());
  in->Invoke();
  const auto* out2 = static_cast<const int8_t*>(in->output(0).data);
  int maxd = 0;
  for (size_t i = 0; i < ref.size(); ++i) maxd = std::max(maxd, std::abs(out2[i] - (int8_t)ref[i]));
  EXPECT_LE(maxd, 3);
}

INSTANTIATE_TEST_SUITE_P(Peers, PeerModel, ::testing::Values("cnn_b1", "cnn_b64", "mbv1_050_b1", "mbv1_100_b1"));

// Every real-world float model (MediaPipe: fp16 weights behind DEQUANTIZE, DENSIFY, the custom
// Convolution2DTransposeBias) loads, plans, runs, and gives finite outputs; inputs can be resized
// back and forth.
TEST(PeerModels, MediaPipeModelsRun) {
  std::vector<std::string> models;
  for (const auto& p : qat::testing::PeerModels())
    if (p.find("/npm/") != std::string::npos) models.push_back(p);
  if (models.empty()) GTEST_SKIP() << "QAT_PEERS_DIR not set";
  for (const auto& p : models) {
    if (p.find("heavy") != std::string::npos) continue;  // keep the default suite fast
    SCOPED_TRACE(p);
    auto in = Interpreter::FromFile(p, DefaultOpResolver(), InterpreterOptions{.threads = 2});
    in->AllocateTensors();
    EXPECT_LT(in->arena_bytes(), in->unshared_bytes());
    FillRandomInputs(*in, 7);
    in->Invoke();
    for (int o = 0; o < in->outputs_size(); ++o) {
      const auto y = Dequantize(in->output(o));
      for (float v : y) ASSERT_TRUE(std::isfinite(v)) << "output " << o;
    }
  }
}

}  // namespace
}  // namespace qat::lite
