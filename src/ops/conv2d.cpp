// Conv2D (NHWC input, HWIO filter) and its two gradient ops. Depthwise shares the code through
// conv_ops_for(): the ops differ only in the filter layout and the geometry's depthwise flag.
#include "ops/common.h"

namespace qat::ops {
namespace {

void conv_shape(InferContext& c, bool depthwise) {
  c.expect_inputs(2);
  c.expect_dtype(0, DType::kFloat32);
  c.expect_dtype(1, DType::kFloat32);
  auto g = conv_geom(c.node(), c.shape(0), c.shape(1), depthwise);
  c.set_output(0, DType::kFloat32, {c.shape(0)[0], g.OH, g.OW, g.O});
}

kernels::ConvGeom runtime_geom(KernelContext& c, const Tensor& x, const Tensor& w, bool depthwise) {
  if (x.rank() != 4 || x.dim(3) != w.dim(2))
    c.fail("input {} does not fit filter {}", shape_str(x.shape()), shape_str(w.shape()));
  return conv_geom(c.node(), x.shape(), w.shape(), depthwise);
}

// Backprop ops take (x, w, dy): x and w give the shapes (and the data the other gradient needs).
void backprop_shape(InferContext& c, int which) {
  c.expect_inputs(3);
  for (int i = 0; i < 3; ++i) c.expect_dtype(i, DType::kFloat32);
  c.set_output(0, DType::kFloat32, c.shape(which));
}

}  // namespace

void register_conv_family(const std::string& op, bool depthwise) {
  register_op({.name = op,
               .shape_fn = [depthwise](InferContext& c) { conv_shape(c, depthwise); },
               .kernel =
                   [depthwise](KernelContext& c) {
                     const Tensor& x = c.input(0);
                     const Tensor& w = c.input(1);
                     auto g = runtime_geom(c, x, w, depthwise);
                     Tensor& y = c.allocate_output(0, {g.N, g.OH, g.OW, g.O});
                     kernels::conv2d_forward(g, x.data<float>(), w.data<float>(), nullptr, y.data<float>());
                   },
               .grad =
                   [op](GradContext& g) {
                     Graph& G = g.graph();
                     AttrMap attrs = g.node()->attrs();
                     Output dx = make(G, op + "BackpropInput", "", {g.x(0), g.x(1), g.dy()}, attrs);
                     Output dw = make(G, op + "BackpropFilter", "", {g.x(0), g.x(1), g.dy()}, attrs);
                     return std::vector<Output>{dx, dw};
                   }});
  register_op({.name = op + "BackpropInput",
               .shape_fn = [](InferContext& c) { backprop_shape(c, 0); },
               .kernel =
                   [depthwise](KernelContext& c) {
                     const Tensor& x = c.input(0);
                     const Tensor& w = c.input(1);
                     const Tensor& dy = c.input(2);
                     auto g = runtime_geom(c, x, w, depthwise);
                     if (dy.shape() != Shape{g.N, g.OH, g.OW, g.O})
                       c.fail("dy {} does not match output shape [{},{},{},{}]", shape_str(dy.shape()), g.N, g.OH,
                              g.OW, g.O);
                     Tensor& dx = c.allocate_output(0, x.shape());
                     kernels::conv2d_backward_data(g, dy.data<float>(), w.data<float>(), dx.data<float>());
                   }});
  register_op({.name = op + "BackpropFilter",
               .shape_fn = [](InferContext& c) { backprop_shape(c, 1); },
               .kernel =
                   [depthwise](KernelContext& c) {
                     const Tensor& x = c.input(0);
                     const Tensor& w = c.input(1);
                     const Tensor& dy = c.input(2);
                     auto g = runtime_geom(c, x, w, depthwise);
                     if (dy.shape() != Shape{g.N, g.OH, g.OW, g.O})
                       c.fail("dy {} does not match output shape [{},{},{},{}]", shape_str(dy.shape()), g.N, g.OH,
                              g.OW, g.O);
                     Tensor& dw = c.allocate_output(0, w.shape());
                     kernels::conv2d_backward_weights(g, x.data<float>(), dy.data<float>(), dw.data<float>(), nullptr);
                   }});
}

void register_conv2d_ops() { register_conv_family("Conv2D", false); }

Output conv2d(Graph& g, Output x, Output w, const ConvOpts& o, const std::string& name) {
  return make(g, "Conv2D", name, {x, w},
              {{"strides", o.strides}, {"padding", o.padding}, {"dilations", o.dilations}});
}

}  // namespace qat::ops
