// FusedBatchNorm (TF semantics) over the last axis of x (NHWC: per channel over N*H*W rows).
//   inputs:  x, gamma[C], beta[C], mean[C], var[C]      attrs: epsilon, is_training
//   outputs: y, batch_mean[C], batch_var[C] (unbiased: what the moving average tracks, as in TF),
//            saved_var[C] (biased: what normalised y, kept for the gradient)
// Training normalises with the batch statistics (the mean/var inputs are ignored); inference
// uses the mean/var inputs and passes them through as outputs 1..3.
// FusedBatchNormGrad(dy, x, gamma, mean, saved_var) -> dx, dgamma, dbeta uses the training
// formula (batch statistics depend on x) or, with is_training=false, the affine one.
#include <cmath>

#include "ops/common.h"

namespace qat::ops {
namespace {

int64_t channels_of(InferContext& c) {
  if (c.rank(0) < 1) c.fail("input must have rank >= 1");
  return c.shape(0).back();
}

void check_vec(InferContext& c, int i, int64_t C, const char* what) {
  c.expect_dtype(i, DType::kFloat32);
  c.expect_rank(i, 1);
  if (C >= 0 && c.shape(i)[0] >= 0 && c.shape(i)[0] != C)
    c.fail("{} has {} values but the input {} has {} channels", what, c.shape(i)[0], shape_str(c.shape(0)), C);
}

void bn_kernel(KernelContext& c) {
  const Tensor& x = c.input(0);
  int C = (int)x.dim(-1);
  int64_t rows = C ? x.size() / C : 0;
  for (int i = 1; i < 5; ++i)
    if (c.input(i).size() != C) c.fail("input {} has {} values, expected {}", i, c.input(i).size(), C);
  float eps = (float)c.node().attr_float("epsilon", 1e-3);
  bool training = c.node().attr_bool("is_training", true);
  const float* gamma = c.input(1).data<float>();
  const float* beta = c.input(2).data<float>();
  Tensor& y = c.allocate_output(0, x.shape());
  if (training) {
    if (rows < 1) c.fail("training-mode batch norm needs at least one row, input is {}", shape_str(x.shape()));
    Tensor& bm = c.allocate_output(1, {C});
    Tensor& bv = c.allocate_output(2, {C});
    Tensor& sv = c.allocate_output(3, {C});
    kernels::batch_norm_forward_training(rows, C, x.data<float>(), gamma, beta, eps, y.data<float>(), bm.data<float>(),
                                         sv.data<float>());
    // Bessel's correction for the moving variance, as TF does (n/(n-1); n = 1 keeps it).
    float corr = rows > 1 ? (float)rows / (float)(rows - 1) : 1.0f;
    for (int j = 0; j < C; ++j) bv.data<float>()[j] = sv.data<float>()[j] * corr;
  } else {
    const float* mean = c.input(3).data<float>();
    const float* var = c.input(4).data<float>();
    std::vector<float> scale(C), shift(C);
    for (int j = 0; j < C; ++j) {
      scale[j] = gamma[j] / std::sqrt(var[j] + eps);
      shift[j] = beta[j] - mean[j] * scale[j];
    }
    const float* px = x.data<float>();
    float* py = y.data<float>();
    parallel_range(
        c.pool(), rows,
        [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r)
            for (int j = 0; j < C; ++j) py[r * C + j] = px[r * C + j] * scale[j] + shift[j];
        },
        std::max<int64_t>(1, graph::kParallelGrain / std::max(C, 1)));
    c.set_output(1, c.input(3));
    c.set_output(2, c.input(4));
    c.set_output(3, c.input(4));
  }
}

void bn_grad_kernel(KernelContext& c) {
  const Tensor& dy = c.input(0);
  const Tensor& x = c.input(1);
  int C = (int)x.dim(-1);
  int64_t rows = C ? x.size() / C : 0;
  if (dy.shape() != x.shape()) c.fail("dy {} does not match x {}", shape_str(dy.shape()), shape_str(x.shape()));
  float eps = (float)c.node().attr_float("epsilon", 1e-3);
  bool training = c.node().attr_bool("is_training", true);
  const float* gamma = c.input(2).data<float>();
  const float* mean = c.input(3).data<float>();
  const float* var = c.input(4).data<float>();
  Tensor& dx = c.allocate_output(0, x.shape());
  Tensor& dgamma = c.allocate_output(1, {C});
  Tensor& dbeta = c.allocate_output(2, {C});
  if (training) {
    kernels::batch_norm_backward(rows, C, x.data<float>(), dy.data<float>(), gamma, mean, var, eps, dx.data<float>(),
                                 dgamma.data<float>(), dbeta.data<float>());
    return;
  }
  // Inference mode: y = (x - mean) * rstd * gamma + beta with constant statistics.
  std::vector<double> sg(C, 0.0), sb(C, 0.0);
  std::vector<float> rstd(C);
  for (int j = 0; j < C; ++j) rstd[j] = 1.0f / std::sqrt(var[j] + eps);
  const float* px = x.data<float>();
  const float* pdy = dy.data<float>();
  float* pdx = dx.data<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int j = 0; j < C; ++j) {
      float g = pdy[r * C + j];
      pdx[r * C + j] = g * gamma[j] * rstd[j];
      sg[j] += (double)g * (px[r * C + j] - mean[j]) * rstd[j];
      sb[j] += g;
    }
  for (int j = 0; j < C; ++j) {
    dgamma.data<float>()[j] = (float)sg[j];
    dbeta.data<float>()[j] = (float)sb[j];
  }
}

}  // namespace

