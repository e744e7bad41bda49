// Finite-difference gradient checker for graph ops.
//
// check_gradients(build, inputs) feeds `inputs` through placeholders, builds y = build(g, xs)
// and compares the graph's gradient of L = sum(y * R) (R a fixed random tensor, passed as the
// seed grad_ys) with double-precision central differences of L over every element of every
// differentiable input. Float32 kernels: relative tolerance ~1e-2.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>
#include <vector>

#include "qat/graph.h"
#include "qat/ops.h"

namespace qat::testing {

using graph::Graph;
using graph::Output;

inline Tensor random_tensor(const Shape& s, std::mt19937& rng, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> d(lo, hi);
  Tensor t = Tensor::zeros(s);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = d(rng);
  return t;
}

// Values bounded away from 0 (and 6) so ReLU-like kinks are not crossed by the perturbation.
inline Tensor random_away_from_kinks(const Shape& s, std::mt19937& rng, float scale = 1.f) {
  Tensor t = random_tensor(s, rng, -1.f, 1.f);
  for (int64_t i = 0; i < t.size(); ++i) {
    float& v = t.data<float>()[i];
    v = (v >= 0 ? v + 0.1f : v - 0.1f) * scale;
  }
  return t;
}

struct GradCheckOptions {
  double step = 1e-2;
  double rtol = 1e-2;
  double atol = 2e-3;
  std::vector<bool> check;  // per input; empty = all float inputs
  uint32_t seed = 1234;
};

// Returns the number of mismatching elements (also reported with ADD_FAILURE).
inline int check_gradients(const std::function<Output(Graph&, std::vector<Output>&)>& build,
                           std::vector<Tensor> inputs, GradCheckOptions opt = {}) {
  ops::register_standard_ops();
  Graph g;
  std::vector<Output> xs;
  for (size_t i = 0; i < inputs.size(); ++i)
    xs.push_back(ops::placeholder(g, inputs[i].dtype(), inputs[i].shape(), "x" + std::to_string(i)));
  std::vector<Output> xs_copy = xs;
  Output y = build(g, xs_copy);
  std::mt19937 rng(opt.seed);
  Shape yshape = y.node->output_info(y.index).shape;
  Tensor r = random_tensor(yshape, rng);
  Output seed = ops::constant(g, r, "seed");
  std::vector<Output> want;
  std::vector<size_t> want_idx;
  for (size_t i = 0; i < xs.size(); ++i) {
    bool on = inputs[i].dtype() == DType::kFloat32 && (opt.check.empty() || opt.check[i]);
    if (on) {
      want.push_back(xs[i]);
      want_idx.push_back(i);
    }
  }
  std::vector<Output> grads = graph::gradients(g, std::span<const Output>(&y, 1), want,
                                               std::span<const Output>(&seed, 1));
  graph::VariableStore vars;
  vars.initialize(g);
  graph::Session s(g, vars);
  graph::Session::Feeds feeds;
  for (size_t i = 0; i < xs.size(); ++i) feeds.emplace_back(xs[i], inputs[i]);

  std::vector<Output> fetches;
  for (auto& gr : grads)
    if (gr) fetches.push_back(gr);
  auto analytic = s.run(feeds, fetches);
  auto loss = [&]() {
    auto out = s.run(feeds, {y});
    double l = 0;
    for (int64_t i = 0; i < out[0].size(); ++i) l += (double)out[0].data<float>()[i] * r.data<float>()[i];
    return l;
  };
  int bad = 0;
  size_t k = 0;
  for (size_t w = 0; w < want.size(); ++w) {
    size_t i = want_idx[w];
    Tensor a;
    if (grads[w]) a = analytic[k++];
    Tensor& x = feeds[i].second;
    x = x.clone();  // perturb a private copy
    float* px = x.data<float>();
    for (int64_t e = 0; e < x.size(); ++e) {
      float orig = px[e];
      px[e] = orig + (float)opt.step;
      double lp = loss();
      px[e] = orig - (float)opt.step;
      double lm = loss();
      px[e] = orig;
      double num = (lp - lm) / (2 * opt.step);
      double ana = a.defined() ? a.data<float>()[e] : 0.0;
      if (std::fabs(ana - num) > opt.atol + opt.rtol * std::max(std::fabs(ana), std::fabs(num))) {
        if (++bad <= 5)
          ADD_FAILURE() << "gradient of input " << i << " element " << e << ": analytic " << ana << " numeric " << num;
      }
    }
  }
  return bad;
}

}  // namespace qat::testing
