// BiasAdd: y = x + b over the last (channel) axis; BiasAddGrad sums dy over all other axes.
#include "ops/common.h"

namespace qat::ops {

void register_bias_add_ops() {
  register_op({.name = "BiasAdd",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(2);
                     c.expect_dtype(0, DType::kFloat32);
                     c.expect_dtype(1, DType::kFloat32);
                     c.expect_rank(1, 1);
                     if (c.rank(0) < 1) c.fail("input must have rank >= 1");
                     int64_t ch = c.shape(0).back(), nb = c.shape(1)[0];
                     if (ch >= 0 && nb >= 0 && ch != nb)
                       c.fail("bias has {} values but the input {} has {} channels", nb, shape_str(c.shape(0)), ch);
                     c.set_output(0, DType::kFloat32, c.shape(0));
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& x = c.input(0);
                     const Tensor& b = c.input(1);
                     int64_t C = x.dim(-1);
                     if (b.size() != C) c.fail("bias has {} values, input has {} channels", b.size(), C);
                     Tensor& y = c.allocate_output(0, x.shape());
                     const float* px = x.data<float>();
                     const float* pb = b.data<float>();
                     float* py = y.data<float>();
                     int64_t rows = C ? x.size() / C : 0;
                     parallel_range(
                         c.pool(), rows,
                         [&](int64_t r0, int64_t r1) {
                           for (int64_t r = r0; r < r1; ++r)
                             for (int64_t j = 0; j < C; ++j) py[r * C + j] = px[r * C + j] + pb[j];
                         },
                         std::max<int64_t>(1, graph::kParallelGrain / std::max<int64_t>(C, 1)));
                   },
               .grad =
                   [](GradContext& g) {
                     Output db = make(g.graph(), "BiasAddGrad", "", {g.dy()});
                     return std::vector<Output>{g.dy(), db};
                   }});
  register_op({.name = "BiasAddGrad",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(1);
                     c.expect_dtype(0, DType::kFloat32);
                     if (c.rank(0) < 1) c.fail("input must have rank >= 1");
                     c.set_output(0, DType::kFloat32, {c.shape(0).back()});
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& dy = c.input(0);
                     int64_t C = dy.dim(-1);
                     int64_t rows = C ? dy.size() / C : 0;
                     Tensor& db = c.allocate_output(0, {C});
                     const float* p = dy.data<float>();
                     // Per-thread partial sums (in double: rows can be N*H*W = 100k+) then a reduction.
                     int T = std::min<int64_t>(c.pool().size(), std::max<int64_t>(1, rows * C / graph::kParallelGrain));
                     std::vector<double> part((size_t)T * C, 0.0);
                     c.pool().run_tasks(T, [&](int t) {
                       int64_t r0 = rows * t / T, r1 = rows * (t + 1) / T;
                       double* acc = part.data() + (size_t)t * C;
                       for (int64_t r = r0; r < r1; ++r)
                         for (int64_t j = 0; j < C; ++j) acc[j] += p[r * C + j];
                     });
                     float* out = db.data<float>();
                     for (int64_t j = 0; j < C; ++j) {
                       double s = 0;
                       for (int t = 0; t < T; ++t) s += part[(size_t)t * C + j];
                       out[j] = (float)s;
                     }
                   }});
}

Output bias_add(Graph& g, Output x, Output b, const std::string& name) { return make(g, "BiasAdd", name, {x, b}); }

}  // namespace qat::ops
