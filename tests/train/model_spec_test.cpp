// Model files: the shipped JSON models equal the C++ builders; parameter counts; clear errors.
#include <gtest/gtest.h>

#include "qat/model.h"

namespace qat::train {
namespace {

std::string model_path(const char* name) { return std::string(QAT_SOURCE_DIR) + "/models/" + name; }

std::string error_of(const std::string& text) {
  try {
    ModelSpec::from_json(text, "m.json");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "NO ERROR";
}

TEST(ModelSpec, SmallCnnFileMatchesCppAndHas94186Parameters) {
  ModelSpec f = ModelSpec::load(model_path("small_cnn.json"));
  ModelSpec c = small_cnn();
  EXPECT_EQ(f.to_json(), c.to_json());
  EXPECT_EQ(f.num_parameters(), 94186);
  EXPECT_EQ(f.height, 28);
  EXPECT_NEAR(f.input_scale, 1.0 / 255.0, 1e-15);
}

TEST(ModelSpec, MobilenetTinyFileMatchesCpp) {
  ModelSpec f = ModelSpec::load(model_path("mobilenet_tiny.json"));
  EXPECT_EQ(f.to_json(), mobilenet_tiny().to_json());
  EXPECT_GT(f.num_parameters(), 10000);
  int dw = 0;
  for (const auto& l : f.layers) dw += l.type == "depthwise_conv2d";
  EXPECT_EQ(dw, 5);
}

TEST(ModelSpec, JsonRoundTrip) {
  ModelSpec m = mobilenet_tiny();
  EXPECT_EQ(ModelSpec::from_json(m.to_json()).to_json(), m.to_json());
}

TEST(ModelSpec, ResidualAndConcat) {
  ModelSpec m;
  m.height = m.width = 8;
  m.conv2d("a", 4, 3).relu("r").conv2d("b", 4, 3).add("sum", {"r", "b"}).concat("cat", {"sum", "a"});
  m.global_avg_pool("gap").dense("fc", 10);
  EXPECT_EQ(m.num_parameters(), (9 * 4 + 4) + (9 * 16 + 4) + (8 * 10 + 10));
}

TEST(ModelSpec, Errors) {
  const std::string head = R"({"input": {"shape": [28, 28, 1]}, "layers": [)";
  EXPECT_NE(error_of("{").find("invalid JSON"), std::string::npos);
  EXPECT_NE(error_of(head + R"({"type": "conv9", "name": "c"}]})").find("unknown layer type 'conv9'"), std::string::npos);
  EXPECT_NE(error_of(head + R"({"type": "dense", "name": "fc", "units": 10, "bogus": 1}]})").find("unknown key 'bogus'"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"({"type": "dense", "name": "fc", "units": 7}]})").find("num_classes"), std::string::npos);
  EXPECT_NE(error_of(head + R"({"type": "relu", "name": "r"}, {"type": "relu", "name": "r"}]})").find("'r'"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"({"type": "add", "name": "s", "inputs": ["nope", "input"]}]})").find("'nope'"),
            std::string::npos);
  EXPECT_NE(error_of(head + R"({"type": "dense", "name": "fc", "units": "10"}]})").find("integer"), std::string::npos);
  EXPECT_NE(error_of(R"({"layers": []})").find("input"), std::string::npos);
  std::string msg = error_of(head + R"({"type": "conv2d", "name": "c", "filters": 0}]})");
  EXPECT_NE(msg.find("m.json"), std::string::npos) << msg;
  EXPECT_NE(msg.find("layer 'c'"), std::string::npos) << msg;
  EXPECT_THROW(ModelSpec::load("/nonexistent/model.json"), IoError);
}

}  // namespace
}  // namespace qat::train
