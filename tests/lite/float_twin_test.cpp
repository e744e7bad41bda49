// tfl::FloatTwin (src/tflite/float_twin.h): the float twin of an int8 model has the same graph,
// dequantized constants, float activations, and computes what the int8 model approximates.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "../tflite/test_models.h"
#include "qat/interpreter.h"
#include "tflite/float_twin.h"

namespace qat::lite {
namespace {

TEST(FloatTwin, SameGraphDequantizedConstants) {
  const tfl::ModelDesc q = qat::testing::SmallInt8Model();
  const tfl::ModelDesc f = tfl::FloatTwin(q);
  const tfl::SubGraphDesc &gq = q.subgraphs[0], &gf = f.subgraphs[0];
  ASSERT_EQ(gf.tensors.size(), gq.tensors.size());
  ASSERT_EQ(gf.ops.size(), gq.ops.size());
  for (size_t i = 0; i < gf.ops.size(); ++i) {
    EXPECT_EQ(gf.ops[i].builtin_code, gq.ops[i].builtin_code);
    EXPECT_EQ(gf.ops[i].inputs, gq.ops[i].inputs);
    EXPECT_EQ(gf.ops[i].options, gq.ops[i].options);
  }
  for (size_t i = 0; i < gf.tensors.size(); ++i) {
    const tfl::TensorDesc &a = gq.tensors[i], &b = gf.tensors[i];
    EXPECT_EQ(b.shape, a.shape) << a.name;
    if (a.name == "shape") {
      EXPECT_EQ(b.type, tfl::TensorType::kInt32);
      continue;
    }
    EXPECT_EQ(b.type, tfl::TensorType::kFloat32) << a.name;
    EXPECT_TRUE(b.quant.scale.empty()) << a.name;
  }
  // conv/w: int8 [3,1,1,2], per-channel scales 0.01, 0.02, 0.03 along dimension 0.
  const auto& w = f.buffers[gf.tensors[1].buffer];
  const int8_t qw[6] = {10, -20, 30, 40, -50, 60};
  ASSERT_EQ(w.size(), 6 * sizeof(float));
  for (int i = 0; i < 6; ++i) {
    float v;
    std::memcpy(&v, w.data() + 4 * i, 4);
    EXPECT_EQ(v, gq.tensors[1].quant.scale[i / 2] * (float)qw[i]);
  }
}

// Runs the int8 model on int8 input x and the float twin on the dequantized x; returns the
// largest difference between the dequantized int8 output and the float output.
double MaxOutputGap(const std::vector<uint8_t>& int8_model, const std::vector<uint8_t>& float_model, uint32_t seed) {
  auto qi = Interpreter::FromBuffer(int8_model);
  auto fi = Interpreter::FromBuffer(float_model);
  qi->AllocateTensors();
  fi->AllocateTensors();
  const LiteTensor& in = qi->input(0);
  std::mt19937 rng(seed);
  std::vector<int8_t> x(in.bytes);
  for (auto& v : x) v = (int8_t)rng();
  std::vector<float> xf(x.size());
  for (size_t i = 0; i < x.size(); ++i) xf[i] = in.quant.scale[0] * (float)((int)x[i] - in.quant.zero_point[0]);
  qi->SetInput(0, x.data(), x.size());
  fi->SetInput(0, xf.data(), xf.size() * sizeof(float));
  qi->Invoke();
  fi->Invoke();
  const std::vector<float> yq = Dequantize(qi->output(0));
  const LiteTensor& yf = fi->output(0);
  EXPECT_EQ(yf.type, DType::kFloat32);
  EXPECT_EQ((size_t)yf.num_elements(), yq.size());
  double gap = 0;
  for (size_t i = 0; i < yq.size(); ++i) gap = std::max(gap, (double)std::fabs(yq[i] - yf.as<float>()[i]));
  return gap;
}

TEST(FloatTwin, ComputesWhatTheInt8ModelApproximates) {
  const tfl::ModelDesc q = qat::testing::SmallInt8Model();
  const auto qb = tfl::WriteModel(q), fb = tfl::WriteModel(tfl::FloatTwin(q));
  // Probabilities: the int8 logits have a step of 0.2, so a few hundredths is the int8 error.
  for (uint32_t seed = 1; seed <= 5; ++seed) EXPECT_LT(MaxOutputGap(qb, fb, seed), 0.05) << seed;
}

TEST(FloatTwin, MobileNetV1) {
  const std::string dir = qat::testing::PeersDir();
  if (dir.empty()) GTEST_SKIP() << "QAT_PEERS_DIR not set";
  auto file = tfl::ModelFile::Map(dir + "/data/models/mbv1_100_b1.tflite");
  const auto qb = std::vector<uint8_t>(file->data(), file->data() + file->size());
  const auto fb = tfl::WriteModel(tfl::FloatTwin(tfl::ReadModelDesc(*file)));
  const double gap = MaxOutputGap(qb, fb, 3);
  std::printf("mbv1_100 float twin: largest logit gap %.4f\n", gap);
  EXPECT_LT(gap, 0.5);
}

}  // namespace
}  // namespace qat::lite
