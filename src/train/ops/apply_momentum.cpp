// ApplyMomentum(var, accum, lr, grad) [momentum, use_nesterov, weight_decay]
//   v = mu * v + g';  w -= lr * v   (nesterov: w -= lr * (g' + mu * v)),  g' = g + wd * w.
// This is TF's ApplyMomentum and torch.optim.SGD(momentum=mu, dampening=0): the learning rate
// multiplies the accumulated velocity, so changing lr mid-run (cosine) rescales the whole step.
#include "qat/optimizer.h"
#include "train/ops/apply_common.h"

namespace qat::train {

void momentum_update(float* w, float* v, const float* g, int64_t n, float lr, float mu, float wd, bool nesterov) {
  if (nesterov) {
    for (int64_t i = 0; i < n; ++i) {
      float gi = g[i] + wd * w[i];
      v[i] = mu * v[i] + gi;
      w[i] -= lr * (gi + mu * v[i]);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      v[i] = mu * v[i] + (g[i] + wd * w[i]);
      w[i] -= lr * v[i];
    }
  }
}

namespace detail {
void register_apply_momentum() {
  graph::OpDef d;
  d.name = "ApplyMomentum";
  d.stateful = true;
  d.shape_fn = [](graph::InferContext& c) {
    c.expect_inputs(4);
    apply_shape_fn(c, 1, 1, 2);
    apply_shape_fn(c, 3, 3, 2);
  };
  d.kernel = [](graph::KernelContext& ctx) {
    Tensor& w = variable_value(ctx, 0);
    Tensor& v = variable_value(ctx, 1);
    const Tensor& g = ctx.input(3);
    if (g.size() != w.size() || v.size() != w.size())
      ctx.fail("gradient {} / accumulator {} do not match the variable {}", shape_str(g.shape()),
               shape_str(v.shape()), shape_str(w.shape()));
    float lr = scalar_input(ctx, 2);
    float mu = (float)ctx.node().attr_float("momentum");
    float wd = (float)ctx.node().attr_float("weight_decay", 0.0);
    bool nesterov = ctx.node().attr_bool("use_nesterov", false);
    float* pw = w.data<float>();
    float* pv = v.data<float>();
    const float* pg = g.data<float>();
    parallel_chunks(ctx, w.size(), [&](int64_t b, int64_t e) {
      momentum_update(pw + b, pv + b, pg + b, e - b, lr, mu, wd, nesterov);
    });
    ctx.set_output(0, w);
  };
  graph::register_op(std::move(d));
}
}  // namespace detail

}  // namespace qat::train
