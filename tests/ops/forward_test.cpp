// Forward results of the standard ops against naive reference loops (the gradient checks only
// prove forward and backward agree; these prove the forward is the right function, including
// TF's SAME padding split and the depthwise channel order).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "qat/graph.h"
#include "qat/ops.h"

namespace qat::graph {
namespace {
namespace o = qat::ops;

Tensor rnd(const Shape& s, uint32_t seed) {
  std::mt19937 r(seed);
  std::uniform_real_distribution<float> d(-1, 1);
  Tensor t = Tensor::zeros(s);
  for (int64_t i = 0; i < t.size(); ++i) t.data<float>()[i] = d(r);
  return t;
}

Tensor run1(Graph& g, Output y) {
  VariableStore v;
  v.initialize(g);
  Session s(g, v);
  return s.run({}, {y})[0];
}

void expect_close(const Tensor& a, const std::vector<double>& b, double tol = 1e-4) {
  ASSERT_EQ(a.size(), (int64_t)b.size());
  int bad = 0;
  for (int64_t i = 0; i < a.size(); ++i)
    if (std::fabs(a.data<float>()[i] - b[i]) > tol * (1 + std::fabs(b[i])) && ++bad < 5)
      ADD_FAILURE() << "element " << i << ": " << a.data<float>()[i] << " vs " << b[i];
}

// TF's SAME/VALID padding and naive conv (depthwise when M > 0: filter [KH,KW,C,M]).
std::vector<double> ref_conv(const Tensor& x, const Tensor& w, int sh, int sw, int dh, int dw, bool same,
                             bool depthwise, Shape& out_shape) {
  int N = x.dim(0), H = x.dim(1), W = x.dim(2), C = x.dim(3), KH = w.dim(0), KW = w.dim(1);
  int O = depthwise ? C * w.dim(3) : w.dim(3);
  auto dims = [&](int in, int k, int s, int d, int& out, int& pad) {
    int eff = (k - 1) * d + 1;
    if (same) {
      out = (in + s - 1) / s;
      pad = std::max((out - 1) * s + eff - in, 0) / 2;
    } else {
      out = (in - eff) / s + 1;
      pad = 0;
    }
  };
  int OH, OW, pt, pl;
  dims(H, KH, sh, dh, OH, pt);
  dims(W, KW, sw, dw, OW, pl);
  out_shape = {N, OH, OW, O};
  std::vector<double> y((size_t)N * OH * OW * O, 0.0);
  const float* px = x.data<float>();
  const float* pw = w.data<float>();
  for (int n = 0; n < N; ++n)
    for (int oh = 0; oh < OH; ++oh)
      for (int ow = 0; ow < OW; ++ow)
        for (int oc = 0; oc < O; ++oc) {
          double acc = 0;
          for (int kh = 0; kh < KH; ++kh)
            for (int kw = 0; kw < KW; ++kw) {
              int ih = oh * sh - pt + kh * dh, iw = ow * sw - pl + kw * dw;
              if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
              if (depthwise) {
                int M = w.dim(3), c = oc / M, m = oc % M;
                acc += (double)px[((n * H + ih) * W + iw) * C + c] * pw[((kh * KW + kw) * C + c) * M + m];
              } else {
                for (int c = 0; c < C; ++c)
                  acc += (double)px[((n * H + ih) * W + iw) * C + c] * pw[((kh * KW + kw) * C + c) * O + oc];
              }
            }
          y[((size_t)(n * OH + oh) * OW + ow) * O + oc] = acc;
        }
  return y;
}

TEST(Forward, ConvVariantsMatchReference) {
  o::register_standard_ops();
  struct Case {
    Shape x, w;
    int s, d;
    bool same, dwise;
  } cases[] = {{{2, 7, 6, 3}, {3, 3, 3, 4}, 1, 1, true, false}, {{1, 8, 8, 2}, {3, 3, 2, 5}, 2, 1, true, false},
               {{1, 7, 7, 2}, {2, 2, 2, 3}, 2, 1, false, false}, {{1, 9, 9, 2}, {3, 3, 2, 2}, 1, 2, true, false},
               {{2, 6, 6, 3}, {3, 3, 3, 2}, 1, 1, true, true},   {{1, 8, 7, 4}, {3, 3, 4, 1}, 2, 1, true, true},
               {{1, 8, 8, 2}, {5, 5, 2, 1}, 1, 1, false, true}};
  uint32_t seed = 1;
  for (auto& c : cases) {
    Graph g;
    Tensor x = rnd(c.x, seed++), w = rnd(c.w, seed++);
    o::ConvOpts opt{{c.s, c.s}, c.same ? "SAME" : "VALID", {c.d, c.d}};
    Output y = c.dwise ? o::depthwise_conv2d(g, o::constant(g, x), o::constant(g, w), opt)
                       : o::conv2d(g, o::constant(g, x), o::constant(g, w), opt);
    Shape ref_shape;
    auto ref = ref_conv(x, w, c.s, c.s, c.d, c.d, c.same, c.dwise, ref_shape);
    Tensor got = run1(g, y);
    EXPECT_EQ(got.shape(), ref_shape);
    EXPECT_EQ(y.node->output_info().shape, ref_shape);
    SCOPED_TRACE(shape_str(c.x) + " " + shape_str(c.w));
    expect_close(got, ref);
  }
}

TEST(Forward, PoolsMatchReference) {
  o::register_standard_ops();
  Tensor x = rnd({1, 5, 5, 2}, 7);
  for (bool is_max : {true, false}) {
    Graph g;
    o::PoolOpts p{{3, 3}, {2, 2}, "SAME"};
    Output y = is_max ? o::max_pool(g, o::constant(g, x), p) : o::avg_pool(g, o::constant(g, x), p);
    Tensor got = run1(g, y);
    ASSERT_EQ(got.shape(), (Shape{1, 3, 3, 2}));
    // SAME, k3 s2 on 5: out 3, pad_total 2 -> pad 1 before, 1 after.
    std::vector<double> ref;
    for (int oh = 0; oh < 3; ++oh)
      for (int ow = 0; ow < 3; ++ow)
        for (int c = 0; c < 2; ++c) {
          double m = -1e30, s = 0;
          int cnt = 0;
          for (int ih = oh * 2 - 1; ih <= oh * 2 + 1; ++ih)
            for (int iw = ow * 2 - 1; iw <= ow * 2 + 1; ++iw) {
              if (ih < 0 || ih >= 5 || iw < 0 || iw >= 5) continue;
              double v = x.data<float>()[(ih * 5 + iw) * 2 + c];
              m = std::max(m, v);
              s += v;
              ++cnt;
            }
          ref.push_back(is_max ? m : s / cnt);  // TF: the average excludes padding
        }
    expect_close(got, ref);
  }
}

TEST(Forward, ElementwiseAndReductions) {
  o::register_standard_ops();
  Graph g;
  Tensor a = Tensor::from_vector({2, 3}, {1, -2, 3, -4, 5, -6});
  Output ca = o::constant(g, a);
  Output b = o::constant(g, Tensor::from_vector({3}, {10, 20, 30}));
  expect_close(run1(g, o::add(g, ca, b)), {11, 18, 33, 6, 25, 24});
  expect_close(run1(g, o::sub(g, b, ca)), {9, 22, 27, 14, 15, 36});
  expect_close(run1(g, o::mul(g, ca, o::constant(g, Tensor::from_vector({2, 1}, {2, 3})))), {2, -4, 6, -12, 15, -18});
  expect_close(run1(g, o::relu(g, ca)), {1, 0, 3, 0, 5, 0});
  expect_close(run1(g, o::relu6(g, o::mul(g, ca, o::constant(g, Tensor::scalar(2))))), {2, 0, 6, 0, 6, 0});
  expect_close(run1(g, o::mean(g, ca, {0})), {-1.5, 1.5, -1.5});
  expect_close(run1(g, o::mean(g, ca, {0, 1})), {-0.5});
  expect_close(run1(g, o::concat(g, {ca, ca}, 1)), {1, -2, 3, 1, -2, 3, -4, 5, -6, -4, 5, -6});
  expect_close(run1(g, o::pad(g, ca, {{1, 0}, {0, 1}})), {0, 0, 0, 0, 1, -2, 3, 0, -4, 5, -6, 0});
  Tensor sm = run1(g, o::softmax(g, ca));
  double z = std::exp(1) + std::exp(-2) + std::exp(3);
  EXPECT_NEAR(sm.data<float>()[2], std::exp(3) / z, 1e-6);
  Tensor lab(DType::kInt32, {2});
  lab.data<int32_t>()[0] = 2;
  lab.data<int32_t>()[1] = 0;
  Tensor xe = run1(g, o::softmax_cross_entropy(g, ca, o::constant(g, lab)));
  EXPECT_NEAR(xe.data<float>()[0], std::log(z) - 3, 1e-5);
  Tensor onehot = Tensor::from_vector({2, 3}, {0, 0, 1, 1, 0, 0});
  Tensor xe2 = run1(g, o::softmax_cross_entropy(g, ca, o::constant(g, onehot)));
  EXPECT_NEAR(xe2.data<float>()[0], xe.data<float>()[0], 1e-6);
  EXPECT_NEAR(xe2.data<float>()[1], xe.data<float>()[1], 1e-6);
  // BatchNorm inference: (x - mean) / sqrt(var + eps) * gamma + beta.
  auto bn = o::batch_norm(g, ca, o::constant(g, Tensor::from_vector({3}, {1, 2, 3})),
                          o::constant(g, Tensor::from_vector({3}, {0, 1, 0})),
                          o::constant(g, Tensor::from_vector({3}, {1, 0, -1})),
                          o::constant(g, Tensor::from_vector({3}, {4, 1, 0.25})), false, 0.9, 1e-3);
  Tensor y = run1(g, bn.y);
  EXPECT_NEAR(y.data<float>()[0], (1 - 1) / std::sqrt(4.001) * 1 + 0, 1e-5);
  EXPECT_NEAR(y.data<float>()[5], (-6 + 1) / std::sqrt(0.251) * 3, 1e-4);
  EXPECT_EQ(bn.update_mean, nullptr);
}

}  // namespace
}  // namespace qat::graph
