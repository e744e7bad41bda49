// Float 1x1 CONV_2D "expand" layers run inside the DEPTHWISE_CONV_2D that reads their output
// (InterpreterOptions::fuse_activations, Interpreter::FuseFloatExpandDepthwise,
// kernels/optimized/expand_depthwise_float.h): the outputs are bit for bit those of the unfused graph
// at 1-3 threads and after a batch resize, and the pairs that may not be fused stay two nodes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "float_graph_builder.h"
#include "lite/op_resolver.h"
#include "qat/interpreter.h"
#include "qat/tflite.h"

namespace qat::lite {
namespace {

constexpr int32_t kAdd = 0, kConv2D = 3, kDepthwise = 4, kRelu = 19;
constexpr int kH = 64, kW = 48, kC = 5;  // large enough to fuse (kExpandMinRows 24, kExpandMinBytes 400 KiB)

// x [1,26,9,5]:
//   e1 = CONV 1x1 (x) 36 ch, RELU6 -> d1 = DEPTHWISE 3x3 SAME, RELU6          fused
//   e2 = CONV 1x1 (x) 40 ch -> RELU node (fused into e2) -> d2 = DEPTHWISE 5x5 s2 SAME  fused
//   e8 = CONV 1x1 (x) 36 ch -> d8 = DEPTHWISE 3x3 VALID, dilation 2           fused
// Not fused (36 channels, large enough): e3 also a graph output; e5 a 3x3; d7 with a fused
// residual ADD; e9 (8 channels: under kExpandMinBytes). e4, a 1x1 of stride 2, is not fused either.
// (A narrow expand: NarrowModel below.)
tfl::ModelDesc ExpandModel() {
  using namespace tfl;
  test_util::FloatGraphBuilder gb;
  std::mt19937 rng(21);
  std::uniform_real_distribution<float> u(-0.6f, 0.6f);
  auto constant = [&](const std::string& name, std::vector<int32_t> shape) {
    int64_t n = 1;
    for (int32_t d : shape) n *= d;
    std::vector<float> v((size_t)n);
    for (float& x : v) x = u(rng);
    return gb.Const(name, std::move(shape), v);
  };
  auto conv = [&](const std::string& name, int32_t in, int ic, int oc, int k, int stride, int8_t relu, int oh,
                  int ow) {
    Conv2DOptions o;
    o.padding = 0;  // SAME
    o.stride_h = o.stride_w = stride;
    o.fused_activation_function = relu;
    const int32_t out = gb.Act(name, {1, oh, ow, oc});
    gb.Op(kConv2D, {in, constant(name + "/w", {oc, k, k, ic}), constant(name + "/b", {oc})}, {out}, o);
    return out;
  };
  auto dw = [&](const std::string& name, int32_t in, int c, int k, int stride, int dilation, int8_t padding,
                int8_t relu, int oh, int ow) {
    DepthwiseConv2DOptions o;
    o.padding = padding;
    o.stride_h = o.stride_w = stride;
    o.dilation_h_factor = o.dilation_w_factor = dilation;
    o.depth_multiplier = 1;
    o.fused_activation_function = relu;
    const int32_t out = gb.Act(name, {1, oh, ow, c});
    gb.Op(kDepthwise, {in, constant(name + "/w", {1, k, k, c}), constant(name + "/b", {c})}, {out}, o);
    return out;
  };
  const int32_t x = gb.Act("input", {1, kH, kW, kC});
  const int32_t e1 = conv("e1", x, kC, 36, 1, 1, /*RELU6*/ 3, kH, kW);
  const int32_t d1 = dw("d1", e1, 36, 3, 1, 1, 0, 3, kH, kW);
  const int32_t e2 = conv("e2", x, kC, 40, 1, 1, 0, kH, kW);
  const int32_t e2r = gb.Act("e2_relu", {1, kH, kW, 40});
  gb.Op(kRelu, {e2}, {e2r});
  const int32_t d2 = dw("d2", e2r, 40, 5, 2, 1, 0, 0, (kH + 1) / 2, (kW + 1) / 2);
  const int32_t e8 = conv("e8", x, kC, 36, 1, 1, 0, kH, kW);
  const int32_t d8 = dw("d8", e8, 36, 3, 1, 2, /*VALID*/ 1, 0, kH - 4, kW - 4);
  const int32_t e3 = conv("e3", x, kC, 36, 1, 1, 0, kH, kW);
  const int32_t d3 = dw("d3", e3, 36, 3, 1, 1, 0, 0, kH, kW);
  const int32_t e4 = conv("e4", x, kC, 36, 1, 2, 0, (kH + 1) / 2, (kW + 1) / 2);
  const int32_t d4 = dw("d4", e4, 36, 3, 1, 1, 0, 0, (kH + 1) / 2, (kW + 1) / 2);
  const int32_t e5 = conv("e5", x, kC, 36, 3, 1, 0, kH, kW);
  const int32_t d5 = dw("d5", e5, 36, 3, 1, 1, 0, 0, kH, kW);
  const int32_t e9 = conv("e9", x, kC, 8, 1, 1, 0, kH, kW);
  const int32_t d9 = dw("d9", e9, 8, 3, 1, 1, 0, 0, kH, kW);
  const int32_t e7 = conv("e7", x, kC, 36, 1, 1, 0, kH, kW);
  const int32_t d7 = dw("d7", e7, 36, 3, 1, 1, 0, 0, kH, kW);
  const int32_t a7 = gb.Act("a7", {1, kH, kW, 36});
  gb.Op(kAdd, {d7, d3}, {a7}, AddOptions{});
  return gb.Finish({x}, {d1, d2, d8, d3, e3, d4, d5, d9, a7});
}

// x [1,256,200,1] -> e = CONV 1x1 2 channels (400 KiB: large enough) -> d = DEPTHWISE 3x3: marked
// at the build, undone after the prepare (a narrow conv: output pixels as the vector axis).
tfl::ModelDesc NarrowModel() {
  using namespace tfl;
  test_util::FloatGraphBuilder gb;
  const int32_t x = gb.Act("input", {1, 256, 200, 1});
  const int32_t e = gb.Act("e", {1, 256, 200, 2});
  Conv2DOptions co;
  gb.Op(kConv2D, {x, gb.Const("e/w", {2, 1, 1, 1}, {0.5f, -0.25f}), gb.Const("e/b", {2}, {0.1f, 0.2f})}, {e}, co);
  const int32_t d = gb.Act("d", {1, 256, 200, 2});
  DepthwiseConv2DOptions dop;
  dop.depth_multiplier = 1;
  std::vector<float> w(18);
  for (int i = 0; i < 18; ++i) w[i] = 0.1f * (float)(i % 7) - 0.3f;
  gb.Op(kDepthwise, {e, gb.Const("d/w", {1, 3, 3, 2}, w), gb.Const("d/b", {2}, {0.f, 1.f})}, {d}, dop);
  return gb.Finish({x}, {d});
}

struct Result {
  std::vector<std::vector<uint8_t>> outputs;
  int fused_expands = 0, fused_adds = 0;
  bool e1_unallocated = false;  // node 0's output (e1) has no memory
};

Result RunModel(bool fuse, int threads, const std::vector<float>& input, int batch = 1) {
  InterpreterOptions opt;
  opt.fuse_activations = fuse;
  opt.threads = threads;
  auto in = Interpreter::FromBuffer(tfl::WriteModel(ExpandModel()), BuiltinOpResolver(), opt);
  if (batch != 1) in->ResizeInputTensor(0, {batch, kH, kW, kC});
  in->AllocateTensors();
  in->SetInput(0, input.data(), input.size() * sizeof(float));
  in->Invoke();
  Result r;
  r.fused_expands = in->fused_expands();
  r.fused_adds = in->fused_adds();
  r.e1_unallocated = in->node(0).outputs.at(0)->data == nullptr;
  for (int i = 0; i < in->outputs_size(); ++i) {
    const LiteTensor& t = in->output(i);
    const auto* p = static_cast<const uint8_t*>(t.data);
    r.outputs.emplace_back(p, p + t.bytes);
  }
  return r;
}

std::vector<float> Input(int batch, bool special) {
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::vector<float> v((size_t)batch * kH * kW * kC);
  for (float& x : v) x = u(rng);
  if (special) {
    v[3] = std::numeric_limits<float>::quiet_NaN();
    v[kW * kC + 11] = std::numeric_limits<float>::infinity();
    v[20] = -0.f;
  }
  return v;
}

// Bit for bit, except that any NaN equals any NaN (sign and payload are not part of the contract).
int Diffs(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  int d = 0;
  for (size_t j = 0; j + 4 <= a.size(); j += 4) {
    float x, y;
    std::memcpy(&x, a.data() + j, 4);
    std::memcpy(&y, b.data() + j, 4);
    d += std::isnan(x) || std::isnan(y) ? std::isnan(x) != std::isnan(y) : std::memcmp(&x, &y, 4) != 0;
  }
  return d;
}

TEST(ExpandFusion, SameBitsAsTheUnfusedGraph) {
  for (bool special : {false, true}) {
    const std::vector<float> input = Input(1, special);
    const Result off = RunModel(false, 1, input);
    EXPECT_EQ(off.fused_expands, 0);
    for (int threads : {1, 2, 3}) {
      const Result on = RunModel(true, threads, input);
      EXPECT_EQ(on.fused_expands, 3) << "e1, e2 and e8; not e3 (graph output), e4 (stride 2), e5 (3x3), e9 "
                                        "(small), e7 (the depthwise has a fused ADD)";
      EXPECT_EQ(on.fused_adds, 1);
      // The expanded tensors get no memory.
      EXPECT_TRUE(on.e1_unallocated);
      EXPECT_FALSE(off.e1_unallocated);
      ASSERT_EQ(on.outputs.size(), off.outputs.size());
      for (size_t i = 0; i < on.outputs.size(); ++i) {
        ASSERT_EQ(on.outputs[i].size(), off.outputs[i].size());
        EXPECT_EQ(Diffs(on.outputs[i], off.outputs[i]), 0)
            << "output " << i << ", " << threads << " thread(s), special " << special;
      }
    }
  }
}

TEST(ExpandFusion, BatchResized) {
  const std::vector<float> input = Input(3, false);
  const Result off = RunModel(false, 1, input, 3);
  for (int threads : {1, 2}) {
    const Result on = RunModel(true, threads, input, 3);
    EXPECT_EQ(on.fused_expands, 3);
    ASSERT_EQ(on.outputs.size(), off.outputs.size());
    for (size_t i = 0; i < on.outputs.size(); ++i) EXPECT_EQ(on.outputs[i], off.outputs[i]) << "output " << i;
  }
}

TEST(ExpandFusion, NarrowExpandIsUndone) {
  std::vector<float> input(256 * 200);
  for (size_t i = 0; i < input.size(); ++i) input[i] = (float)((i * 37) % 101) / 50.f - 1.f;
  std::vector<std::vector<uint8_t>> outs;
  for (bool fuse : {false, true}) {
    InterpreterOptions opt;
    opt.fuse_activations = fuse;
    auto in = Interpreter::FromBuffer(tfl::WriteModel(NarrowModel()), BuiltinOpResolver(), opt);
    EXPECT_EQ(in->fused_expands(), fuse ? 1 : 0) << "marked at the build";
    in->AllocateTensors();
    EXPECT_EQ(in->fused_expands(), 0) << "undone after the prepare";
    in->SetInput(0, input.data(), input.size() * sizeof(float));
    in->Invoke();
    const LiteTensor& t = in->output(0);
    outs.emplace_back(static_cast<const uint8_t*>(t.data), static_cast<const uint8_t*>(t.data) + t.bytes);
  }
  EXPECT_EQ(outs[0], outs[1]);
}

}  // namespace
}  // namespace qat::lite
