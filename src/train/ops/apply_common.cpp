#include "train/ops/apply_common.h"

namespace qat::train::detail {

const graph::Node& variable_behind(const graph::Node& n, int i) {
  const graph::Node* p = n.input(i).node;
  while (p && p->op() == "Identity") p = p->input(0).node;
  if (!p || p->op() != "Variable")
    fail<ShapeError>("{}: input {} must be a Variable (got {})", n.describe(), i, p ? p->describe() : "nothing");
  return *p;
}

Tensor& variable_value(graph::KernelContext& ctx, int i) {
  const graph::Node& v = variable_behind(ctx.node(), i);
  Tensor& t = ctx.variables().get(v.name());
  if (t.dtype() != DType::kFloat32)
    fail<ShapeError>("{}: variable '{}' is {}, optimizers update float32 only", ctx.node().describe(), v.name(),
                     dtype_name(t.dtype()));
  return t;
}

void apply_shape_fn(graph::InferContext& c, int first_same, int last_same, int lr_index) {
  const Shape& s = c.shape(0);
  for (int i = first_same; i <= last_same; ++i) {
    c.expect_dtype(i, DType::kFloat32);
    const Shape& si = c.shape(i);
    bool ok = si.size() == s.size();
    for (size_t k = 0; ok && k < s.size(); ++k) ok = si[k] == s[k] || si[k] < 0 || s[k] < 0;
    if (!ok) c.fail("input {} has shape {} but the variable has {}", i, shape_str(si), shape_str(s));
  }
  c.expect_dtype(lr_index, DType::kFloat32);
  c.expect_rank(lr_index, 0);
  c.set_output(0, c.dtype(0), s);
}

void parallel_chunks(graph::KernelContext& ctx, int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
  // Updates are memory bound: only split large variables, so small ones skip the pool hand-off.
  if (n < (1 << 15)) {
    fn(0, n);
    return;
  }
  ctx.pool().parallel_for(n, fn, 1 << 14);
}

float scalar_input(graph::KernelContext& ctx, int i) {
  const Tensor& t = ctx.input(i);
  if (t.size() != 1) ctx.fail("input {} must be a scalar, got {}", i, shape_str(t.shape()));
  return t.data<float>()[0];
}

}  // namespace qat::train::detail
