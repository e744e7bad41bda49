// Relu and Relu6 with their gradient ops. Both gradients read the forward OUTPUT y:
// ReluGrad(dy, y) passes where y > 0 (same as x > 0) and Relu6Grad(dy, y) where 0 < y < 6 (same
// as TF's 0 < x < 6). Reading y rather than x leaves the pre-activation with a single consumer,
// so the executor can fuse BatchNorm+activation without materialising it.
#include <algorithm>

#include "ops/common.h"

namespace qat::ops {
namespace {

template <class F>
void unary(KernelContext& c, F f) {
  const Tensor& x = c.input(0);
  if (x.dtype() != DType::kFloat32) c.fail("expects float32, got {}", dtype_name(x.dtype()));
  Tensor& y = c.allocate_output(0, x.shape());
  const float* px = x.data<float>();
  float* py = y.data<float>();
  parallel_range(c.pool(), x.size(), [px, py, f](int64_t b, int64_t e) {
    const float* __restrict in = px;
    float* __restrict out = py;
    for (int64_t i = b; i < e; ++i) out[i] = f(in[i]);
  });
}

template <class F>
void masked_grad(KernelContext& c, F keep) {
  const Tensor& dy = c.input(0);
  const Tensor& ref = c.input(1);
  if (dy.shape() != ref.shape()) c.fail("dy {} does not match {}", shape_str(dy.shape()), shape_str(ref.shape()));
  Tensor& dx = c.allocate_output(0, dy.shape());
  const float* pd = dy.data<float>();
  const float* pr = ref.data<float>();
  float* po = dx.data<float>();
  // Local __restrict copies and a select without a branch: the mask is ~50% random, so a
  // branchy scalar loop (what the compiler made of pointers captured by reference, which may
  // alias the output) mispredicts every other element and ran 5x slower than Relu.
  parallel_range(c.pool(), dy.size(), [pd, pr, po, keep](int64_t b, int64_t e) {
    const float* __restrict d = pd;
    const float* __restrict r = pr;
    float* __restrict o = po;
    for (int64_t i = b; i < e; ++i) {
      float g = d[i];
      o[i] = keep(r[i]) ? g : 0.0f;
    }
  });
}

void float_unary_shape(InferContext& c) {
  c.expect_inputs(1);
  c.expect_dtype(0, DType::kFloat32);
  c.set_output(0, DType::kFloat32, c.shape(0));
}

void grad_shape(InferContext& c) {
  c.expect_inputs(2);
  c.expect_dtype(0, DType::kFloat32);
  c.expect_dtype(1, DType::kFloat32);
  c.set_output(0, DType::kFloat32, c.shape(1));
}

}  // namespace

void register_activation_ops() {
  register_op({.name = "Relu",
               .shape_fn = float_unary_shape,
               .kernel = [](KernelContext& c) { unary(c, [](float v) { return v > 0 ? v : 0.0f; }); },
               .grad = [](GradContext& g) {
                 return std::vector<Output>{make(g.graph(), "ReluGrad", "", {g.dy(), g.y()})};
               }});
  register_op({.name = "ReluGrad",
               .shape_fn = grad_shape,
               .kernel = [](KernelContext& c) { masked_grad(c, [](float y) { return y > 0; }); }});
  register_op({.name = "Relu6",
               .shape_fn = float_unary_shape,
               .kernel = [](KernelContext& c) { unary(c, [](float v) { return std::min(std::max(v, 0.0f), 6.0f); }); },
               .grad = [](GradContext& g) {
                 return std::vector<Output>{make(g.graph(), "Relu6Grad", "", {g.dy(), g.y()})};
               }});
  register_op({.name = "Relu6Grad",
               .shape_fn = grad_shape,
               .kernel = [](KernelContext& c) { masked_grad(c, [](float y) { return (y > 0) & (y < 6); }); }});
}

Output relu(Graph& g, Output x, const std::string& name) { return make(g, "Relu", name, {x}); }
Output relu6(Graph& g, Output x, const std::string& name) { return make(g, "Relu6", name, {x}); }

}  // namespace qat::ops
