// Single-op int8 models (written with qat's ModelDesc writer) run by qat and by both peers on a
// fixed random input: qat `tflite` mode vs the TFLite 2.2 C API, qat `xnnpack` mode vs LiteRT.js.
// Ops whose exactness docs/requantization.md claims must give 0 differing bytes; for the others
// (TFLite 2.2's fixed-point LOGISTIC/TANH/SOFTMAX) the difference is printed as a measurement.
// Skipped when QAT_PEERS_DIR is unset; peer outputs are cached in the build dir.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "lite/op_resolver.h"
#include "qat/interpreter.h"
#include "qat/tflite.h"

namespace fs = std::filesystem;

namespace qat::lite {
namespace {

using tfl::TensorType;

std::string PeersDir() {
  const char* d = std::getenv("QAT_PEERS_DIR");
  return d ? d : "";
}

std::vector<uint8_t> ReadFile(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}
void WriteFile(const fs::path& p, const std::vector<uint8_t>& b) {
  std::ofstream f(p, std::ios::binary);
  f.write(reinterpret_cast<const char*>(b.data()), (std::streamsize)b.size());
}

tfl::TensorDesc Tensor(const std::string& name, TensorType type, std::vector<int32_t> shape, float scale = 0.f,
                       int64_t zp = 0) {
  tfl::TensorDesc t;
  t.name = name;
  t.type = type;
  t.shape = std::move(shape);
  if (scale > 0) {
    t.quant.scale = {scale};
    t.quant.zero_point = {zp};
  }
  return t;
}

struct Case {
  std::string name;
  tfl::ModelDesc model;
  bool exact_tflite = true;   // qat tflite mode must match TFLite 2.2 exactly
  bool exact_xnnpack = true;  // qat xnnpack mode must match LiteRT.js exactly
};

// One op: `ins` are the graph inputs (random int8/float data), `consts` constant inputs (appended
// after them in the op's input list, in order), one output.
Case Make(const std::string& name, int32_t code, int32_t version, tfl::BuiltinOptions options,
          std::vector<tfl::TensorDesc> ins, std::vector<std::pair<tfl::TensorDesc, std::vector<uint8_t>>> consts,
          tfl::TensorDesc out) {
  Case c;
  c.name = name;
  tfl::SubGraphDesc g;
  tfl::OpDesc op;
  op.builtin_code = code;
  op.version = version;
  op.options = std::move(options);
  for (auto& t : ins) {
    g.inputs.push_back((int)g.tensors.size());
    op.inputs.push_back((int)g.tensors.size());
    g.tensors.push_back(t);
  }
  for (auto& [t, bytes] : consts) {
    auto td = t;
    td.buffer = c.model.AddBuffer(bytes);
    op.inputs.push_back((int)g.tensors.size());
    g.tensors.push_back(td);
  }
  g.outputs.push_back((int)g.tensors.size());
  op.outputs.push_back((int)g.tensors.size());
  g.tensors.push_back(out);
  g.ops.push_back(op);
  c.model.subgraphs.push_back(g);
  return c;
}

template <class T>
std::vector<uint8_t> Bytes(std::vector<T> v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

std::vector<Case> Cases() {
  const auto I8 = TensorType::kInt8;
  std::vector<Case> cs;
  const std::vector<int32_t> s = {1, 8, 8, 16};  // 1024 values: every int8 value occurs
  cs.push_back(Make("ADD", 0, 2, tfl::AddOptions{},
                    {Tensor("a", I8, s, 0.05f, -3), Tensor("b", I8, s, 0.03f, 7)}, {}, Tensor("y", I8, s, 0.07f, 2)));
  cs.push_back(Make("ADD_broadcast_relu", 0, 2, tfl::AddOptions{1},
                    {Tensor("a", I8, s, 0.05f, -128), Tensor("b", I8, {1, 1, 1, 16}, 0.11f, 0)}, {},
                    Tensor("y", I8, s, 0.06f, -128)));
  cs.push_back(Make("SUB", 41, 2, tfl::SubOptions{},
                    {Tensor("a", I8, s, 0.05f, -3), Tensor("b", I8, s, 0.03f, 7)}, {}, Tensor("y", I8, s, 0.07f, 2)));
  cs.push_back(Make("MUL", 18, 2, tfl::MulOptions{},
                    {Tensor("a", I8, s, 0.05f, -3), Tensor("b", I8, s, 0.03f, 7)}, {}, Tensor("y", I8, s, 0.01f, -5)));
  cs.push_back(Make("AVERAGE_POOL_3x3_s2_same", 1, 2, tfl::Pool2DOptions{0, 2, 2, 3, 3},
                    {Tensor("x", I8, s, 0.05f, -3)}, {}, Tensor("y", I8, {1, 4, 4, 16}, 0.05f, -3)));
  cs.push_back(Make("MAX_POOL_2x2", 17, 2, tfl::Pool2DOptions{1, 2, 2, 2, 2},
                    {Tensor("x", I8, s, 0.05f, -3)}, {}, Tensor("y", I8, {1, 4, 4, 16}, 0.05f, -3)));
  cs.push_back(Make("MEAN_spatial", 40, 2, tfl::ReducerOptions{true}, {Tensor("x", I8, s, 0.05f, -3)},
                    {{Tensor("axes", TensorType::kInt32, {2}), Bytes<int32_t>({1, 2})}},
                    Tensor("y", I8, {1, 1, 1, 16}, 0.02f, 5)));
  // Same parameters on every input: a copy. (Inputs with differing scales are not compared: TFLite
  // 2.2 rejects them and LiteRT.js 2.5.3 returns garbage for such a model.)
  cs.push_back(Make("CONCATENATION", 2, 2, tfl::ConcatenationOptions{3},
                    {Tensor("a", I8, s, 0.05f, -3), Tensor("b", I8, s, 0.05f, -3)}, {},
                    Tensor("y", I8, {1, 8, 8, 32}, 0.05f, -3)));
  cs.push_back(Make("RELU", 19, 2, std::monostate{}, {Tensor("x", I8, s, 0.05f, -3)}, {},
                    Tensor("y", I8, s, 0.03f, -128)));
  cs.push_back(Make("RELU6", 21, 2, std::monostate{}, {Tensor("x", I8, s, 0.05f, -3)}, {},
                    Tensor("y", I8, s, 0.03f, -128)));
  Case logistic = Make("LOGISTIC", 14, 2, std::monostate{}, {Tensor("x", I8, s, 0.05f, -3)}, {},
                       Tensor("y", I8, s, 1.f / 256, -128));
  logistic.exact_tflite = false;
  cs.push_back(logistic);
  Case tanh = Make("TANH", 28, 2, std::monostate{}, {Tensor("x", I8, s, 0.05f, -3)}, {}, Tensor("y", I8, s, 1.f / 128, 0));
  tanh.exact_tflite = false;
  cs.push_back(tanh);
  Case softmax = Make("SOFTMAX", 25, 2, tfl::SoftmaxOptions{1.f}, {Tensor("x", I8, {64, 10}, 0.1f, -3)}, {},
                      Tensor("y", I8, {64, 10}, 1.f / 256, -128));
  softmax.exact_tflite = false;
  softmax.exact_xnnpack = false;
  cs.push_back(softmax);
  Case hs = Make("HARD_SWISH", 117, 1, std::monostate{}, {Tensor("x", I8, s, 0.05f, -3)}, {},
                 Tensor("y", I8, s, 0.03f, -100));
  cs.push_back(hs);
  // uint8 (legacy asymmetric weights with a zero point) and int8 weight-carrying ops.
  const auto U8 = TensorType::kUInt8;
  std::mt19937 wr(7);
  auto rnd_bytes = [&](size_t n) {
    std::vector<uint8_t> b(n);
    for (auto& x : b) x = (uint8_t)(wr() & 0xff);
    return b;
  };
  auto rnd_i8w = [&](size_t n) {  // symmetric int8 weights in [-127, 127]
    std::vector<uint8_t> b(n);
    for (auto& x : b) x = (uint8_t)(int8_t)((int)(wr() % 255) - 127);
    return b;
  };
  auto rnd_bias = [&](size_t n, int range) {
    std::vector<int32_t> v(n);
    for (auto& x : v) x = (int32_t)(wr() % (2 * range + 1)) - range;
    return Bytes(v);
  };
  {
    auto w = Tensor("w", U8, {8, 3, 3, 16}, 0.01f, 120);
    auto b = Tensor("b", TensorType::kInt32, {8}, 0.05f * 0.01f, 0);
    cs.push_back(Make("CONV_2D_uint8_s2_relu6", 3, 1, tfl::Conv2DOptions{0, 2, 2, 3},
                      {Tensor("x", U8, s, 0.05f, 128)}, {{w, rnd_bytes(8 * 9 * 16)}, {b, rnd_bias(8, 5000)}},
                      Tensor("y", U8, {1, 4, 4, 8}, 0.1f, 100)));
  }
  {
    auto w = Tensor("w", U8, {1, 3, 3, 16}, 0.02f, 131);
    auto b = Tensor("b", TensorType::kInt32, {16}, 0.05f * 0.02f, 0);
    cs.push_back(Make("DEPTHWISE_uint8", 4, 1, tfl::DepthwiseConv2DOptions{0, 1, 1, 1},
                      {Tensor("x", U8, s, 0.05f, 128)}, {{w, rnd_bytes(9 * 16)}, {b, rnd_bias(16, 3000)}},
                      Tensor("y", U8, s, 0.04f, 120)));
  }
  {
    auto w = Tensor("w", U8, {10, 1024}, 0.003f, 125);
    auto b = Tensor("b", TensorType::kInt32, {10}, 0.05f * 0.003f, 0);
    cs.push_back(Make("FULLY_CONNECTED_uint8", 9, 1, tfl::FullyConnectedOptions{},
                      {Tensor("x", U8, {1, 1024}, 0.05f, 128)}, {{w, rnd_bytes(10 * 1024)}, {b, rnd_bias(10, 9000)}},
                      Tensor("y", U8, {1, 10}, 0.3f, 128)));
  }
  cs.push_back(Make("ADD_uint8", 0, 1, tfl::AddOptions{},
                    {Tensor("a", U8, s, 0.05f, 128), Tensor("b", U8, s, 0.03f, 100)}, {},
                    Tensor("y", U8, s, 0.07f, 120)));
  cs.push_back(Make("AVERAGE_POOL_uint8", 1, 1, tfl::Pool2DOptions{1, 2, 2, 2, 2},
                    {Tensor("x", U8, s, 0.05f, 128)}, {}, Tensor("y", U8, {1, 4, 4, 16}, 0.05f, 128)));
  Case ul = Make("LOGISTIC_uint8", 14, 1, std::monostate{}, {Tensor("x", U8, s, 0.05f, 128)}, {},
                 Tensor("y", U8, s, 1.f / 256, 0));
  cs.push_back(ul);
  {
    // int8 per-channel conv with dilation 2 and K = 3*3*13 (not a multiple of any tile).
    auto w = Tensor("w", I8, {6, 3, 3, 13});
    w.quant.scale = {0.01f, 0.02f, 0.005f, 0.013f, 0.0071f, 0.03f};
    w.quant.zero_point = std::vector<int64_t>(6, 0);
    // The bias must carry scale s_in * s_w[c] (XNNPACK's delegate checks it, else LiteRT falls
    // back to TFLite's kernel and the xnnpack comparison would test nothing).
    auto b = Tensor("b", TensorType::kInt32, {6});
    for (float ws : w.quant.scale) b.quant.scale.push_back(0.05f * ws);
    b.quant.zero_point = std::vector<int64_t>(6, 0);
    tfl::Conv2DOptions o{0, 1, 1, 0};
    o.dilation_w_factor = o.dilation_h_factor = 2;
    cs.push_back(Make("CONV_2D_int8_dilated_K117", 3, 3, o, {Tensor("x", I8, {1, 9, 7, 13}, 0.05f, -128)},
                      {{w, rnd_i8w(6 * 9 * 13)}, {b, rnd_bias(6, 20000)}}, Tensor("y", I8, {1, 9, 7, 6}, 0.09f, 3)));
  }
  {
    auto w = Tensor("w", I8, {1, 3, 3, 32});
    for (int c = 0; c < 32; ++c) w.quant.scale.push_back(0.004f + 0.0003f * c);
    w.quant.zero_point = std::vector<int64_t>(32, 0);
    w.quant.quantized_dimension = 3;
    auto b = Tensor("b", TensorType::kInt32, {32});
    for (float ws : w.quant.scale) b.quant.scale.push_back(0.05f * ws);
    b.quant.zero_point = std::vector<int64_t>(32, 0);
    cs.push_back(Make("DEPTHWISE_int8_mult2_s2", 4, 3, tfl::DepthwiseConv2DOptions{0, 2, 2, 2, 1},
                      {Tensor("x", I8, {1, 8, 8, 16}, 0.05f, -128)}, {{w, rnd_i8w(9 * 32)}, {b, rnd_bias(32, 20000)}},
                      Tensor("y", I8, {1, 4, 4, 32}, 0.02f, -128)));
  }
  // Data movement / other 8-bit paths.
  cs.push_back(Make("RESIZE_BILINEAR_int8", 23, 2, tfl::ResizeBilinearOptions{},
                    {Tensor("x", I8, s, 0.05f, -3)}, {{Tensor("size", TensorType::kInt32, {2}), Bytes<int32_t>({13, 11})}},
                    Tensor("y", I8, {1, 13, 11, 16}, 0.05f, -3)));
  cs.push_back(Make("RESIZE_BILINEAR_int8_half_pixel", 23, 3, tfl::ResizeBilinearOptions{false, true},
                    {Tensor("x", I8, s, 0.05f, -3)}, {{Tensor("size", TensorType::kInt32, {2}), Bytes<int32_t>({16, 12})}},
                    Tensor("y", I8, {1, 16, 12, 16}, 0.05f, -3)));
  cs.push_back(Make("PAD_int8", 34, 2, tfl::PadOptions{}, {Tensor("x", I8, s, 0.05f, -3)},
                    {{Tensor("p", TensorType::kInt32, {4, 2}), Bytes<int32_t>({0, 0, 1, 2, 3, 0, 0, 0})}},
                    Tensor("y", I8, {1, 11, 11, 16}, 0.05f, -3)));
  cs.push_back(Make("MEAN_channels_rescale", 40, 2, tfl::ReducerOptions{false},
                    {Tensor("x", I8, {1, 32, 32, 5}, 0.05f, -3)},
                    {{Tensor("axes", TensorType::kInt32, {1}), Bytes<int32_t>({3})}},
                    Tensor("y", I8, {1, 32, 32}, 0.01f, 7)));
  cs.push_back(Make("QUANTIZE_requant_int8", 114, 2, std::monostate{}, {Tensor("x", I8, s, 0.05f, -3)}, {},
                    Tensor("y", I8, s, 0.07f, 10)));
  cs.push_back(Make("DEPTH_TO_SPACE_int8", 5, 2, tfl::DepthToSpaceOptions{2}, {Tensor("x", I8, s, 0.05f, -3)}, {},
                    Tensor("y", I8, {1, 16, 16, 4}, 0.05f, -3)));
  Case q = Make("QUANTIZE", 114, 2, std::monostate{}, {Tensor("x", TensorType::kFloat32, s)}, {},
                Tensor("y", I8, s, 1.f / 64, 3));
  cs.push_back(q);
  return cs;
}

std::vector<uint8_t> RunQat(const std::vector<uint8_t>& model, const std::vector<uint8_t>& input, RequantMode mode) {
  InterpreterOptions opt;
  opt.requant = mode;
  auto it = Interpreter::FromBuffer(model, opt);
  it->AllocateTensors();
  size_t off = 0;
  for (int i = 0; i < it->inputs_size(); ++i) {
    it->SetInput(i, input.data() + off, it->input(i).bytes);
    off += it->input(i).bytes;
  }
  it->Invoke();
  const auto& t = it->output(0);
  const auto* p = static_cast<const uint8_t*>(t.data);
  return std::vector<uint8_t>(p, p + t.bytes);
}

size_t Diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b, int* max_lsb) {
  *max_lsb = 0;
  if (a.size() != b.size()) return std::max(a.size(), b.size());
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) {
      ++n;
      *max_lsb = std::max(*max_lsb, std::abs((int)(int8_t)a[i] - (int)(int8_t)b[i]));
    }
  return n;
}

TEST(OpsPeers, SingleOpInt8Models) {
  if (PeersDir().empty()) GTEST_SKIP() << "QAT_PEERS_DIR unset";
  const fs::path runner = fs::path(PeersDir()) / "node/node_modules/.cache/tflite-c/tflite_c_run";
  const fs::path node_dir = fs::path(PeersDir()) / "node";
  const fs::path dir = fs::path(QAT_BINARY_DIR) / "peer_refs" / "ops";
  fs::create_directories(dir);
  std::mt19937 rng(42);
  for (Case& c : Cases()) {
    SCOPED_TRACE(c.name);
    const auto model = tfl::WriteModel(c.model);
    const fs::path mpath = dir / (c.name + ".tflite"), in_path = dir / (c.name + "_in.bin");
    const fs::path ref_tfl = dir / (c.name + "_tflite22.bin"), ref_lrt = dir / (c.name + "_litert.bin");
    // Input: random bytes for int8 graph inputs, floats in [-3, 3) for float ones.
    std::vector<uint8_t> input;
    {
      auto it = Interpreter::FromBuffer(model);
      it->AllocateTensors();
      for (int i = 0; i < it->inputs_size(); ++i) {
        const auto& t = it->input(i);
        if (t.type == DType::kFloat32) {
          std::uniform_real_distribution<float> u(-3.f, 3.f);
          std::vector<float> v(t.num_elements());
          for (auto& x : v) x = u(rng);
          v[0] = 0.5f / 64;  // a tie for QUANTIZE
          auto b = Bytes(v);
          input.insert(input.end(), b.begin(), b.end());
        } else {
          for (size_t k = 0; k < t.bytes; ++k) input.push_back((uint8_t)(rng() & 0xff));
          input[input.size() - t.bytes] = 0x80;  // INT8_MIN
        }
      }
    }
    // (A case where LiteRT's output equals TFLite 2.2's was not delegated to XNNPACK, or the two
    // roundings coincide; such cases are flagged in the log.)
    if (ReadFile(mpath) != model || ReadFile(in_path) != input || !fs::exists(ref_tfl) || !fs::exists(ref_lrt)) {
      WriteFile(mpath, model);
      WriteFile(in_path, input);
      std::system((runner.string() + " " + mpath.string() + " " + in_path.string() + " " + ref_tfl.string() +
                   " > /dev/null 2>&1").c_str());
      std::system(("cd " + node_dir.string() + " && node litert_run.mjs " + mpath.string() + " " + in_path.string() +
                   " " + ref_lrt.string() + " --quiet > /dev/null 2>&1").c_str());
    }
    int lsb = 0;
    const auto tfl = ReadFile(ref_tfl);
    if (tfl.empty()) {
      std::printf("[ ops-peers ] %-26s TFLite 2.2 could not run it\n", c.name.c_str());
    } else {
      const size_t d = Diff(RunQat(model, input, RequantMode::kTflite), tfl, &lsb);
      std::printf("[ ops-peers ] %-26s tflite  vs TFLite 2.2: %4zu / %zu bytes differ (max %d LSB)\n", c.name.c_str(),
                  d, tfl.size(), lsb);
      if (c.exact_tflite) EXPECT_EQ(d, 0u) << "tflite mode";
    }
    const auto lrt = ReadFile(ref_lrt);
    if (lrt.empty()) {
      std::printf("[ ops-peers ] %-26s LiteRT.js could not run it\n", c.name.c_str());
    } else {
      const size_t d = Diff(RunQat(model, input, RequantMode::kXnnpack), lrt, &lsb);
      std::printf("[ ops-peers ] %-26s xnnpack vs LiteRT.js : %4zu / %zu bytes differ (max %d LSB)\n", c.name.c_str(), d,
                  lrt.size(), lsb);
      if (c.exact_xnnpack) EXPECT_EQ(d, 0u) << "xnnpack mode";
      if (!tfl.empty() && tfl == lrt) std::printf("[ ops-peers ] %-26s (LiteRT.js == TFLite 2.2 here)\n", c.name.c_str());
    }
  }
}

}  // namespace
}  // namespace qat::lite

