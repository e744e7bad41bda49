// Float RELU / RELU6 fused into the op that alone feeds them (InterpreterOptions::fuse_activations):
// the outputs are bit for bit those of the unfused graph, and the RELUs that may not be fused (an
// input read twice, a graph output, a producer with two outputs or of another op) stay nodes.
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

constexpr int32_t kAdd = 0, kConv2D = 3, kMul = 18, kRelu = 19, kRelu6 = 21, kMaxPool = 17;

// input [1,5,7,3] -> ADD(+bias) -> RELU -> CONV_2D 1x1 (4 ch) -> RELU6 -> MUL(x, x) -> RELU -> out0
//                                                 ADD's RELU output also -> MAX_POOL -> RELU -> out1
// plus mul2 = MUL(conv_relu6, -2), a graph output, read by a RELU (not fused: graph output), and
// x * x read by a RELU and a RELU6 (not fused: two readers).
tfl::ModelDesc FusionModel() {
  using namespace tfl;
  test_util::FloatGraphBuilder gb;
  auto act = [&](const std::string& name, std::vector<int32_t> shape) { return gb.Act(name, std::move(shape)); };
  auto constant = [&](const std::string& name, std::vector<int32_t> shape, std::vector<float> v) {
    return gb.Const(name, std::move(shape), v);
  };
  auto op = [&](int32_t code, std::vector<int32_t> in, std::vector<int32_t> out, BuiltinOptions o = {}) {
    gb.Op(code, std::move(in), std::move(out), std::move(o));
  };
  const int32_t x = act("input", {1, 5, 7, 3});
  const int32_t bias = constant("bias", {3}, {0.25f, -0.5f, 0.f});
  const int32_t a = act("add", {1, 5, 7, 3}), ar = act("add_relu", {1, 5, 7, 3});
  op(kAdd, {x, bias}, {a}, AddOptions{});
  op(kRelu, {a}, {ar});
  std::vector<float> w(4 * 3);
  for (size_t i = 0; i < w.size(); ++i) w[i] = 0.3f * (float)((int)(i % 5) - 2);
  const int32_t wt = constant("w", {4, 1, 1, 3}, w), wb = constant("wb", {4}, {0.1f, -0.2f, 0.3f, -0.4f});
  const int32_t c = act("conv", {1, 5, 7, 4}), cr = act("conv_relu6", {1, 5, 7, 4});
  op(kConv2D, {ar, wt, wb}, {c}, Conv2DOptions{});
  op(kRelu6, {c}, {cr});
  const int32_t sq = act("square", {1, 5, 7, 4}), out0 = act("out0", {1, 5, 7, 4});
  op(kMul, {cr, cr}, {sq}, MulOptions{});
  op(kRelu, {sq}, {out0});
  Pool2DOptions po;
  po.filter_width = po.filter_height = 1;
  const int32_t mp = act("pool", {1, 5, 7, 3}), out1 = act("out1", {1, 5, 7, 3});
  op(kMaxPool, {ar}, {mp}, po);
  op(kRelu, {mp}, {out1});  // producer MAX_POOL_2D: not fused
  const int32_t two = constant("two", {1}, {-2.f});
  const int32_t m2 = act("mul2", {1, 5, 7, 4}), out2 = act("out2", {1, 5, 7, 4});
  op(kMul, {cr, two}, {m2}, MulOptions{});
  op(kRelu, {m2}, {out2});  // mul2 is also a graph output below: not fused
  // x * x read by two RELUs: not fused.
  const int32_t xx = act("xx", {1, 5, 7, 3}), out3 = act("out3", {1, 5, 7, 3}), out4 = act("out4", {1, 5, 7, 3});
  op(kMul, {x, x}, {xx}, MulOptions{});
  op(kRelu, {xx}, {out3});
  op(kRelu6, {xx}, {out4});
  return gb.Finish({x}, {out0, out1, out2, m2, out3, out4});
}

std::vector<std::vector<uint8_t>> RunModel(bool fuse, const std::vector<float>& input, int* fused) {
  InterpreterOptions opt;
  opt.fuse_activations = fuse;
  auto in = Interpreter::FromBuffer(tfl::WriteModel(FusionModel()), BuiltinOpResolver(), opt);
  in->AllocateTensors();
  in->SetInput(0, input.data(), input.size() * sizeof(float));
  in->Invoke();
  *fused = in->fused_activations();
  std::vector<std::vector<uint8_t>> out;
  for (int i = 0; i < in->outputs_size(); ++i) {
    const LiteTensor& t = in->output(i);
    const auto* p = static_cast<const uint8_t*>(t.data);
    out.emplace_back(p, p + t.bytes);
  }
  return out;
}

TEST(ActivationFusion, SameBitsAsTheUnfusedGraph) {
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> u(-3.f, 3.f);
  std::vector<float> input(5 * 7 * 3);
  for (float& v : input) v = u(rng);
  input[4] = std::numeric_limits<float>::quiet_NaN();
  input[7] = -std::numeric_limits<float>::infinity();
  input[9] = -0.f;
  int fused_on = -1, fused_off = -1;
  const auto a = RunModel(true, input, &fused_on), b = RunModel(false, input, &fused_off);
  EXPECT_EQ(fused_on, 3);  // ADD+RELU, CONV_2D+RELU6, MUL+RELU; not after MAX_POOL_2D, not mul2
  EXPECT_EQ(fused_off, 0);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "output " << i;
}

}  // namespace
}  // namespace qat::lite
