// Converter: each option of `qat convert`, its errors, and the integer model against the
// fake-quant graph through qat's interpreter.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

#include "convert_test_util.h"
#include "qat/ops.h"

namespace qat {
namespace {

using convert::ConvertOptions;
using convert::InferenceType;
using testutil::argmax;

class ConvertTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    qat_ = new testutil::Trained(testutil::train_tiny(true));
    float_ = new testutil::Trained(testutil::train_tiny(false));
  }
  static void TearDownTestSuite() {
    delete qat_;
    delete float_;
  }
  static testutil::Trained* qat_;
  static testutil::Trained* float_;
};
testutil::Trained* ConvertTest::qat_ = nullptr;
testutil::Trained* ConvertTest::float_ = nullptr;

std::map<std::string, int> op_histogram(const std::vector<uint8_t>& bytes) {
  auto f = tfl::ModelFile::FromBuffer(bytes);
  auto d = tfl::ReadModelDesc(*f);
  std::map<std::string, int> h;
  for (auto& op : d.subgraphs[0].ops) {
    static const std::map<int, std::string> names = {
        {0, "ADD"}, {1, "AVERAGE_POOL_2D"}, {3, "CONV_2D"}, {4, "DEPTHWISE_CONV_2D"}, {6, "DEQUANTIZE"},
        {9, "FULLY_CONNECTED"}, {17, "MAX_POOL_2D"}, {22, "RESHAPE"}, {32, "CUSTOM"}, {114, "QUANTIZE"}};
    auto it = names.find(op.builtin_code);
    ++h[it == names.end() ? std::to_string(op.builtin_code) : it->second];
  }
  return h;
}

TEST_F(ConvertTest, FloatModelMatchesFrozenGraph) {
  ConvertOptions o;
  convert::ConvertReport r;
  auto bytes = convert::convert(*float_->frozen, o, &r);
  // Conv+BN+ReLU fold into single CONV_2D ops; global average pool is AVERAGE_POOL_2D + RESHAPE.
  EXPECT_EQ(r.op_counts["CONV_2D"], 2);
  EXPECT_EQ(r.op_counts["DEPTHWISE_CONV_2D"], 1);
  EXPECT_EQ(r.op_counts["FULLY_CONNECTED"], 1);
  EXPECT_EQ(r.op_counts.count("RELU"), 0u);
  Tensor x = testutil::test_images(0, 20);
  Tensor ref = testutil::run_graph(*float_->frozen, x);
  auto got = testutil::run_model(bytes, x);
  for (int64_t b = 0; b < 20; ++b)
    for (int k = 0; k < 10; ++k) EXPECT_NEAR(got[b][k], ref.data<float>()[b * 10 + k], 1e-4) << b << "," << k;
}

// The acceptance check in small: int8 through the interpreter vs the fake-quant eval graph.
void check_against_fake_quant(testutil::Trained& t, InferenceType type, double min_agree) {
  ConvertOptions o;
  o.inference_type = type;
  o.inference_input_type = InferenceType::kFloat;
  o.inference_output_type = InferenceType::kFloat;
  convert::ConvertReport r;
  auto bytes = convert::convert(*t.frozen, o, &r);
  for (auto& n : r.notes) ADD_FAILURE() << "unexpected approximation: " << n;
  const int64_t n = 300;
  Tensor x = testutil::test_images(0, n);
  Tensor ref = testutil::run_graph(*t.eval, x, &t.vars);
  auto got = testutil::run_model(bytes, x);
  int agree = 0;
  double max_diff = 0;
  for (int64_t b = 0; b < n; ++b) {
    agree += argmax(got[b].data(), 10) == argmax(ref.data<float>() + b * 10, 10);
    for (int k = 0; k < 10; ++k) max_diff = std::max(max_diff, (double)std::fabs(got[b][k] - ref.data<float>()[b * 10 + k]));
  }
  ::testing::Test::RecordProperty("top1_agreement", agree);
  std::printf("top-1 agreement %d/%lld, max logit diff %.4f\n", agree, (long long)n, max_diff);
  EXPECT_GE(agree, min_agree * n) << "max |logit diff| " << max_diff;
}

TEST_F(ConvertTest, Int8MatchesFakeQuantGraph) { check_against_fake_quant(*qat_, InferenceType::kInt8, 0.97); }

TEST_F(ConvertTest, Uint8FromAsymmetricQat) {
  testutil::Trained t = testutil::train_tiny(true, 512, /*symmetric=*/false);
  check_against_fake_quant(t, InferenceType::kUInt8, 0.97);
}

