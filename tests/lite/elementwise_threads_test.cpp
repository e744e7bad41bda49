// The float element-wise ops run in pieces on the interpreter's threads (kElementwiseGrain): every
// thread count gives the one-thread values bit for bit, and those are the reference functions'
// (LOGISTIC / TANH per value, HARD_SWISH, RELU, MUL with a per-channel broadcast).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "float_graph_builder.h"
#include "kernels/reference/activations.h"
#include "lite/op_resolver.h"
#include "qat/interpreter.h"
#include "qat/tflite.h"

namespace qat::lite {
namespace {

constexpr int32_t kLogistic = 14, kMul = 18, kRelu = 19, kTanh = 28, kHardSwish = 117;
constexpr int kH = 40, kW = 41, kC = 17;  // 27880 values: seven pieces of 4096

// x -> LOGISTIC -> out0; x -> TANH -> out1; x -> HARD_SWISH -> out2; x -> RELU -> out3 (a graph
// output: not fused); MUL(x, m[17]) -> out4.
tfl::ModelDesc Model() {
  test_util::FloatGraphBuilder gb;
  const std::vector<int32_t> s = {1, kH, kW, kC};
  const int32_t x = gb.Act("x", s);
  std::vector<float> mv(kC);
  for (int c = 0; c < kC; ++c) mv[c] = 0.25f * (float)(c - 8);
  const int32_t mc = gb.Const("m", {kC}, mv);
  std::vector<int32_t> outs;
  for (int32_t code : {kLogistic, kTanh, kHardSwish, kRelu}) {
    outs.push_back(gb.Act("out" + std::to_string(outs.size()), s));
    gb.Op(code, {x}, {outs.back()});
  }
  outs.push_back(gb.Act("out4", s));
  gb.Op(kMul, {x, mc}, {outs.back()}, tfl::MulOptions{});
  return gb.Finish({x}, outs);
}

std::vector<std::vector<float>> RunModel(int threads, const std::vector<float>& input) {
  InterpreterOptions opt;
  opt.threads = threads;
  auto in = Interpreter::FromBuffer(tfl::WriteModel(Model()), BuiltinOpResolver(), opt);
  in->AllocateTensors();
  in->SetInput(0, input.data(), input.size() * sizeof(float));
  in->Invoke();
  std::vector<std::vector<float>> out;
  for (int i = 0; i < in->outputs_size(); ++i) {
    const auto* p = static_cast<const float*>(in->output(i).data);
    out.emplace_back(p, p + input.size());
  }
  return out;
}

bool Same(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

TEST(ElementwiseThreads, EveryThreadCountGivesTheReferenceValues) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-8.f, 8.f);
  std::vector<float> input((size_t)kH * kW * kC);
  for (float& v : input) v = u(rng);
  input[5] = std::numeric_limits<float>::quiet_NaN();
  input[4096 * 3 + 1] = std::numeric_limits<float>::infinity();
  input[input.size() - 2] = -0.f;
  const size_t n = input.size();
  std::vector<std::vector<float>> want(5, std::vector<float>(n));
  kernels::reference::LogisticFloat((int64_t)n, input.data(), want[0].data());
  kernels::reference::TanhFloat((int64_t)n, input.data(), want[1].data());
  kernels::reference::HardSwishFloat((int64_t)n, input.data(), want[2].data());
  kernels::reference::ReluXFloat((int64_t)n, input.data(), want[3].data(), 0.f, INFINITY);
  for (size_t i = 0; i < n; ++i) want[4][i] = input[i] * (0.25f * (float)((int)(i % kC) - 8));
  for (int threads : {1, 2, 3}) {
    const auto got = RunModel(threads, input);
    ASSERT_EQ(got.size(), want.size());
    for (size_t o = 0; o < want.size(); ++o) {
      size_t bad = 0;
      for (size_t i = 0; i < n; ++i) bad += !Same(got[o][i], want[o][i]);
      EXPECT_EQ(bad, 0u) << "output " << o << ", " << threads << " thread(s)";
    }
  }
}

}  // namespace
}  // namespace qat::lite
