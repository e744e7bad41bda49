// Float residual ADDs fused into the CONV_2D or DEPTHWISE_CONV_2D that feeds them (InterpreterOptions::fuse_activations,
// Interpreter::FuseFloatResidualAdds): the outputs are bit for bit those of the unfused graph on
// every conv path (im2col, gather, direct 1x1, narrow, a filter computed at run time, row and
// channel-panel thread splits; depthwise optimised and reference), with the ADD's operand order and clamp (its own activation and a
// RELU fused into it); the ADDs that may not be fused stay nodes.
#include <gtest/gtest.h>

#include <algorithm>
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

constexpr int32_t kAdd = 0, kConv2D = 3, kDepthwise = 4, kMul = 18, kRelu = 19, kPad = 34;
constexpr int kH = 6, kW = 9, kC = 5;

// x [1,6,9,5] (and, second graph input, the filter f [8,1,1,5]):
//   s   = CONV 1x1 (x)                        [..,8]  the skip path, written before c1
//   c1  = CONV 3x3 SAME (x) + b1              [..,8]  gather path (5 input channels)
//   a1  = ADD(c1, s), RELU (own activation)          fused into c1
//   c2  = CONV 1x1 (a1), RELU6 (own)          [..,8]  direct path
//   r   = MUL(a1, m), m [8] of both signs             written after c2
//   a2  = ADD(r, c2) -> RELU node                       fused into c2 (moved to the ADD's slot),
//                                                       r first; the RELU is fused into the ADD
//   c3  = CONV 1x1 (a2), 2 channels           [..,2]  narrow path
//   a3  = ADD(c3, k), k = CONV 1x1 (a2r) 2 ch          fused (k written after c3: c3 moves)
//   c4  = CONV 3x3 VALID+PAD (a2) 40 channels [..,40] im2col; 3 panels (channel split at 2 threads)
//   a4  = ADD(c4, q), q = CONV 1x1 (a2) 40 ch         fused (q written before c4)
//   c5  = CONV 1x1 with filter f (graph input)        reference kernel path
//   a5  = ADD(c5, s)                                  fused (residual after the reference kernel)
// Not fused: ADD(c6, bias[8]) (broadcast), ADD(c7, s) where c7 is also a graph output,
// ADD(c8, c8) (read twice).
//   c9  = CONV 3x3 (1x1 conv of x to 344 channels) 32 ch: two panel groups, nine blocks
//   a9  = ADD(c9, s32)                                 fused into c9
//   d1  = DEPTHWISE 3x3 SAME (a2r), RELU6; a10 = ADD(d1, s), RELU    fused (optimised kernel)
//   d2  = DEPTHWISE 3x3, multiplier 2 (x); a11 = ADD(k10, d2)        fused (reference kernel)
//   a12 = ADD(c12, constant [1,6,9,8])                 not fused (a constant residual)
tfl::ModelDesc ResidualModel() {
  using namespace tfl;
  test_util::FloatGraphBuilder gb;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-0.6f, 0.6f);
  auto act = [&](const std::string& name, std::vector<int32_t> shape) { return gb.Act(name, std::move(shape)); };
  auto constant = [&](const std::string& name, std::vector<int32_t> shape) {
    int64_t n = 1;
    for (int32_t d : shape) n *= d;
    std::vector<float> v((size_t)n);
    for (float& x : v) x = u(rng);
    return gb.Const(name, std::move(shape), v);
  };
  auto op = [&](int32_t code, std::vector<int32_t> in, std::vector<int32_t> out, BuiltinOptions o = {}) {
    gb.Op(code, std::move(in), std::move(out), std::move(o));
  };
  auto conv = [&](const std::string& name, int32_t in, int ic, int oc, int k, int8_t padding, int8_t relu,
                  bool bias, int32_t filter = -1) {
    Conv2DOptions o;
    o.padding = padding;
    o.fused_activation_function = relu;
    const int32_t f = filter >= 0 ? filter : constant(name + "/w", {oc, k, k, ic});
    const int32_t out = act(name, {1, kH, kW, oc});
    if (bias)
      op(kConv2D, {in, f, constant(name + "/b", {oc})}, {out}, o);
    else
      op(kConv2D, {in, f}, {out}, o);
    return out;
  };
  auto add = [&](const std::string& name, int32_t a, int32_t b, int8_t relu, int oc = 8) {
    AddOptions o;
    o.fused_activation_function = relu;
    const int32_t out = act(name, {1, kH, kW, oc});
    op(kAdd, {a, b}, {out}, o);
    return out;
  };
  const int32_t x = act("input", {1, kH, kW, kC});
  const int32_t f = act("filter", {8, 1, 1, kC});
  const int32_t s = conv("s", x, kC, 8, 1, 0, 0, false);
  const int32_t c1 = conv("c1", x, kC, 8, 3, 0, 0, true);
  const int32_t a1 = add("a1", c1, s, /*RELU*/ 1);
  const int32_t c2 = conv("c2", a1, 8, 8, 1, 0, /*RELU6*/ 3, true);
  const int32_t r = act("r", {1, kH, kW, 8});
  op(kMul, {a1, constant("m", {8})}, {r}, MulOptions{});  // mixed signs: a2's RELU matters
  const int32_t a2 = add("a2", r, c2, 0);
  const int32_t a2r = act("a2_relu", {1, kH, kW, 8});
  op(kRelu, {a2}, {a2r});
  const int32_t c3 = conv("c3", a2r, 8, 2, 1, 0, 0, true);
  const int32_t a3 = add("a3", c3, conv("k", a2r, 8, 2, 1, 0, 0, true), 0, 2);
  const int32_t q = conv("q", a2r, 8, 40, 1, 0, 0, false);
  const int32_t pads = gb.ConstInt32("pads", {4, 2}, {0, 0, 1, 1, 1, 1, 0, 0});
  const int32_t padded = act("padded", {1, kH + 2, kW + 2, 8});
  op(kPad, {a2r, pads}, {padded}, PadOptions{});
  const int32_t c4 = conv("c4", padded, 8, 40, 3, /*VALID*/ 1, 0, true);
  const int32_t a4 = add("a4", c4, q, 0, 40);
  const int32_t c5 = conv("c5", x, kC, 8, 1, 0, 0, true, f);
  const int32_t a5 = add("a5", c5, s, 0);
  // K = 3 x 3 x 344 > 3072: one panel per group (two groups), one tile per block (nine blocks).
  const int32_t wide = conv("wide", x, kC, 344, 1, 0, 0, false);
  const int32_t s32 = conv("s32", x, kC, 32, 1, 0, 0, false);
  const int32_t c9 = conv("c9", wide, 344, 32, 3, 0, 0, true);
  const int32_t a9 = add("a9", c9, s32, 0, 32);  // c9 first: the fusion tries input 0 first
  // Depthwise: 3x3 SAME over a2r (8 channels; border columns one by one, the interior as a run)
  // with a RELU6 of its own, + s, RELU; and depth multiplier 2 over x (5 -> 10 channels: the
  // reference kernel) + a constant.
  auto dw = [&](const std::string& name, int32_t in, int ic, int mult, int8_t relu) {
    DepthwiseConv2DOptions o;
    o.depth_multiplier = mult;
    o.fused_activation_function = relu;
    const int32_t out = act(name, {1, kH, kW, ic * mult});
    op(kDepthwise, {in, constant(name + "/w", {1, 3, 3, ic * mult}), constant(name + "/b", {ic * mult})}, {out}, o);
    return out;
  };
  const int32_t d1 = dw("d1", a2r, 8, 1, /*RELU6*/ 3);
  const int32_t a10 = add("a10", d1, s, /*RELU*/ 1);
  const int32_t d2 = dw("d2", x, kC, 2, 0);
  const int32_t a11 = add("a11", conv("k10", x, kC, 2 * kC, 1, 0, 0, false), d2, 0, 2 * kC);
  // A constant residual is not fused: resizing the batch would make the ADD broadcast it.
  const int32_t c12 = conv("c12", x, kC, 8, 1, 0, 0, true);
  const int32_t a12 = add("a12", c12, constant("k12", {1, kH, kW, 8}), 0);
  // Not fusable.
  const int32_t c6 = conv("c6", x, kC, 8, 1, 0, 0, true);
  const int32_t a6 = add("a6", c6, constant("bias8", {8}), 0);
  const int32_t c7 = conv("c7", x, kC, 8, 1, 0, 0, true);
  const int32_t a7 = add("a7", c7, s, 0);
  const int32_t c8 = conv("c8", x, kC, 8, 1, 0, 0, true);
  const int32_t a8 = add("a8", c8, c8, 0);
  return gb.Finish({x, f}, {a3, a4, a5, a6, a7, c7, a8, a9, a10, a11, a12});
}