TEST_F(ConvertTest, Int8TensorsFollowTheSpec) {
  ConvertOptions o;
  o.inference_type = InferenceType::kInt8;
  auto bytes = convert::convert(*qat_->frozen, o);
  auto f = tfl::ModelFile::FromBuffer(bytes);
  auto d = tfl::ReadModelDesc(*f);
  const auto& sg = d.subgraphs[0];
  EXPECT_EQ(sg.tensors[sg.inputs[0]].type, tfl::TensorType::kInt8);
  for (const auto& op : sg.ops) {
    if (op.builtin_code == 3 || op.builtin_code == 4 || op.builtin_code == 9) {
      const auto& in = sg.tensors[op.inputs[0]];
      const auto& w = sg.tensors[op.inputs[1]];
      const auto& b = sg.tensors[op.inputs[2]];
      EXPECT_EQ(w.type, tfl::TensorType::kInt8);
      for (auto zp : w.quant.zero_point) EXPECT_EQ(zp, 0) << w.name;
      if (op.builtin_code != 9) {
        EXPECT_EQ(w.quant.scale.size(), (size_t)(op.builtin_code == 3 ? w.shape[0] : w.shape[3])) << w.name;
        EXPECT_EQ(w.quant.quantized_dimension, op.builtin_code == 3 ? 0 : 3);
      }
      EXPECT_EQ(b.type, tfl::TensorType::kInt32);
      for (size_t c = 0; c < b.quant.scale.size(); ++c)
        EXPECT_FLOAT_EQ(b.quant.scale[c], in.quant.scale[0] * w.quant.scale[w.quant.scale.size() == 1 ? 0 : c]);
    }
    if (op.builtin_code == 17 || op.builtin_code == 1 || op.builtin_code == 22) {  // pools, reshape
      EXPECT_EQ(sg.tensors[op.inputs[0]].quant, sg.tensors[op.outputs[0]].quant);
    }
  }
}

TEST_F(ConvertTest, SizeIsAQuarterOfFloat) {
  auto fb = convert::convert(*qat_->frozen, {});
  ConvertOptions o;
  o.inference_type = InferenceType::kInt8;
  auto qb = convert::convert(*qat_->frozen, o);
  // Tiny model: the fixed overhead (names, vtables) weighs more than in SmallCNN.
  EXPECT_LT((double)qb.size(), 0.7 * (double)fb.size()) << qb.size() << " vs " << fb.size();
}

TEST_F(ConvertTest, MissingRangeNamesTensorAndProducer) {
  ConvertOptions o;
  o.inference_type = InferenceType::kInt8;
  try {
    convert::convert(*float_->frozen, o);
    FAIL() << "expected a missing-range error";
  } catch (const UsageError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("has no min/max range"), std::string::npos) << m;
    EXPECT_NE(m.find("tensor 'input'"), std::string::npos) << m;
    EXPECT_NE(m.find("--default-ranges"), std::string::npos) << m;
  }
  // With input stats the input is fine and the first conv's output is the culprit.
  o.input_stats["input"] = {-128.0, 255.0};
  try {
    convert::convert(*float_->frozen, o);
    FAIL() << "expected a missing-range error";
  } catch (const UsageError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("tensor 'r1"), std::string::npos) << m;
    EXPECT_NE(m.find("(Conv2D)"), std::string::npos) << m;
  }
}

TEST_F(ConvertTest, DefaultRangesAndInputStats) {
  ConvertOptions o;
  o.inference_type = InferenceType::kUInt8;
  o.default_ranges = std::pair{-6.f, 6.f};
  o.input_stats["input"] = {0.0, 255.0};  // uint8 pixels: real = q / 255
  auto bytes = convert::convert(*float_->frozen, o);
  auto in = lite::Interpreter::FromBuffer(bytes);
  auto det = in->input_details()[0];
  EXPECT_EQ(det.type, DType::kUInt8);
  EXPECT_FLOAT_EQ(det.scales[0], 1.f / 255.f);
  EXPECT_EQ(det.zero_points[0], 0);
  in->AllocateTensors();
  in->Invoke();  // runs
  EXPECT_THROW(convert::convert(*float_->frozen, [&] {
                 auto p = o;
                 p.input_stats["input"] = {300.0, 255.0};
                 return p;
               }()),
               UsageError);
}

