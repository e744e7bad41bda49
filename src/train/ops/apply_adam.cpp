// ApplyAdam(var, m, v, lr, grad, step) [beta1, beta2, epsilon, weight_decay]
//   g' = g + wd * w;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;  t = step + 1
//   w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
// The torch.optim.Adam form (eps added after the bias-corrected sqrt); `step` is the global
// step read before this step's increment, so t counts updates from 1.
#include <cmath>

#include "qat/optimizer.h"
#include "train/ops/apply_common.h"

namespace qat::train {

void adam_update(float* w, float* m, float* v, const float* g, int64_t n, float lr, float beta1, float beta2,
                 float eps, float wd, int64_t t) {
  const double c1 = 1.0 - std::pow((double)beta1, (double)t);
  const double c2 = 1.0 - std::pow((double)beta2, (double)t);
  const float step = (float)(lr / c1);
  const float inv_sqrt_c2 = (float)(1.0 / std::sqrt(c2));
  for (int64_t i = 0; i < n; ++i) {
    float gi = g[i] + wd * w[i];
    m[i] = beta1 * m[i] + (1.0f - beta1) * gi;
    v[i] = beta2 * v[i] + (1.0f - beta2) * gi * gi;
    w[i] -= step * m[i] / (std::sqrt(v[i]) * inv_sqrt_c2 + eps);
  }
}

namespace detail {
void register_apply_adam() {
  graph::OpDef d;
  d.name = "ApplyAdam";
  d.stateful = true;
  d.shape_fn = [](graph::InferContext& c) {
    c.expect_inputs(6);
    apply_shape_fn(c, 1, 2, 3);
    apply_shape_fn(c, 4, 4, 3);
    c.expect_rank(5, 0);
    c.set_output(0, c.dtype(0), c.shape(0));
  };
  d.kernel = [](graph::KernelContext& ctx) {
    Tensor& w = variable_value(ctx, 0);
    Tensor& m = variable_value(ctx, 1);
    Tensor& v = variable_value(ctx, 2);
    const Tensor& g = ctx.input(4);
    if (g.size() != w.size() || m.size() != w.size() || v.size() != w.size())
      ctx.fail("gradient or slots do not match the variable {}", shape_str(w.shape()));
    float lr = scalar_input(ctx, 3);
    int64_t t = (int64_t)ctx.input(5).at(0) + 1;
    const auto& n = ctx.node();
    float b1 = (float)n.attr_float("beta1"), b2 = (float)n.attr_float("beta2");
    float eps = (float)n.attr_float("epsilon"), wd = (float)n.attr_float("weight_decay", 0.0);
    float *pw = w.data<float>(), *pm = m.data<float>(), *pv = v.data<float>();
    const float* pg = g.data<float>();
    parallel_chunks(ctx, w.size(), [&](int64_t b, int64_t e) {
      adam_update(pw + b, pm + b, pv + b, pg + b, e - b, lr, b1, b2, eps, wd, t);
    });
    ctx.set_output(0, w);
  };
  graph::register_op(std::move(d));
}
}  // namespace detail

}  // namespace qat::train
