// Ops the graph layer itself needs: sources (Placeholder, Const, Variable), Identity, NoOp,
// gradient plumbing (AddN, ZerosLike, OnesLike) and variable updates (Assign*, moving averages).
#include <cstring>

#include "graph/parallel.h"
#include "qat/graph.h"

namespace qat::graph {
namespace {

void shape_from_attrs(InferContext& c) {
  c.expect_inputs(0);
  const Node& n = c.node();
  c.set_output(0, n.attr_dtype("dtype"), n.attr_ints("shape"));
}

// The variable an Assign*-style node writes: its input 0 must be a Variable node.
const Node& target_variable(const InferContext& c) {
  const Node* v = input_node(&c.node(), 0, "Variable");
  if (!v) c.fail("input 0 must be a Variable node, got {}", c.node().input(0).str());
  return *v;
}

void assign_shape(InferContext& c) {
  c.expect_inputs(2);
  target_variable(c);
  const TensorInfo& v = c.input(0);
  const TensorInfo& x = c.input(1);
  if (v.dtype != x.dtype) c.fail("value is {}, variable is {}", dtype_name(x.dtype), dtype_name(v.dtype));
  if (v.shape.size() != x.shape.size()) c.fail("value shape {} != variable shape {}", shape_str(x.shape), shape_str(v.shape));
  for (size_t i = 0; i < v.shape.size(); ++i)
    if (v.shape[i] >= 0 && x.shape[i] >= 0 && v.shape[i] != x.shape[i])
      c.fail("value shape {} != variable shape {}", shape_str(x.shape), shape_str(v.shape));
  c.set_output(0, v.dtype, v.shape);
}

Tensor& variable_for_write(KernelContext& c) {
  Tensor& v = c.variables().get(c.node().inputs()[0].node->name());
  const Tensor& x = c.input(1);
  if (v.shape() != x.shape() || v.dtype() != x.dtype())
    c.fail("value {}{} does not match variable {}{}", dtype_name(x.dtype()), shape_str(x.shape()),
           dtype_name(v.dtype()), shape_str(v.shape()));
  return v;
}

template <class T, class Op>
void update_typed(KernelContext& c, Tensor& v, const Tensor& x, Op op) {
  T* pv = v.data<T>();
  const T* px = x.data<T>();
  parallel_range(c.pool(), v.size(), [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) pv[i] = op(pv[i], px[i]);
  });
}

template <class Op>
void update(KernelContext& c, Op op) {
  Tensor& v = variable_for_write(c);
  const Tensor& x = c.input(1);
  switch (v.dtype()) {
    case DType::kFloat32: update_typed<float>(c, v, x, op); break;
    case DType::kInt32: update_typed<int32_t>(c, v, x, op); break;
    case DType::kInt64: update_typed<int64_t>(c, v, x, op); break;
    default: c.fail("unsupported dtype {}", dtype_name(v.dtype()));
  }
  c.set_output(0, v);
}

void same_as_input0(InferContext& c) {
  c.expect_inputs(1);
  c.set_output(0, c.dtype(0), c.shape(0));
}

}  // namespace

