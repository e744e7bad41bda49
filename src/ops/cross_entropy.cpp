// Softmax cross-entropy on logits[N,K] (TF semantics), two outputs: loss[N] and backprop[N,K] =
// softmax(logits) * sum(labels) - labels (softmax - labels for one-hot rows), which the gradient reuses: d logits = dloss[:, None] * backprop
// (op CrossEntropyGrad). Labels get no gradient (they are data).
//   SoftmaxCrossEntropyWithLogits(logits, labels[N,K] float)
//   SparseSoftmaxCrossEntropyWithLogits(logits, labels[N] int32 class ids)
#include <cmath>

#include "ops/common.h"

namespace qat::ops {
namespace {

void xent_shape(InferContext& c, bool sparse) {
  c.expect_inputs(2);
  c.expect_dtype(0, DType::kFloat32);
  c.expect_rank(0, 2);
  int64_t N = c.shape(0)[0], K = c.shape(0)[1];
  if (sparse) {
    c.expect_dtype(1, DType::kInt32);
    c.expect_rank(1, 1);
    int64_t n = c.shape(1)[0];
    if (N >= 0 && n >= 0 && N != n) c.fail("{} labels for {} rows of logits", n, N);
    if (N < 0) N = n;
  } else {
    c.expect_dtype(1, DType::kFloat32);
    c.expect_rank(1, 2);
    for (int d = 0; d < 2; ++d) {
      int64_t a = c.shape(0)[d], b = c.shape(1)[d];
      if (a >= 0 && b >= 0 && a != b) c.fail("labels {} do not match logits {}", shape_str(c.shape(1)), shape_str(c.shape(0)));
    }
  }
  c.set_output(0, DType::kFloat32, {N});
  c.set_output(1, DType::kFloat32, {N, K});
}

void xent_kernel(KernelContext& c, bool sparse) {
  const Tensor& x = c.input(0);
  const Tensor& lab = c.input(1);
  if (x.rank() != 2) c.fail("logits must be [N,K], got {}", shape_str(x.shape()));
  int64_t N = x.dim(0), K = x.dim(1);
  if (sparse ? lab.shape() != Shape{N} : lab.shape() != x.shape())
    c.fail("labels {} do not match logits {}", shape_str(lab.shape()), shape_str(x.shape()));
  Tensor& loss = c.allocate_output(0, {N});
  Tensor& bp = c.allocate_output(1, {N, K});
  const float* px = x.data<float>();
  float* pl = loss.data<float>();
  float* pb = bp.data<float>();
  for (int64_t r = 0; r < N; ++r) {
    const float* a = px + r * K;
    float* b = pb + r * K;
    float m = a[0];
    for (int64_t j = 1; j < K; ++j) m = std::max(m, a[j]);
    double s = 0;
    for (int64_t j = 0; j < K; ++j) s += std::exp((double)a[j] - m);
    double lse = std::log(s) + m;  // log-sum-exp
    double l = 0;
    if (sparse) {
      int32_t t = lab.data<int32_t>()[r];
      if (t < 0 || t >= K) c.fail("label {} of row {} outside [0, {})", t, r, K);
      l = lse - a[t];
      for (int64_t j = 0; j < K; ++j) b[j] = (float)std::exp(a[j] - lse) - (j == t ? 1.0f : 0.0f);
    } else {
      // d/da_j of sum_k y_k (lse - a_k) = softmax_j * sum(y) - y_j (= softmax - y for one-hot).
      const float* y = lab.data<float>() + r * K;
      double ysum = 0;
      for (int64_t j = 0; j < K; ++j) {
        l += y[j] * (lse - a[j]);
        ysum += y[j];
      }
      for (int64_t j = 0; j < K; ++j) b[j] = (float)(std::exp(a[j] - lse) * ysum - y[j]);
    }
    pl[r] = (float)l;
  }
}

std::vector<Output> xent_grad(GradContext& g) {
  Output dl = make(g.graph(), "CrossEntropyGrad", "", {g.dy(0), g.y(1)});
  return {dl, Output{}};
}

}  // namespace

void register_cross_entropy_ops() {
  register_op({.name = "SoftmaxCrossEntropyWithLogits",
               .shape_fn = [](InferContext& c) { xent_shape(c, false); },
               .kernel = [](KernelContext& c) { xent_kernel(c, false); },
               .grad = xent_grad});
  register_op({.name = "SparseSoftmaxCrossEntropyWithLogits",
               .shape_fn = [](InferContext& c) { xent_shape(c, true); },
               .kernel = [](KernelContext& c) { xent_kernel(c, true); },
               .grad = xent_grad});
  register_op({.name = "CrossEntropyGrad",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(2);
                     c.set_output(0, DType::kFloat32, c.shape(1));
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& dl = c.input(0);
                     const Tensor& bp = c.input(1);
                     int64_t N = bp.dim(0), K = bp.dim(1);
                     if (dl.shape() != Shape{N}) c.fail("dloss {} does not match [{}]", shape_str(dl.shape()), N);
                     Tensor& dx = c.allocate_output(0, bp.shape());
                     for (int64_t r = 0; r < N; ++r)
                       for (int64_t j = 0; j < K; ++j)
                         dx.data<float>()[r * K + j] = dl.data<float>()[r] * bp.data<float>()[r * K + j];
                   }});
}

Output softmax_cross_entropy(Graph& g, Output logits, Output labels, const std::string& name) {
  DType lt = labels.node->output_info(labels.index).dtype;
  return make(g, lt == DType::kInt32 ? "SparseSoftmaxCrossEntropyWithLogits" : "SoftmaxCrossEntropyWithLogits", name,
              {logits, labels});
}

}  // namespace qat::ops
