// Per-channel batch statistics shared by sync batch norm and BN folding (ops/batch_stats.h).
#include "ops/batch_stats.h"

namespace qat::ops {
namespace {

// Row kernels over the C channels of one row (restrict parameters so that they vectorise).
inline void sums_row(const float* __restrict y, const float* __restrict k, float* __restrict s1,
                     float* __restrict s2, int64_t C) {
  for (int64_t j = 0; j < C; ++j) {
    float d = y[j] - k[j];
    s1[j] += d;
    s2[j] += d * d;
  }
}
inline void sums_grad_row(const float* __restrict dp, const float* __restrict y, const float* __restrict k,
                          const float* __restrict d1, const float* __restrict d2, float* __restrict out, int64_t C) {
  for (int64_t j = 0; j < C; ++j) out[j] = dp[j] + d1[j] + (y[j] - k[j]) * d2[j];
}

}  // namespace

int64_t channels_of(const graph::KernelContext& c, const Tensor& y) {
  if (y.rank() < 1) c.fail("input must have rank >= 1");
  return y.dim(-1);
}

void check_vec(const graph::KernelContext& c, const Tensor& t, int64_t C, const char* what) {
  if (t.size() != C) c.fail("{} has {} values, expected {}", what, t.size(), C);
}

void shifted_sums(graph::KernelContext& c, const float* y, const float* k, int64_t rows, int64_t C, float* stats,
                  ReduceThreads threads) {
  std::vector<double> acc;
  channel_sums2(
      c, rows, C, [&](int64_t r, float* f1, float* f2) { sums_row(y + r * C, k, f1, f2, C); }, acc, threads);
  for (int64_t j = 0; j < 2 * C; ++j) stats[j] = (float)acc[j];
  stats[2 * C] = (float)rows;
}

void shifted_sums_grad(graph::KernelContext& c, const float* dpass, const float* dstats, const float* y,
                       const float* k, int64_t rows, int64_t C, float* out) {
  std::vector<float> d1(dstats, dstats + C), d2(C);
  for (int64_t j = 0; j < C; ++j) d2[j] = 2.f * dstats[C + j];
  graph::parallel_range(
      c.pool(), rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          sums_grad_row(dpass + r * C, y + r * C, k, d1.data(), d2.data(), out + r * C, C);
      },
      grain_rows(C));
}

void shifted_sums_shape(graph::InferContext& c, int num_inputs) {
  c.expect_inputs(num_inputs);
  c.expect_dtype(0, DType::kFloat32);
  if (c.rank(0) < 1) c.fail("input must have rank >= 1");
  int64_t C = c.shape(0).back();
  c.set_output(0, DType::kFloat32, c.shape(0));
  c.set_output(1, DType::kFloat32, {C >= 0 ? 2 * C + 1 : -1});
  c.set_output(2, DType::kFloat32, {C});
}

std::vector<graph::Output> shifted_sums_gradient(graph::GradContext& g, int num_inputs, const char* grad_op,
                                                 const char* zeros_name) {
  std::vector<graph::Output> r((size_t)num_inputs);
  if (!g.dy(1)) {
    r[0] = g.dy(0);
    return r;
  }
  graph::Output dpass = g.dy(0);
  if (!dpass) dpass = g.graph().add_node("ZerosLike", g.graph().unique_name(zeros_name), {g.x(0)})->output(0);
  r[0] = g.graph().add_node(grad_op, g.graph().unique_name(grad_op), {dpass, g.dy(1), g.x(0), g.y(2)})->output(0);
  return r;
}

void shifted_sums_grad_shape(graph::InferContext& c) {
  c.expect_inputs(4);
  c.set_output(0, DType::kFloat32, c.shape(2));
}

void shifted_sums_grad_kernel(graph::KernelContext& c) {
  const Tensor& dp = c.input(0);
  const Tensor& ds = c.input(1);
  const Tensor& x = c.input(2);
  int64_t C = channels_of(c, x), rows = C ? x.size() / C : 0;
  if (dp.shape() != x.shape()) c.fail("gradient shape differs from the input");
  check_vec(c, ds, 2 * C + 1, "stats gradient");
  check_vec(c, c.input(3), C, "shift");
  Tensor& dx = c.allocate_output(0, x.shape());
  shifted_sums_grad(c, dp.data<float>(), ds.data<float>(), x.data<float>(), c.input(3).data<float>(), rows, C,
                    dx.data<float>());
}

void moving_update_shape(graph::InferContext& c, int num_inputs) {
  c.expect_inputs(num_inputs);
  if (!graph::input_node(&c.node(), 0, "Variable") || !graph::input_node(&c.node(), 1, "Variable"))
    c.fail("inputs 0 and 1 must be the moving mean and variance Variables");
  double d = c.node().attr_float("decay");
  if (!(d >= 0 && d <= 1)) c.fail("decay {} outside [0, 1]", d);
  c.set_output(0, DType::kFloat32, c.shape(0));
}

BatchStats decode_batch_stats(const graph::KernelContext& c, const Tensor& stats, const Tensor& shift, int64_t C) {
  if (stats.size() != 2 * C + 1) c.fail("stats have {} values, expected {}", stats.size(), 2 * C + 1);
  check_vec(c, shift, C, "shift");
  const float* p = stats.data<float>();
  const float* k = shift.data<float>();
  BatchStats s;
  s.n = p[2 * C];
  if (!(s.n >= 1)) c.fail("batch statistics over {} values", s.n);
  s.mean.resize(C), s.var.resize(C);
  for (int64_t j = 0; j < C; ++j) {
    double m1 = p[j] / s.n;
    s.mean[j] = k[j] + m1;
    s.var[j] = std::max(0.0, p[C + j] / s.n - m1 * m1);
  }
  return s;
}

}  // namespace qat::ops
