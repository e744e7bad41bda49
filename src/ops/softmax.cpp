// Softmax over the last axis (max-subtracted for stability). SoftmaxGrad(dy, y):
// dx = y * (dy - sum(dy * y)) per row.
#include <cmath>

#include "ops/common.h"

namespace qat::ops {

void register_softmax_ops() {
  register_op({.name = "Softmax",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(1);
                     c.expect_dtype(0, DType::kFloat32);
                     if (c.rank(0) < 1) c.fail("input must have rank >= 1");
                     c.set_output(0, DType::kFloat32, c.shape(0));
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& x = c.input(0);
                     int64_t K = x.dim(-1), rows = K ? x.size() / K : 0;
                     Tensor& y = c.allocate_output(0, x.shape());
                     const float* px = x.data<float>();
                     float* py = y.data<float>();
                     for (int64_t r = 0; r < rows; ++r) {
                       const float* a = px + r * K;
                       float* b = py + r * K;
                       float m = a[0];
                       for (int64_t j = 1; j < K; ++j) m = std::max(m, a[j]);
                       double s = 0;
                       for (int64_t j = 0; j < K; ++j) s += b[j] = std::exp(a[j] - m);
                       float inv = (float)(1.0 / s);
                       for (int64_t j = 0; j < K; ++j) b[j] *= inv;
                     }
                   },
               .grad =
                   [](GradContext& g) {
                     return std::vector<Output>{make(g.graph(), "SoftmaxGrad", "", {g.dy(), g.y()})};
                   }});
  register_op({.name = "SoftmaxGrad",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(2);
                     c.set_output(0, DType::kFloat32, c.shape(1));
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& dy = c.input(0);
                     const Tensor& y = c.input(1);
                     if (dy.shape() != y.shape()) c.fail("dy {} does not match y {}", shape_str(dy.shape()), shape_str(y.shape()));
                     int64_t K = y.dim(-1), rows = K ? y.size() / K : 0;
                     Tensor& dx = c.allocate_output(0, y.shape());
                     for (int64_t r = 0; r < rows; ++r) {
                       const float* d = dy.data<float>() + r * K;
                       const float* p = y.data<float>() + r * K;
                       float* o = dx.data<float>() + r * K;
                       double s = 0;
                       for (int64_t j = 0; j < K; ++j) s += (double)d[j] * p[j];
                       for (int64_t j = 0; j < K; ++j) o[j] = p[j] * (d[j] - (float)s);
                     }
                   }});
}

Output softmax(Graph& g, Output logits, const std::string& name) { return make(g, "Softmax", name, {logits}); }

}  // namespace qat::ops
