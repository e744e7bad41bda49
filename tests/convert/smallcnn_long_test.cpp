// Acceptance figures on SmallCNN / Fashion-MNIST (label "long"): QAT training -> freeze -> int8
// and uint8 .tflite through qat's interpreter on the whole test set, against the fake-quant
// eval graph (accuracy within 0.1 point, same top-1 on >= 99.5% of images), against a float run
// of the same model (>= float - 0.3 point), the file sizes (<= 0.3x float) and the full-integer
// PTQ baseline. QAT_SMALLCNN_EPOCHS (default 3) sets the training length of both runs.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "convert_test_util.h"

namespace qat {
namespace {

struct Eval {
  double acc = 0;
  std::vector<int> top1;
};

Eval eval_model(const std::vector<uint8_t>& bytes, const data::Dataset& ds) {
  lite::InterpreterOptions o;
  auto in = lite::Interpreter::FromBuffer(bytes, o);
  in->AllocateTensors();
  auto det = in->input_details()[0];
  Eval e;
  int ok = 0;
  std::vector<uint8_t> q(ds.image_size());
  for (int64_t i = 0; i < ds.n; ++i) {
    const uint8_t* px = ds.pixels.data() + i * ds.image_size();
    for (int64_t k = 0; det.type != DType::kFloat32 && k < ds.image_size(); ++k) {
      long v = std::lround((px[k] / 255.f) / det.scales[0]) + det.zero_points[0];
      q[k] = det.type == DType::kInt8 ? (uint8_t)(int8_t)std::clamp(v, -128L, 127L) : (uint8_t)std::clamp(v, 0L, 255L);
    }
    if (det.type == DType::kFloat32) {
      std::vector<float> f(ds.image_size());
      for (int64_t k = 0; k < ds.image_size(); ++k) f[k] = px[k] / 255.f;
      in->SetInput(0, f.data(), f.size() * 4);
    } else {
      in->SetInput(0, q.data(), q.size());
    }
    in->Invoke();
    auto out = in->DequantizeOutput(0);
    int c = testutil::argmax(out.data(), (int64_t)out.size());
    e.top1.push_back(c);
    ok += c == ds.labels[i];
  }
  e.acc = (double)ok / (double)ds.n;
  return e;
}

Eval eval_graph(graph::Graph& g, graph::VariableStore* vars, const data::Dataset& ds) {
  Eval e;
  int ok = 0;
  for (int64_t b = 0; b < ds.n; b += 500) {
    int64_t n = std::min<int64_t>(500, ds.n - b);
    Tensor x = testutil::test_images(b, n);
    Tensor y = testutil::run_graph(g, x, vars);
    for (int64_t i = 0; i < n; ++i) {
      int c = testutil::argmax(y.data<float>() + i * 10, 10);
      e.top1.push_back(c);
      ok += c == ds.labels[b + i];
    }
  }
  e.acc = (double)ok / (double)ds.n;
  return e;
}

TEST(SmallCnnAcceptance, QatInt8Uint8VsFakeQuantFloatAndPtq) {
  freeze::register_all_ops();
  const char* ep = std::getenv("QAT_SMALLCNN_EPOCHS");
  const int epochs = ep ? std::atoi(ep) : 3;
  const auto& ds = testutil::fashion();
  auto run = [&](bool qat) {
    train::TrainConfig cfg;
    cfg.model = train::small_cnn();
    cfg.epochs = epochs;
    cfg.progress = nullptr;
    quantize::QuantizeOptions qo;
    qo.symmetric = true;
    qo.per_channel = true;
    if (qat) {
      cfg.train_rewrite = quantize::training_rewrite(qo);
      cfg.eval_rewrite = quantize::eval_rewrite(qo);
    }
    testutil::Trained t;
    train::train(cfg, ds, &t.vars);
    auto e = train::build_eval_graph(cfg.model, cfg.seed, qat ? quantize::eval_rewrite(qo) : train::GraphRewrite{});
    t.eval = std::move(e.graph);
    t.frozen = freeze::freeze_graph(*t.eval, t.vars, {.output_nodes = {"logits"}});
    return t;
  };
  testutil::Trained q = run(true), f = run(false);
  Eval fq = eval_graph(*q.eval, &q.vars, ds.test);
  convert::ConvertOptions o8{.inference_type = convert::InferenceType::kInt8};
  convert::ConvertOptions ou8{.inference_type = convert::InferenceType::kUInt8};
  auto b8 = convert::convert(*q.frozen, o8), bu8 = convert::convert(*q.frozen, ou8);
  auto bf = convert::convert(*f.frozen, {});
  data::Dataset rep = ds.train.head(1000);
  convert::ConvertOptions op = o8;
  op.representative = &rep;
  auto bp = convert::convert(*f.frozen, op);
  Eval e8 = eval_model(b8, ds.test), eu8 = eval_model(bu8, ds.test), ef = eval_model(bf, ds.test),
       ep8 = eval_model(bp, ds.test);
  int same = 0;
  for (size_t i = 0; i < fq.top1.size(); ++i) same += fq.top1[i] == e8.top1[i];
  const double agree = (double)same / (double)fq.top1.size();
  std::printf("SmallCNN %d epochs, 10k test: fake-quant %.4f | int8 %.4f (top-1 agreement %.4f) | uint8 %.4f || "
              "float %.4f | PTQ int8 %.4f || bytes int8 %zu uint8 %zu float %zu (%.3fx)\n",
              epochs, fq.acc, e8.acc, agree, eu8.acc, ef.acc, ep8.acc, b8.size(), bu8.size(), bf.size(),
              (double)b8.size() / (double)bf.size());
  EXPECT_NEAR(e8.acc, fq.acc, 0.001);
  EXPECT_GE(agree, 0.995);
  EXPECT_GE(e8.acc, ef.acc - 0.003);
  EXPECT_GE(eu8.acc, ef.acc - 0.003);
  EXPECT_LE((double)b8.size(), 0.3 * (double)bf.size());
  EXPECT_LE((double)bu8.size(), 0.3 * (double)bf.size());
}

}  // namespace
}  // namespace qat