void register_core_ops() {
  register_op({.name = "Placeholder",
               .shape_fn = shape_from_attrs,
               .kernel = [](KernelContext& c) { c.fail("placeholder must be fed"); }});
  register_op({.name = "Const",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(0);
                     const Tensor& t = c.node().attr_tensor("value");
                     c.set_output(0, t.dtype(), t.shape());
                   },
               .kernel = [](KernelContext& c) { c.set_output(0, c.node().attr_tensor("value")); }});
  register_op({.name = "Variable",
               .shape_fn =
                   [](InferContext& c) {
                     shape_from_attrs(c);
                     const Node& n = c.node();
                     if (n.has_attr("init")) {
                       const Tensor& t = n.attr_tensor("init");
                       if (t.dtype() != n.attr_dtype("dtype") || t.shape() != n.attr_ints("shape"))
                         c.fail("initial value {}{} does not match the declared {}{}", dtype_name(t.dtype()),
                                shape_str(t.shape()), dtype_name(n.attr_dtype("dtype")),
                                shape_str(n.attr_ints("shape")));
                     }
                   },
               // The output aliases the store's tensor: readers see the current value without a copy.
               .kernel = [](KernelContext& c) { c.set_output(0, c.variables().get(c.node().name())); },
               .stateful = true});
  register_op({.name = "Identity",
               .shape_fn = same_as_input0,
               .kernel = [](KernelContext& c) { c.set_output(0, c.input(0)); },
               .grad = [](GradContext& g) { return std::vector<Output>{g.dy(0)}; }});
  register_op({.name = "NoOp", .shape_fn = [](InferContext& c) { c.expect_inputs(0); }, .kernel = [](KernelContext&) {}});
  register_op({.name = "AddN",
               .shape_fn =
                   [](InferContext& c) {
                     if (c.num_inputs() < 1) c.fail("needs at least one input");
                     // Shapes must agree where known (-1 = known only at run time).
                     Shape s = c.shape(0);
                     for (int i = 1; i < c.num_inputs(); ++i) {
                       bool ok = c.dtype(i) == c.dtype(0) && c.rank(i) == (int)s.size();
                       for (size_t d = 0; ok && d < s.size(); ++d) {
                         int64_t b = c.shape(i)[d];
                         if (s[d] < 0) s[d] = b;
                         else ok = b < 0 || b == s[d];
                       }
                       if (!ok)
                         c.fail("input {} is {}{}, input 0 is {}{}", i, dtype_name(c.dtype(i)), shape_str(c.shape(i)),
                                dtype_name(c.dtype(0)), shape_str(c.shape(0)));
                     }
                     c.set_output(0, c.dtype(0), s);
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& x0 = c.input(0);
                     for (int i = 1; i < c.num_inputs(); ++i)
                       if (c.input(i).shape() != x0.shape()) c.fail("input shapes differ at run time");
                     Tensor& y = c.allocate_output(0, x0.dtype(), x0.shape());
                     if (x0.dtype() != DType::kFloat32) c.fail("AddN supports float32 only");
                     float* py = y.data<float>();
                     int n = c.num_inputs();
                     parallel_range(c.pool(), y.size(), [&](int64_t b, int64_t e) {
                       const float* p0 = c.input(0).data<float>();
                       for (int64_t j = b; j < e; ++j) py[j] = p0[j];
                       for (int i = 1; i < n; ++i) {
                         const float* pi = c.input(i).data<float>();
                         for (int64_t j = b; j < e; ++j) py[j] += pi[j];
                       }
                     });
                   },
               .grad =
                   [](GradContext& g) {
                     return std::vector<Output>(g.node()->num_inputs(), g.dy(0));
                   }});
  for (float value : {0.0f, 1.0f}) {
    register_op({.name = value == 0 ? "ZerosLike" : "OnesLike",
                 .shape_fn = same_as_input0,
                 .kernel =
                     [value](KernelContext& c) {
                       Tensor& y = c.allocate_output(0, DType::kFloat32, c.input(0).shape());
                       y.fill(value);
                     },
                 // Output does not depend on the input's values.
                 .grad = [](GradContext&) { return std::vector<Output>{Output{}}; }});
  }
  register_op({.name = "Assign",
               .shape_fn = assign_shape,
               .kernel = [](KernelContext& c) { update(c, [](auto, auto x) { return x; }); },
               .stateful = true});
  register_op({.name = "AssignAdd",
               .shape_fn = assign_shape,
               .kernel = [](KernelContext& c) { update(c, [](auto v, auto x) { return v + x; }); },
               .stateful = true});
  register_op({.name = "AssignSub",
               .shape_fn = assign_shape,
               .kernel = [](KernelContext& c) { update(c, [](auto v, auto x) { return v - x; }); },
               .stateful = true});
  // v -= (1 - decay) * (v - x)  (tf.train.ExponentialMovingAverage / BN moving statistics).
  register_op({.name = "AssignMovingAverage",
               .shape_fn =
                   [](InferContext& c) {
                     assign_shape(c);
                     c.expect_dtype(1, DType::kFloat32);
                     double d = c.node().attr_float("decay");
                     if (!(d >= 0 && d <= 1)) c.fail("decay {} outside [0, 1]", d);
                   },
               .kernel =
                   [](KernelContext& c) {
                     float k = 1.0f - (float)c.node().attr_float("decay");
                     Tensor& v = variable_for_write(c);
                     update_typed<float>(c, v, c.input(1), [k](float v, float x) { return v - k * (v - x); });
                     c.set_output(0, v);
                   },
               .stateful = true});
}

}  // namespace qat::graph
