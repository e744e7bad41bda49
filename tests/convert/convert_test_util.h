// Shared helpers of the convert tests: a tiny model trained (QAT or float) for a few steps on a
// Fashion-MNIST subset, frozen, and run through qat's interpreter.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "qat/convert.h"
#include "qat/data.h"
#include "qat/freeze.h"
#include "qat/interpreter.h"
#include "qat/model.h"
#include "qat/quantize.h"
#include "qat/train.h"

namespace qat::testutil {

inline train::ModelSpec tiny_cnn() {
  train::ModelSpec s;
  s.name = "tiny_cnn";
  s.conv2d("c1", 8, 3, 2, false).batch_norm("bn1").relu("r1").max_pool("p1");
  s.conv2d("c2", 16, 3, 1, false).batch_norm("bn2").relu6("r2");
  s.depthwise_conv2d("dw", 3, 1, false).batch_norm("bn3").relu("r3");
  s.global_avg_pool("gap").dense("fc", 10);
  return s;
}

inline const data::MnistSplits& fashion() {
  static data::MnistSplits d = data::load_mnist(data::fashion_mnist_dir());
  return d;
}

struct Trained {
  std::unique_ptr<graph::Graph> eval;   // eval graph (fake-quant when qat)
  graph::VariableStore vars;
  std::unique_ptr<graph::Graph> frozen;
};

// Trains `steps` * 64 images (QAT when `qat`), then builds and freezes the eval graph.
inline Trained train_tiny(bool qat, int64_t images = 1024, bool symmetric = true) {
  freeze::register_all_ops();
  train::TrainConfig cfg;
  cfg.model = tiny_cnn();
  cfg.epochs = 1;
  cfg.batch = 64;
  cfg.lr = 0.05;
  cfg.train_limit = images;
  cfg.test_limit = 100;
  cfg.progress = nullptr;
  cfg.eval_each_epoch = false;
  quantize::QuantizeOptions qo;
  qo.symmetric = symmetric;
  qo.per_channel = symmetric;
  if (qat) {
    cfg.train_rewrite = quantize::training_rewrite(qo);
    cfg.eval_rewrite = quantize::eval_rewrite(qo);
  }
  Trained t;
  train::train(cfg, fashion(), &t.vars);
  auto e = train::build_eval_graph(cfg.model, cfg.seed, qat ? quantize::eval_rewrite(qo) : train::GraphRewrite{});
  t.eval = std::move(e.graph);
  t.frozen = freeze::freeze_graph(*t.eval, t.vars, {.output_nodes = {"logits"}});
  return t;
}

// Float images [n, 28, 28, 1] = pixels / 255 of the first n test images.
inline Tensor test_images(int64_t first, int64_t n) {
  const auto& ds = fashion().test;
  Tensor x(DType::kFloat32, {n, ds.h, ds.w, ds.c});
  for (int64_t i = 0; i < x.size(); ++i) x.data<float>()[i] = ds.pixels[(size_t)(first * ds.image_size() + i)] / 255.f;
  return x;
}

// Runs a frozen graph (no variables) or, with `vars`, an eval graph.
inline Tensor run_graph(graph::Graph& g, const Tensor& x, graph::VariableStore* vars = nullptr) {
  graph::VariableStore none;
  graph::Session s(g, vars ? *vars : none);
  return s.run({{g.get("input")->output(0), x}}, {g.get("logits")->output(0)})[0];
}

// Runs a batch-1 model image by image; returns dequantized outputs [n, k]. Float inputs are
// quantized with the input tensor's parameters when the model input is integer.
inline std::vector<std::vector<float>> run_model(const std::vector<uint8_t>& bytes, const Tensor& x,
                                                 lite::RequantMode mode = lite::RequantMode::kTflite) {
  lite::InterpreterOptions o;
  o.requant = mode;
  auto in = lite::Interpreter::FromBuffer(bytes, o);
  in->AllocateTensors();
  auto det = in->input_details()[0];
  const int64_t per = x.size() / x.dim(0);
  std::vector<std::vector<float>> out;
  for (int64_t b = 0; b < x.dim(0); ++b) {
    const float* p = x.data<float>() + b * per;
    if (det.type == DType::kFloat32) {
      in->SetInput(0, p, per * sizeof(float));
    } else {
      std::vector<uint8_t> q(per);
      const int lo = det.type == DType::kInt8 ? -128 : 0;
      for (int64_t i = 0; i < per; ++i) {
        long v = std::lround(p[i] / det.scales[0]) + det.zero_points[0];
        v = std::min<long>(std::max<long>(v, lo), lo + 255);
        q[i] = det.type == DType::kInt8 ? (uint8_t)(int8_t)v : (uint8_t)v;
      }
      in->SetInput(0, q.data(), q.size());
    }
    in->Invoke();
    out.push_back(in->DequantizeOutput(0));
  }
  return out;
}

inline int argmax(const float* p, int64_t n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (p[i] > p[best]) best = i;
  return best;
}

}  // namespace qat::testutil