void register_batch_norm_ops() {
  register_op({.name = "FusedBatchNorm",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(5);
                     c.expect_dtype(0, DType::kFloat32);
                     int64_t C = channels_of(c);
                     const char* names[] = {"", "gamma", "beta", "mean", "variance"};
                     for (int i = 1; i < 5; ++i) check_vec(c, i, C, names[i]);
                     double eps = c.node().attr_float("epsilon", 1e-3);
                     if (!(eps > 0)) c.fail("epsilon must be > 0, got {}", eps);
                     c.node().attr_bool("is_training", true);
                     c.set_output(0, DType::kFloat32, c.shape(0));
                     for (int i = 1; i < 4; ++i) c.set_output(i, DType::kFloat32, {C});
                   },
               .kernel = bn_kernel,
               .grad =
                   [](GradContext& g) {
                     Node* n = g.node();
                     bool training = n->attr_bool("is_training", true);
                     // Training: the statistics that normalised y are outputs 1 and 3.
                     Output mean = training ? g.y(1) : g.x(3);
                     Output var = training ? g.y(3) : g.x(4);
                     Node* gn = make_node(g.graph(), "FusedBatchNormGrad", "", {g.dy(0), g.x(0), g.x(1), mean, var},
                                          {{"epsilon", n->attr_float("epsilon", 1e-3)}, {"is_training", training}});
                     // No gradient to the moving statistics (they are updated by assignment).
                     return std::vector<Output>{gn->output(0), gn->output(1), gn->output(2), Output{}, Output{}};
                   }});
  register_op({.name = "FusedBatchNormGrad",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(5);
                     c.expect_dtype(0, DType::kFloat32);
                     c.expect_dtype(1, DType::kFloat32);
                     if (c.rank(1) < 1) c.fail("x must have rank >= 1");
                     int64_t C = c.shape(1).back();
                     c.set_output(0, DType::kFloat32, c.shape(1));
                     c.set_output(1, DType::kFloat32, {C});
                     c.set_output(2, DType::kFloat32, {C});
                   },
               .kernel = bn_grad_kernel});
}

BatchNormResult batch_norm(Graph& g, Output x, Output gamma, Output beta, Output moving_mean, Output moving_var,
                           bool training, double decay, double epsilon, const std::string& name) {
  // Names as tf.layers: "<scope>/FusedBatchNorm", "<scope>/AssignMovingAvg", "..._1"; unique_name
  // already prefixes the current scope, so the nodes are added with full names.
  std::string scope = g.unique_name(name.empty() ? "BatchNorm" : name);
  BatchNormResult r;
  r.bn = g.add_node("FusedBatchNorm", scope + "/FusedBatchNorm", {x, gamma, beta, moving_mean, moving_var},
                    {{"epsilon", epsilon}, {"is_training", training}});
  r.y = r.bn->output(0);
  if (training) {
    r.update_mean = g.add_node("AssignMovingAverage", scope + "/AssignMovingAvg", {moving_mean, r.bn->output(1)},
                               {{"decay", decay}});
    r.update_var = g.add_node("AssignMovingAverage", scope + "/AssignMovingAvg_1", {moving_var, r.bn->output(2)},
                              {{"decay", decay}});
    g.add_to_collection(graph::kUpdateOps, r.update_mean);
    g.add_to_collection(graph::kUpdateOps, r.update_var);
  }
  return r;
}

}  // namespace qat::ops
