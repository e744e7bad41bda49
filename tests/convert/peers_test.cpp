// The converted files in Google's runtimes: LiteRT.js (XNNPACK kernels) must give outputs
// bit-exact with qat's interpreter in xnnpack mode, the TFLite 2.2 C API (builtin kernels) with
// qat's interpreter in tflite mode. Needs QAT_PEERS_DIR (../shared/peers/setup.sh); skipped
// without it.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "convert_test_util.h"

namespace qat {
namespace {

namespace fs = std::filesystem;

std::string peers_dir() {
  const char* d = std::getenv("QAT_PEERS_DIR");
  return d && *d ? d : "";
}

void write_file(const std::string& path, const void* data, size_t n) {
  std::ofstream f(path, std::ios::binary);
  f.write((const char*)data, (std::streamsize)n);
}
std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// Runs the model in qat's interpreter on raw input bytes; returns the raw output bytes.
std::vector<uint8_t> run_qat(const std::vector<uint8_t>& model, const std::vector<uint8_t>& in, lite::RequantMode mode) {
  lite::InterpreterOptions o;
  o.requant = mode;
  auto it = lite::Interpreter::FromBuffer(model, o);
  it->AllocateTensors();
  it->SetInput(0, in.data(), in.size());
  it->Invoke();
  const auto& t = it->output(0);
  const uint8_t* p = (const uint8_t*)t.data;
  return std::vector<uint8_t>(p, p + t.bytes);
}

class PeersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (peers_dir().empty()) GTEST_SKIP() << "QAT_PEERS_DIR not set";
    node_dir_ = peers_dir() + "/node";
    tmp_ = fs::path(::testing::TempDir()) / "qat_convert_peers";
    fs::create_directories(tmp_);
  }
  std::string node_dir_;
  fs::path tmp_;

  // Runs a peer command; returns its output file's bytes.
  std::vector<uint8_t> run_peer(const std::string& cmd, const std::string& out) {
    fs::remove(out);
    int rc = std::system((cmd + " > " + (tmp_ / "peer.log").string() + " 2>&1").c_str());
    EXPECT_EQ(rc, 0) << cmd << "\n" << std::string((char*)read_file((tmp_ / "peer.log").string()).data());
    return read_file(out);
  }

  void check(const std::vector<uint8_t>& model, const std::string& name, bool litert) {
    const std::string mpath = (tmp_ / (name + ".tflite")).string();
    write_file(mpath, model.data(), model.size());
    // A batch of real test images, quantized with the input's parameters.
    auto it = lite::Interpreter::FromBuffer(model);
    auto det = it->input_details()[0];
    std::vector<uint8_t> in(det.bytes);
    const auto& ds = testutil::fashion().test;
    for (size_t i = 0; i < in.size(); ++i) {
      float real = ds.pixels[i % ds.pixels.size()] / 255.f;
      long q = std::lround(real / det.scales[0]) + det.zero_points[0];
      in[i] = det.type == DType::kInt8 ? (uint8_t)(int8_t)std::clamp(q, -128L, 127L) : (uint8_t)std::clamp(q, 0L, 255L);
    }
    const std::string ipath = (tmp_ / (name + "_in.bin")).string();
    write_file(ipath, in.data(), in.size());
    const std::string tc = node_dir_ + "/node_modules/.cache/tflite-c/tflite_c_run";
    auto ref = run_peer(tc + " " + mpath + " " + ipath + " " + (tmp_ / (name + "_tflite.bin")).string(),
                        (tmp_ / (name + "_tflite.bin")).string());
    auto ours = run_qat(model, in, lite::RequantMode::kTflite);
    ASSERT_EQ(ref.size(), ours.size());
    int diff = 0;
    for (size_t i = 0; i < ref.size(); ++i) diff += ref[i] != ours[i];
    EXPECT_EQ(diff, 0) << name << ": bytes differing from TFLite 2.2 (tflite mode)";
    if (!litert) return;
    auto lref = run_peer("cd " + node_dir_ + " && node litert_run.mjs " + mpath + " " + ipath + " " +
                             (tmp_ / (name + "_litert.bin")).string() + " --quiet",
                         (tmp_ / (name + "_litert.bin")).string());
    auto xn = run_qat(model, in, lite::RequantMode::kXnnpack);
    ASSERT_EQ(lref.size(), xn.size());
    diff = 0;
    for (size_t i = 0; i < lref.size(); ++i) diff += lref[i] != xn[i];
    EXPECT_EQ(diff, 0) << name << ": bytes differing from LiteRT.js (xnnpack mode)";
  }
};

TEST_F(PeersTest, Int8AndUint8BitExact) {
  auto t = testutil::train_tiny(true, 512, true);
  convert::ConvertOptions o;
  o.inference_type = convert::InferenceType::kInt8;
  o.batch_size = 8;
  check(convert::convert(*t.frozen, o), "tiny_int8", true);
  auto u = testutil::train_tiny(true, 512, false);
  o.inference_type = convert::InferenceType::kUInt8;
  check(convert::convert(*u.frozen, o), "tiny_uint8", false);
}

}  // namespace
}  // namespace qat
