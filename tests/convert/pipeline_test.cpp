// The whole TF flow on a small subset: QAT training into a run folder -> qat freeze (files) ->
// qat convert (int8 and uint8 files) -> qat's interpreter, against the fake-quant eval graph;
// and the PTQ baseline from a float run of the same model.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "convert_test_util.h"

namespace qat {
namespace {

namespace fs = std::filesystem;

double model_accuracy(const std::string& path, const data::Dataset& ds, int64_t n) {
  std::ifstream f(path, std::ios::binary);
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
  Tensor x = testutil::test_images(0, n);
  auto out = testutil::run_model(bytes, x);
  int ok = 0;
  for (int64_t i = 0; i < n; ++i) ok += testutil::argmax(out[i].data(), 10) == ds.labels[i];
  return (double)ok / (double)n;
}

train::TrainConfig config(const std::string& dir, bool qat) {
  train::TrainConfig cfg;
  cfg.model = testutil::tiny_cnn();
  cfg.epochs = 1;
  cfg.batch = 64;
  cfg.train_limit = 2048;
  cfg.test_limit = 500;
  cfg.progress = nullptr;
  cfg.out_dir = dir;
  if (qat) {
    quantize::QuantizeOptions qo;
    qo.symmetric = true;
    qo.per_channel = true;
    cfg.train_rewrite = quantize::training_rewrite(qo);
    cfg.eval_rewrite = quantize::eval_rewrite(qo);
  }
  return cfg;
}

TEST(Pipeline, QatRunToInt8AndUint8AndPtqBaseline) {
  freeze::register_all_ops();
  fs::path root = fs::path(::testing::TempDir()) / "qat_pipeline";
  fs::remove_all(root);
  const auto& ds = testutil::fashion();
  const int64_t n = 500;

  // QAT run -> frozen file -> int8 / uint8 .tflite.
  std::string run = (root / "qat").string();
  train::TrainResult tr = train::train(config(run, true), ds);
  auto frozen = freeze::freeze_run(run, "", {});
  std::string fpath = (root / "qat_frozen.json").string();
  frozen->save(fpath);
  graph::VariableStore vars = freeze::load_variables(train::latest_checkpoint(run));
  auto eval = graph::Graph::load(freeze::run_graph_path(run));
  Tensor x = testutil::test_images(0, n);
  Tensor fq = testutil::run_graph(*eval, x, &vars);
  int fq_ok = 0;
  for (int64_t i = 0; i < n; ++i) fq_ok += testutil::argmax(fq.data<float>() + i * 10, 10) == ds.test.labels[i];
  const double fq_acc = (double)fq_ok / n;

  convert::ConvertOptions o;
  o.inference_type = convert::InferenceType::kInt8;
  o.inference_input_type = convert::InferenceType::kFloat;
  convert::ConvertReport r8 = convert::convert_file(fpath, (root / "qat_int8.tflite").string(), o);
  o.inference_type = convert::InferenceType::kUInt8;
  convert::ConvertReport ru8 = convert::convert_file(fpath, (root / "qat_uint8.tflite").string(), o);
  const double int8_acc = model_accuracy((root / "qat_int8.tflite").string(), ds.test, n);
  const double uint8_acc = model_accuracy((root / "qat_uint8.tflite").string(), ds.test, n);

  // Float run of the same model -> float .tflite and full-integer PTQ.
  std::string frun = (root / "float").string();
  train::train(config(frun, false), ds);
  auto ffrozen = freeze::freeze_run(frun, "", {});
  std::string ffpath = (root / "float_frozen.json").string();
  ffrozen->save(ffpath);
  convert::ConvertReport rf = convert::convert_file(ffpath, (root / "float.tflite").string(), {});
  data::Dataset rep = ds.train.head(500);
  convert::ConvertOptions p;
  p.inference_type = convert::InferenceType::kInt8;
  p.inference_input_type = convert::InferenceType::kFloat;
  p.representative = &rep;
  convert::convert_file(ffpath, (root / "ptq_int8.tflite").string(), p);
  const double float_acc = model_accuracy((root / "float.tflite").string(), ds.test, n);
  const double ptq_acc = model_accuracy((root / "ptq_int8.tflite").string(), ds.test, n);

  std::printf("tiny CNN, 2048 training images, %lld test images: fake-quant %.4f | int8 %.4f | uint8 %.4f || "
              "float %.4f | PTQ int8 %.4f | sizes int8 %zu, float %zu bytes\n",
              (long long)n, fq_acc, int8_acc, uint8_acc, float_acc, ptq_acc, r8.bytes, rf.bytes);
  EXPECT_NEAR(int8_acc, fq_acc, 0.02);
  EXPECT_NEAR(uint8_acc, fq_acc, 0.03);
  EXPECT_GT(int8_acc, 0.2);  // 32 steps: far from trained, but well above chance (0.1)
  EXPECT_GT(ptq_acc, float_acc - 0.05);
  (void)tr;
  (void)ru8;
}

}  // namespace
}  // namespace qat