// Bit for bit, except that any NaN equals any NaN: a NaN's sign and payload are not part of the
// contract (they can depend on the thread split; the kernel tests compare the same way).
bool SameFloat(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

struct Result {
  std::vector<std::vector<uint8_t>> outputs;
  int fused_adds = 0;
};

Result RunModel(bool fuse, int threads, const std::vector<float>& input, const std::vector<float>& filter,
                int batch = 1) {
  InterpreterOptions opt;
  opt.fuse_activations = fuse;
  opt.threads = threads;
  auto in = Interpreter::FromBuffer(tfl::WriteModel(ResidualModel()), BuiltinOpResolver(), opt);
  if (batch != 1) in->ResizeInputTensor(0, {batch, kH, kW, kC});
  in->AllocateTensors();
  in->SetInput(0, input.data(), input.size() * sizeof(float));
  in->SetInput(1, filter.data(), filter.size() * sizeof(float));
  in->Invoke();
  Result r;
  r.fused_adds = in->fused_adds();
  for (int i = 0; i < in->outputs_size(); ++i) {
    const LiteTensor& t = in->output(i);
    const auto* p = static_cast<const uint8_t*>(t.data);
    r.outputs.emplace_back(p, p + t.bytes);
  }
  return r;
}

TEST(ResidualFusion, SameBitsAsTheUnfusedGraph) {
  // Plain values first (every output must be a number, so every fused add is checked), then NaN,
  // infinities and -0 in the input (they spread through the convolutions).
  for (bool special : {false, true}) {
    std::mt19937 rng(7);
    std::uniform_real_distribution<float> u(-2.f, 2.f);
    std::vector<float> input(kH * kW * kC), filter(8 * kC);
    for (float& v : input) v = u(rng);
    for (float& v : filter) v = u(rng);
    if (special) {
      input[3] = std::numeric_limits<float>::quiet_NaN();
      input[kW * kC + 11] = std::numeric_limits<float>::infinity();
      input[4 * kW * kC + 12] = -std::numeric_limits<float>::infinity();
      input[20] = -0.f;
    }
    const Result off = RunModel(false, 1, input, filter);
    EXPECT_EQ(off.fused_adds, 0);
    for (int threads : {1, 2, 3}) {
      const Result on = RunModel(true, threads, input, filter);
      EXPECT_EQ(on.fused_adds, 8) << "a1 .. a5, a9, a10, a11; not the broadcast, the graph-output, the x + x or the constant ADD";
      ASSERT_EQ(on.outputs.size(), off.outputs.size());
      for (size_t i = 0; i < on.outputs.size(); ++i) {
        ASSERT_EQ(on.outputs[i].size(), off.outputs[i].size());
        int nans = 0, diffs = 0;
        for (size_t j = 0; j + 4 <= on.outputs[i].size(); j += 4) {
          float a, b;
          std::memcpy(&a, on.outputs[i].data() + j, 4);
          std::memcpy(&b, off.outputs[i].data() + j, 4);
          nans += std::isnan(b);
          diffs += !SameFloat(a, b);
        }
        EXPECT_EQ(diffs, 0) << "output " << i << ", " << threads << " thread(s), special " << special;
        if (!special) EXPECT_EQ(nans, 0) << "output " << i;
      }
    }
  }
}

// The batch resized after the fusion: the fused ops follow it (the residuals are activations).
TEST(ResidualFusion, BatchResized) {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-2.f, 2.f);
  std::vector<float> input(3 * kH * kW * kC), filter(8 * kC);
  for (float& v : input) v = u(rng);
  for (float& v : filter) v = u(rng);
  const Result off = RunModel(false, 1, input, filter, 3);
  for (int threads : {1, 2}) {
    const Result on = RunModel(true, threads, input, filter, 3);
    EXPECT_EQ(on.fused_adds, 8);
    ASSERT_EQ(on.outputs.size(), off.outputs.size());
    for (size_t i = 0; i < on.outputs.size(); ++i) EXPECT_EQ(on.outputs[i], off.outputs[i]) << "output " << i;
  }
}

