// The AVX-512 VNNI kernels through the interpreter on a CPU without them: the peers' int8 models with
// every CONV_2D / FULLY_CONNECTED on the kAvx512Vnni path (VNNI panels packed, the vpdpbusd
// kernel's own source on emulated AVX-512 intrinsics: kernels/x86/avx512_emulation.h; first layers
// on im2col panels) and the depthwise row kernel's vpdpwssd build (emulated vpdpwssd) give the
// bytes of the default path, which the peer tests hold to LiteRT's and
// TFLite 2.2's outputs. Both requantization modes, one and two threads. On a VNNI CPU the same test
// runs the hardware kernel (the hooks only replace what the CPU lacks).
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>

#include "../tflite/test_models.h"
#include "kernels/dispatch.h"
#include "kernels/optimized/conv.h"
#include "kernels/optimized/depthwise_conv.h"
#include "qat/cpu_features.h"
#include "qat/interpreter.h"

namespace qat::lite {
namespace {

std::vector<uint8_t> ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

std::vector<uint8_t> RunModel(const std::string& model, const std::vector<uint8_t>& input, RequantMode mode, int threads) {
  InterpreterOptions opt;
  opt.requant = mode;
  opt.threads = threads;
  auto in = Interpreter::FromFile(model, opt);
  in->AllocateTensors();
  in->SetInput(0, input.data(), input.size());
  in->Invoke();
  in->Invoke();  // the second call runs with whatever the first one tuned
  const LiteTensor& y = in->output(0);
  const auto* b = static_cast<const uint8_t*>(y.data);
  return std::vector<uint8_t>(b, b + y.bytes);
}

struct VnniEverywhere {
  VnniEverywhere() {
    kernels::optimized::SetVnniPackingForTests(true);
    kernels::optimized::SetVnniEmulationForTests(true);
    kernels::optimized::SetDepthwiseDpwssdEmulationForTests(true);
    kernels::SetGemmPathForTests((int)kernels::KernelPath::kAvx512Vnni);
  }
  ~VnniEverywhere() {
    kernels::SetGemmPathForTests(-1);
    kernels::optimized::SetDepthwiseDpwssdEmulationForTests(false);
    kernels::optimized::SetVnniEmulationForTests(false);
    kernels::optimized::SetVnniPackingForTests(false);
  }
};

TEST(VnniEmulated, PeerModelsGiveTheDefaultPathsBytes) {
  const std::string dir = qat::testing::PeersDir();
  if (dir.empty()) GTEST_SKIP() << "QAT_PEERS_DIR not set";
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "the emulated VNNI kernel is compiled for AVX2";
  for (const char* m : {"cnn_b64", "mbv1_050_b1", "mbv1_100_b1"}) {
    const std::string base = dir + "/data/models/" + m;
    const auto input = ReadAll(base + "_in_int8.bin");
    ASSERT_FALSE(input.empty()) << base;
    for (RequantMode mode : {RequantMode::kXnnpack, RequantMode::kTflite}) {
      const int threads = mode == RequantMode::kXnnpack ? 1 : 2;
      const auto want = RunModel(base + ".tflite", input, mode, threads);
      std::vector<uint8_t> got;
      {
        VnniEverywhere vnni;
        got = RunModel(base + ".tflite", input, mode, threads);
      }
      EXPECT_EQ(got, want) << m << " mode " << (int)mode << " threads " << threads;
    }
  }
}

}  // namespace
}  // namespace qat::lite
