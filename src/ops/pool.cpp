// MaxPool and AvgPool (NHWC; attrs ksize, strides, padding as TF). MaxPool has a second output,
// the int32 argmax (flat NHWC index of each window's maximum), so its gradient MaxPoolGrad(dy,
// argmax, x) scatters without recomputing the forward pass. AvgPoolGrad(dy, x): x gives the
// shape. TF's average excludes padded elements from the count.
#include "ops/common.h"

namespace qat::ops {
namespace {

Shape pool_out(const kernels::PoolGeom& g, int64_t n) { return {n, g.OH, g.OW, g.C}; }

void pool_shape(InferContext& c, bool with_argmax) {
  c.expect_inputs(1);
  c.expect_dtype(0, DType::kFloat32);
  auto g = pool_geom(c.node(), c.shape(0));
  Shape out = pool_out(g, c.shape(0)[0]);
  c.set_output(0, DType::kFloat32, out);
  if (with_argmax) c.set_output(1, DType::kInt32, out);
}

kernels::PoolGeom runtime_geom(KernelContext& c, const Tensor& x) {
  if (x.size() >= (int64_t)1 << 31) c.fail("input {} too large for int32 argmax", shape_str(x.shape()));
  return pool_geom(c.node(), x.shape());
}

AttrMap pool_attrs(const Node* n) { return n->attrs(); }

}  // namespace

void register_pool_ops() {
  register_op({.name = "MaxPool",
               .shape_fn = [](InferContext& c) { pool_shape(c, true); },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& x = c.input(0);
                     auto g = runtime_geom(c, x);
                     Shape out = pool_out(g, g.N);
                     Tensor& y = c.allocate_output(0, out);
                     Tensor& am = c.allocate_output(1, DType::kInt32, out);
                     kernels::max_pool_forward(g, x.data<float>(), y.data<float>(), am.data<int32_t>());
                   },
               .grad =
                   [](GradContext& g) {
                     return std::vector<Output>{
                         make(g.graph(), "MaxPoolGrad", "", {g.dy(0), g.y(1), g.x(0)}, pool_attrs(g.node()))};
                   }});
  register_op({.name = "MaxPoolGrad",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(3);
                     c.expect_dtype(0, DType::kFloat32);
                     c.expect_dtype(1, DType::kInt32);
                     c.set_output(0, DType::kFloat32, c.shape(2));
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& dy = c.input(0);
                     const Tensor& am = c.input(1);
                     const Tensor& x = c.input(2);
                     auto g = runtime_geom(c, x);
                     if (dy.shape() != pool_out(g, g.N) || am.shape() != dy.shape())
                       c.fail("dy {} / argmax {} do not match the pooled shape", shape_str(dy.shape()),
                              shape_str(am.shape()));
                     Tensor& dx = c.allocate_output(0, x.shape());
                     kernels::max_pool_backward(g, dy.data<float>(), am.data<int32_t>(), dx.data<float>());
                   }});
  register_op({.name = "AvgPool",
               .shape_fn = [](InferContext& c) { pool_shape(c, false); },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& x = c.input(0);
                     auto g = runtime_geom(c, x);
                     Tensor& y = c.allocate_output(0, pool_out(g, g.N));
                     kernels::avg_pool_forward(g, x.data<float>(), y.data<float>());
                   },
               .grad =
                   [](GradContext& g) {
                     return std::vector<Output>{
                         make(g.graph(), "AvgPoolGrad", "", {g.dy(0), g.x(0)}, pool_attrs(g.node()))};
                   }});
  register_op({.name = "AvgPoolGrad",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(2);
                     c.expect_dtype(0, DType::kFloat32);
                     c.set_output(0, DType::kFloat32, c.shape(1));
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& dy = c.input(0);
                     const Tensor& x = c.input(1);
                     auto g = runtime_geom(c, x);
                     if (dy.shape() != pool_out(g, g.N)) c.fail("dy {} does not match the pooled shape", shape_str(dy.shape()));
                     Tensor& dx = c.allocate_output(0, x.shape());
                     kernels::avg_pool_backward(g, dy.data<float>(), dx.data<float>());
                   }});
}

Output max_pool(Graph& g, Output x, const PoolOpts& o, const std::string& name) {
  return make(g, "MaxPool", name, {x}, {{"ksize", o.ksize}, {"strides", o.strides}, {"padding", o.padding}});
}
Output avg_pool(Graph& g, Output x, const PoolOpts& o, const std::string& name) {
  return make(g, "AvgPool", name, {x}, {{"ksize", o.ksize}, {"strides", o.strides}, {"padding", o.padding}});
}

}  // namespace qat::ops