// The moved conv keeps its model index in node() and in the profile.
TEST(ResidualFusion, MovedConvKeepsItsIndex) {
  InterpreterOptions opt;
  auto in = Interpreter::FromBuffer(tfl::WriteModel(ResidualModel()), BuiltinOpResolver(), opt);
  for (int i = 0; i < in->nodes_size(); ++i) EXPECT_EQ(in->node(i).node_index, i);
  in->AllocateTensors();
  std::vector<float> input(kH * kW * kC, 0.5f), filter(8 * kC, 0.25f);
  in->SetInput(0, input.data(), input.size() * sizeof(float));
  in->SetInput(1, filter.data(), filter.size() * sizeof(float));
  in->set_profiling(true);
  in->Invoke();
  const InvokeProfile p = in->profile();
  ASSERT_EQ((int)p.ops.size(), in->nodes_size());
  // c2 (node 3) runs after the MUL (node 4) that writes its residual, in the slot of a2 (node 5).
  std::vector<int> order;
  for (const OpProfile& op : p.ops) order.push_back(op.node);
  const auto pos = [&](int node) { return std::find(order.begin(), order.end(), node) - order.begin(); };
  EXPECT_GT(pos(3), pos(4));
  EXPECT_EQ(pos(3), 5);
  EXPECT_EQ(p.ops[(size_t)pos(3)].op, "CONV_2D");
  EXPECT_EQ(p.ops[(size_t)pos(5)].op, "ADD (fused)");
  EXPECT_EQ(p.ops[(size_t)pos(6)].op, "RELU (fused)");
}

}  // namespace
}  // namespace qat::lite