namespace qat::lite {
namespace {

// Hybrid (weight-only int8) FULLY_CONNECTED and CONV_2D: qat computes with the dequantized weights
// in float; TFLite and XNNPACK also quantize the activations on the fly, so the outputs are close,
// not equal. Measured and bounded.
TEST(OpsPeers, HybridWeightOnlyModels) {
  if (PeersDir().empty()) GTEST_SKIP() << "QAT_PEERS_DIR unset";
  const fs::path runner = fs::path(PeersDir()) / "node/node_modules/.cache/tflite-c/tflite_c_run";
  const fs::path node_dir = fs::path(PeersDir()) / "node";
  const fs::path dir = fs::path(QAT_BINARY_DIR) / "peer_refs" / "ops";
  fs::create_directories(dir);
  std::mt19937 wr(11);
  auto i8w = [&](size_t n) {
    std::vector<uint8_t> b(n);
    for (auto& x : b) x = (uint8_t)(int8_t)((int)(wr() % 255) - 127);
    return b;
  };
  auto fbias = [&](size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = (float)((int)(wr() % 200) - 100) / 100.f;
    return Bytes(v);
  };
  const auto F32 = TensorType::kFloat32;
  std::vector<Case> cs;
  {
    auto w = Tensor("w", TensorType::kInt8, {16, 64}, 0.01f, 0);
    cs.push_back(Make("HYBRID_FULLY_CONNECTED", 9, 3, tfl::FullyConnectedOptions{}, {Tensor("x", F32, {2, 64})},
                      {{w, i8w(16 * 64)}, {Tensor("b", F32, {16}), fbias(16)}}, Tensor("y", F32, {2, 16})));
  }
  {
    auto w = Tensor("w", TensorType::kInt8, {8, 3, 3, 4});
    for (int c = 0; c < 8; ++c) w.quant.scale.push_back(0.01f + 0.001f * c);
    w.quant.zero_point = std::vector<int64_t>(8, 0);
    cs.push_back(Make("HYBRID_CONV_2D", 3, 2, tfl::Conv2DOptions{0, 1, 1, 0}, {Tensor("x", F32, {1, 6, 6, 4})},
                      {{w, i8w(8 * 9 * 4)}, {Tensor("b", F32, {8}), fbias(8)}}, Tensor("y", F32, {1, 6, 6, 8})));
  }
  std::mt19937 rng(5);
  for (Case& c : cs) {
    const auto model = tfl::WriteModel(c.model);
    const fs::path mpath = dir / (c.name + ".tflite"), in_path = dir / (c.name + "_in.bin");
    const fs::path ref_tfl = dir / (c.name + "_tflite22.bin"), ref_lrt = dir / (c.name + "_litert.bin");
    auto it = Interpreter::FromBuffer(model);
    it->AllocateTensors();
    std::vector<float> x(it->input(0).num_elements());
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    for (auto& v : x) v = u(rng);
    const auto input = Bytes(x);
    if (ReadFile(mpath) != model || ReadFile(in_path) != input) {
      WriteFile(mpath, model);
      WriteFile(in_path, input);
      std::system((runner.string() + " " + mpath.string() + " " + in_path.string() + " " + ref_tfl.string() +
                   " > /dev/null 2>&1").c_str());
      std::system(("cd " + node_dir.string() + " && node litert_run.mjs " + mpath.string() + " " + in_path.string() +
                   " " + ref_lrt.string() + " --quiet > /dev/null 2>&1").c_str());
    }
    const auto out = RunQat(model, input, RequantMode::kTflite);
    for (const auto& [peer, path] : {std::pair<const char*, fs::path>{"TFLite 2.2", ref_tfl}, {"LiteRT.js", ref_lrt}}) {
      const auto ref = ReadFile(path);
      if (ref.size() != out.size()) {
        std::printf("[ ops-peers ] %-26s %s could not run it\n", c.name.c_str(), peer);
        continue;
      }
      const auto* a = reinterpret_cast<const float*>(out.data());
      const auto* b = reinterpret_cast<const float*>(ref.data());
      double md = 0, mr = 0;
      for (size_t i = 0; i < out.size() / 4; ++i) {
        md = std::max(md, (double)std::fabs(a[i] - b[i]));
        mr = std::max(mr, (double)std::fabs(b[i]));
      }
      std::printf("[ ops-peers ] %-26s vs %-10s: max|diff|/max|ref| = %.3g\n", c.name.c_str(), peer, md / mr);
      EXPECT_LT(md / mr, 2e-2) << c.name << " vs " << peer;
    }
  }
}

}  // namespace
}  // namespace qat::lite
