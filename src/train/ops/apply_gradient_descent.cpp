// ApplyGradientDescent(var, lr, grad) [weight_decay]: w -= lr * (g + wd * w).
#include "qat/optimizer.h"
#include "train/ops/apply_common.h"

namespace qat::train {

void sgd_update(float* w, const float* g, int64_t n, float lr, float wd) {
  for (int64_t i = 0; i < n; ++i) w[i] -= lr * (g[i] + wd * w[i]);
}

namespace detail {
void register_apply_gradient_descent() {
  graph::OpDef d;
  d.name = "ApplyGradientDescent";
  d.stateful = true;
  d.shape_fn = [](graph::InferContext& c) {
    c.expect_inputs(3);
    apply_shape_fn(c, 2, 2, 1);
  };
  d.kernel = [](graph::KernelContext& ctx) {
    Tensor& w = variable_value(ctx, 0);
    const Tensor& g = ctx.input(2);
    if (g.size() != w.size()) ctx.fail("gradient {} does not match the variable {}", shape_str(g.shape()), shape_str(w.shape()));
    float lr = scalar_input(ctx, 1);
    float wd = (float)ctx.node().attr_float("weight_decay", 0.0);
    float* pw = w.data<float>();
    const float* pg = g.data<float>();
    parallel_chunks(ctx, w.size(), [&](int64_t b, int64_t e) { sgd_update(pw + b, pg + b, e - b, lr, wd); });
    ctx.set_output(0, w);
  };
  graph::register_op(std::move(d));
}
}  // namespace detail

}  // namespace qat::train
