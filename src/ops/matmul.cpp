// MatMul: y[M,N] = op(a) · op(b), op = optional transpose (attrs transpose_a/transpose_b).
// The gradient is two more MatMuls with the transposes arranged so no explicit transpose of
// any matrix is ever materialised.
#include "ops/common.h"

namespace qat::ops {

void register_matmul_ops() {
  register_op({.name = "MatMul",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(2);
                     c.expect_dtype(0, DType::kFloat32);
                     c.expect_dtype(1, DType::kFloat32);
                     c.expect_rank(0, 2);
                     c.expect_rank(1, 2);
                     bool ta = c.node().attr_bool("transpose_a", false), tb = c.node().attr_bool("transpose_b", false);
                     int64_t m = c.shape(0)[ta ? 1 : 0], ka = c.shape(0)[ta ? 0 : 1];
                     int64_t kb = c.shape(1)[tb ? 1 : 0], n = c.shape(1)[tb ? 0 : 1];
                     if (ka >= 0 && kb >= 0 && ka != kb)
                       c.fail("inner dimensions differ: a {} (transpose_a={}) and b {} (transpose_b={})",
                              shape_str(c.shape(0)), ta, shape_str(c.shape(1)), tb);
                     c.set_output(0, DType::kFloat32, {m, n});
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& a = c.input(0);
                     const Tensor& b = c.input(1);
                     bool ta = c.node().attr_bool("transpose_a", false), tb = c.node().attr_bool("transpose_b", false);
                     int64_t m = a.dim(ta ? 1 : 0), k = a.dim(ta ? 0 : 1);
                     int64_t kb = b.dim(tb ? 1 : 0), n = b.dim(tb ? 0 : 1);
                     if (k != kb) c.fail("inner dimensions differ: {} vs {}", shape_str(a.shape()), shape_str(b.shape()));
                     Tensor& y = c.allocate_output(0, {m, n});
                     if (k == 0) {
                       y.fill(0);
                       return;
                     }
                     kernels::matmul(ta, tb, (int)m, (int)n, (int)k, 1.0f, a.data<float>(), (int)a.dim(1),
                                     b.data<float>(), (int)b.dim(1), 0.0f, y.data<float>(), (int)n);
                   },
               .grad =
                   [](GradContext& g) {
                     Graph& G = g.graph();
                     bool ta = g.node()->attr_bool("transpose_a", false), tb = g.node()->attr_bool("transpose_b", false);
                     Output a = g.x(0), b = g.x(1), dy = g.dy();
                     Output da, db;
                     if (!ta && !tb) {
                       da = matmul(G, dy, b, false, true);
                       db = matmul(G, a, dy, true, false);
                     } else if (ta && !tb) {
                       da = matmul(G, b, dy, false, true);
                       db = matmul(G, a, dy, false, false);
                     } else if (!ta && tb) {
                       da = matmul(G, dy, b, false, false);
                       db = matmul(G, dy, a, true, false);
                     } else {
                       da = matmul(G, b, dy, true, true);
                       db = matmul(G, dy, a, true, true);
                     }
                     return std::vector<Output>{da, db};
                   }});
}

Output matmul(Graph& g, Output a, Output b, bool transpose_a, bool transpose_b, const std::string& name) {
  return make(g, "MatMul", name, {a, b}, {{"transpose_a", transpose_a}, {"transpose_b", transpose_b}});
}

}  // namespace qat::ops