TEST_F(ConvertTest, InputOutputTypes) {
  ConvertOptions o;
  o.inference_type = InferenceType::kInt8;
  o.inference_input_type = InferenceType::kFloat;
  o.inference_output_type = InferenceType::kFloat;
  auto h = op_histogram(convert::convert(*qat_->frozen, o));
  EXPECT_EQ(h["QUANTIZE"], 1);
  EXPECT_EQ(h["DEQUANTIZE"], 1);
  o.inference_input_type = InferenceType::kUInt8;
  o.inference_output_type = InferenceType::kInt8;
  auto bytes = convert::convert(*qat_->frozen, o);
  h = op_histogram(bytes);
  EXPECT_EQ(h["QUANTIZE"], 1);
  EXPECT_EQ(h.count("DEQUANTIZE"), 0u);
  auto in = lite::Interpreter::FromBuffer(bytes);
  auto d = in->input_details()[0];
  EXPECT_EQ(d.type, DType::kUInt8);
  auto o8 = convert::convert(*qat_->frozen, {.inference_type = InferenceType::kInt8});
  auto d8 = lite::Interpreter::FromBuffer(o8)->input_details()[0];
  EXPECT_EQ(d.zero_points[0], d8.zero_points[0] + 128);
  EXPECT_EQ(d.scales[0], d8.scales[0]);
  // A quantized input type needs a quantized model.
  EXPECT_THROW(convert::convert(*qat_->frozen, {.inference_input_type = InferenceType::kInt8}), UsageError);
}

TEST_F(ConvertTest, UnsupportedOpIsAnErrorUnlessCustomOpsAllowed) {
  freeze::register_all_ops();
  graph::Graph g;
  auto x = ops::placeholder(g, DType::kFloat32, {-1, 4}, "input");
  auto z = g.add_node("ZerosLike", "zeros", {x});
  ops::add(g, x, z->output(0), "out");
  try {
    convert::convert(g, {});
    FAIL() << "expected an unsupported-op error";
  } catch (const UsageError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("'zeros'"), std::string::npos) << m;
    EXPECT_NE(m.find("ZerosLike"), std::string::npos) << m;
    EXPECT_NE(m.find("--allow-custom-ops"), std::string::npos) << m;
  }
  convert::ConvertReport r;
  auto bytes = convert::convert(g, {.allow_custom_ops = true}, &r);
  EXPECT_EQ(r.op_counts["ZerosLike"], 1);
  auto f = tfl::ModelFile::FromBuffer(bytes);
  auto d = tfl::ReadModelDesc(*f);
  bool found = false;
  for (auto& op : d.subgraphs[0].ops) found |= op.builtin_code == 32 && op.custom_code == "ZerosLike";
  EXPECT_TRUE(found);
}

TEST_F(ConvertTest, PostTrainingWeightOnly) {
  ConvertOptions o;
  o.post_training_quantize = true;
  o.weight_only_min_elements = 100;
  auto fb = convert::convert(*float_->frozen, {});
  auto qb = convert::convert(*float_->frozen, o);
  EXPECT_LT(qb.size(), fb.size());
  auto f = tfl::ModelFile::FromBuffer(qb);
  auto d = tfl::ReadModelDesc(*f);
  int int8_weights = 0;
  for (auto& t : d.subgraphs[0].tensors) int8_weights += t.type == tfl::TensorType::kInt8;
  EXPECT_GE(int8_weights, 2);
  Tensor x = testutil::test_images(0, 50);
  auto a = testutil::run_model(fb, x), b = testutil::run_model(qb, x);
  int agree = 0;
  for (int i = 0; i < 50; ++i) agree += argmax(a[i].data(), 10) == argmax(b[i].data(), 10);
  EXPECT_GE(agree, 47);
}

TEST_F(ConvertTest, FullIntegerPostTrainingQuantization) {
  data::Dataset rep = testutil::fashion().train.head(200);
  for (auto cal : {convert::Calibration::kMinMax, convert::Calibration::kPercentile}) {
    ConvertOptions o;
    o.inference_type = InferenceType::kInt8;
    o.inference_input_type = InferenceType::kFloat;
    o.inference_output_type = InferenceType::kFloat;
    o.representative = &rep;
    o.calibration = cal;
    auto qb = convert::convert(*float_->frozen, o);
    Tensor x = testutil::test_images(0, 100);
    Tensor ref = testutil::run_graph(*float_->frozen, x);
    auto got = testutil::run_model(qb, x);
    int agree = 0;
    for (int i = 0; i < 100; ++i) agree += argmax(got[i].data(), 10) == argmax(ref.data<float>() + i * 10, 10);
    EXPECT_GE(agree, 90) << (cal == convert::Calibration::kMinMax ? "minmax" : "percentile");
  }
  // PTQ of a float model needs a quantized type.
  ConvertOptions bad;
  bad.representative = &rep;
  EXPECT_THROW(convert::convert(*float_->frozen, bad), UsageError);
}

}  // namespace
}  // namespace qat
