// Graph ops of MPI data parallelism (include/qat/distributed.h, docs/distributed.md).
//
//   MpiAllreduceGrads(g...) -> g...          [weight]      sum over ranks of weight * g (one call)
//   MpiAllreduceSum(x...) -> x...            [pre_scale, post_scale, grad_weight]
//       post_scale * sum over ranks of pre_scale * x, all inputs in one fused call. Gradient: the
//       same op on the incoming gradients with pre_scale = w, post_scale = 1/w (w = grad_weight,
//       this rank's share n_r/B of the global batch), see sync_batch_statistics().
//   MpiAllreduceRange(min_0, max_0, ...) -> min, max   min of every min over pairs and ranks,
//       max of every max (one MPI_MAX call on [-min, max]); no gradient (ranges have none).
//   Float sync batch norm (what a training FusedBatchNorm becomes under mpirun):
//   SyncBnSums(x, moving_mean) -> x (pass-through), stats[2C+1], shift[C]
//       stats = [sum (x - K), sum (x - K)^2, n] per channel (K = moving mean: no cancellation);
//       additive, so towers add them (AddN) and ranks allreduce them. Grad: SyncBnSumsGrad.
//   SyncBnApply(x, stats, shift, gamma, beta) -> gamma (x - mean) / sqrt(var + eps) + beta
//       [epsilon]; mean/var (biased) decoded from stats. Grad: SyncBnApplyGrad -> dx, dstats,
//       dgamma, dbeta: the exact gradient through the (global) statistics.
//   SyncBnMovingUpdate(moving_mean, moving_var, stats, shift) -> moving_mean  [decay] (stateful)
//       v -= (1 - decay) (v - batch) with the unbiased variance, as AssignMovingAverage does
//       after FusedBatchNorm.
// On one process every collective is the identity (times pre_scale * post_scale), so graphs
// with these ops run, and are tested, without mpirun (tests/train/mpi_sync_bn_test.cpp).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "graph/parallel.h"
#include "ops/batch_stats.h"
#include "qat/distributed.h"

namespace qat::distributed {
namespace {

using graph::GradContext;
using graph::InferContext;
using graph::KernelContext;
using graph::Output;

void same_shapes(InferContext& c) {
  for (int i = 0; i < c.num_inputs(); ++i) {
    c.expect_dtype(i, DType::kFloat32);
    c.set_output(i, DType::kFloat32, c.shape(i));
  }
}

// Packs every input (times `pre`) into one buffer, runs `reduce` on it once, unpacks (times
// `post`) into the outputs: one MPI call for all inputs.
template <class Reduce>
void fused(KernelContext& c, float pre, float post, Reduce&& reduce) {
  int64_t total = 0;
  for (int i = 0; i < c.num_inputs(); ++i) total += c.input(i).size();
  std::vector<float> buf((size_t)total);
  int64_t at = 0;
  for (int i = 0; i < c.num_inputs(); ++i) {
    const float* p = c.input(i).data<float>();
    for (int64_t j = 0, n = c.input(i).size(); j < n; ++j) buf[(size_t)(at + j)] = p[j] * pre;
    at += c.input(i).size();
  }
  reduce(buf.data(), total);
  at = 0;
  for (int i = 0; i < c.num_inputs(); ++i) {
    Tensor& o = c.allocate_output(i, DType::kFloat32, c.input(i).shape());
    float* q = o.data<float>();
    for (int64_t j = 0, n = o.size(); j < n; ++j) q[j] = buf[(size_t)(at + j)] * post;
    at += o.size();
  }
}

void register_allreduce_ops() {
  graph::register_op({.name = "MpiAllreduceGrads",
                      .shape_fn = same_shapes,
                      .kernel =
                          [](KernelContext& c) {
                            // One fused buffer, one MPI call per step (not one per tensor).
                            fused(c, (float)c.node().attr_float("weight"), 1.f,
                                  [](float* p, int64_t n) { allreduce_sum(p, n); });
                          },
                      .stateful = true});  // never constant-folded or deduplicated: it communicates
  graph::register_op(
      {.name = "MpiAllreduceSum",
       .shape_fn = same_shapes,
       .kernel =
           [](KernelContext& c) {
             fused(c, (float)c.node().attr_float("pre_scale", 1.0), (float)c.node().attr_float("post_scale", 1.0),
                   [](float* p, int64_t n) { allreduce_sum(p, n); });
           },
       .grad =
           [](GradContext& g) {
             // out = sum_r x_r feeds every rank's loss L_r; the trainer applies sum_r w_r dL_r
             // (w_r = n_r/B, MpiAllreduceGrads), so rank r's x must receive
             // (1/w_r) sum_r' w_r' dL_r'/dout: an allreduce of w-weighted gradients.
             std::vector<Output> dys;
             std::vector<int> idx;
             for (int i = 0; i < g.node()->num_outputs(); ++i)
               if (g.dy(i)) dys.push_back(g.dy(i)), idx.push_back(i);
             std::vector<Output> r((size_t)g.node()->num_inputs());
             if (dys.empty()) return r;
             double w = g.node()->attr_float("grad_weight", 1.0);
             graph::Node* n = g.graph().add_node(
                 "MpiAllreduceSum", g.graph().unique_name(g.node()->name() + "_grad"), dys,
                 {{"pre_scale", w}, {"post_scale", 1.0 / w}, {"grad_weight", 1.0 / w}});
             for (size_t k = 0; k < idx.size(); ++k) r[(size_t)idx[k]] = n->output((int)k);
             return r;
           },
       .stateful = true});
  graph::register_op(
      {.name = "MpiAllreduceRange",
       .shape_fn =
           [](InferContext& c) {
             int n = c.num_inputs();
             if (n < 2 || n % 2 != 0) c.fail("expects (min, max) pairs, got {} inputs", n);
             for (int i = 0; i < n; ++i) {
               c.expect_dtype(i, DType::kFloat32);
               if (c.shape(i) != c.shape(0)) c.fail("input {} differs in shape from input 0", i);
             }
             c.set_output(0, DType::kFloat32, c.shape(0));
             c.set_output(1, DType::kFloat32, c.shape(0));
           },
       .kernel =
           [](KernelContext& c) {
             int64_t n = c.input(0).size();
             std::vector<float> buf((size_t)(2 * n));  // [-min..., max...]: one MPI_MAX
             for (int64_t j = 0; j < n; ++j) {
               float lo = c.input(0).data<float>()[j], hi = c.input(1).data<float>()[j];
               for (int i = 2; i < c.num_inputs(); i += 2) {
                 if (c.input(i).size() != n || c.input(i + 1).size() != n) c.fail("ranges differ in size");
                 lo = std::min(lo, c.input(i).data<float>()[j]);
                 hi = std::max(hi, c.input(i + 1).data<float>()[j]);
               }
               buf[(size_t)j] = -lo;
               buf[(size_t)(n + j)] = hi;
             }
             allreduce_max(buf.data(), 2 * n);
             Tensor& mn = c.allocate_output(0, c.input(0).shape());
             Tensor& mx = c.allocate_output(1, c.input(0).shape());
             for (int64_t j = 0; j < n; ++j) {
               mn.data<float>()[j] = -buf[(size_t)j];
               mx.data<float>()[j] = buf[(size_t)(n + j)];
             }
           },
       .grad = [](GradContext& g) { return std::vector<Output>((size_t)g.node()->num_inputs()); },
       .stateful = true});
}

// ---- float sync batch norm ----------------------------------------------------------------------

using ops::channels_of;
using ops::check_vec;
using ops::grain_rows;
using ops::ReduceThreads;
using Stats = ops::BatchStats;

// out = a x + b per channel, a = gamma r, b = beta - a mean, r = 1 / sqrt(var + eps); inputs
// from `base`: x, stats, shift, gamma, beta.
struct Affine {
  Stats st;
  std::vector<double> r;
  std::vector<float> a, b;
};
Affine affine(const KernelContext& c, int base, int64_t C, double eps) {
  Affine p;
  p.st = ops::decode_batch_stats(c, c.input(base + 1), c.input(base + 2), C);
  check_vec(c, c.input(base + 3), C, "gamma");
  check_vec(c, c.input(base + 4), C, "beta");
  const float* g = c.input(base + 3).data<float>();
  const float* be = c.input(base + 4).data<float>();
  p.r.resize(C), p.a.resize(C), p.b.resize(C);
  for (int64_t j = 0; j < C; ++j) {
    double r = 1.0 / std::sqrt(p.st.var[j] + eps), a = g[j] * r;
    p.r[j] = r;
    p.a[j] = (float)a;
    p.b[j] = (float)(be[j] - a * p.st.mean[j]);
  }
  return p;
}

// Activation applied after the batch norm by the fused kernels: 0 none, 1 Relu, 2 Relu6 (the
// exact expressions of the Relu / Relu6 ops, and their gradients' masks on the output y).
template <int A>
inline float act(float v) {
  if constexpr (A == 1) return v > 0 ? v : 0.0f;
  if constexpr (A == 2) return std::min(std::max(v, 0.0f), 6.0f);
  return v;
}
template <int A>
inline float act_grad(float g, float y) {
  if constexpr (A == 1) return y > 0 ? g : 0.0f;
  if constexpr (A == 2) return y > 0 && y < 6 ? g : 0.0f;
  return g;
}

// SyncBnApply (inputs x, stats, shift, gamma, beta from 0) into output `out`: act(a x + b).
template <int A>
void apply_forward(KernelContext& c, int out, const graph::Node& bn) {
  const Tensor& x = c.input(0);
  int64_t C = channels_of(c, x), rows = C ? x.size() / C : 0;
  Affine p = affine(c, 0, C, bn.attr_float("epsilon"));
  Tensor& y = c.allocate_output(out, x.shape());
  const float* px = x.data<float>();
  float* py = y.data<float>();
  const float *a = p.a.data(), *b = p.b.data();
  graph::parallel_range(
      c.pool(), rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r)
          for (int64_t j = 0; j < C; ++j) py[r * C + j] = act<A>(a[j] * px[r * C + j] + b[j]);
      },
      grain_rows(C));
}

// SyncBnApplyGrad: dout = input 0 (masked by the activation's output, input 1, when A != 0),
// the forward's x, stats, shift, gamma, beta from input `base`; outputs dx (direct part), dstats,
// dgamma, dbeta from output `out`.
template <int A>
void apply_backward(KernelContext& c, int base, int out, const graph::Node& bn_grad) {
  const Tensor& dout = c.input(0);
  const Tensor& x = c.input(base);
  if (dout.shape() != x.shape()) c.fail("gradient shape differs from the input");
  const float* pm = nullptr;  // the activation's output (its gradient's mask)
  if constexpr (A != 0) {
    if (c.input(1).shape() != x.shape()) c.fail("activation output shape differs from the input");
    pm = c.input(1).data<float>();
  }
  int64_t C = channels_of(c, x), rows = C ? x.size() / C : 0;
  Affine p = affine(c, base, C, bn_grad.attr_float("epsilon"));
  Tensor& dx = c.allocate_output(out, x.shape());
  Tensor& dstats = c.allocate_output(out + 1, {2 * C + 1});
  Tensor& dgamma = c.allocate_output(out + 2, {C});
  Tensor& dbeta = c.allocate_output(out + 3, {C});
  const float *pg = dout.data<float>(), *px = x.data<float>();
  float* pdx = dx.data<float>();
  const float* a = p.a.data();
  std::vector<float> mu(C);
  for (int64_t j = 0; j < C; ++j) mu[j] = (float)p.st.mean[j];
  // One pass: dx = a dout; per channel G1 = sum dout, G2 = sum dout (x - mean).
  std::vector<double> acc;
  ops::channel_sums2(
      c, rows, C,
      [&](int64_t r, float* f1, float* f2) {
        for (int64_t j = 0; j < C; ++j) {
          int64_t i = r * C + j;
          float gi = pg[i];
          if constexpr (A != 0) gi = act_grad<A>(gi, pm[i]);
          pdx[i] = a[j] * gi;
          f1[j] += gi;
          f2[j] += gi * (px[i] - mu[j]);
        }
      },
      acc, ReduceThreads::kPool);
  const float* gamma = c.input(base + 3).data<float>();
  const float* k = c.input(base + 2).data<float>();
  float* pst = dstats.data<float>();
  pst[2 * C] = 0.f;
  for (int64_t j = 0; j < C; ++j) {
    double G1 = acc[j], G2 = acc[C + j], r = p.r[j], n = p.st.n;
    dbeta.data<float>()[j] = (float)G1;
    dgamma.data<float>()[j] = (float)(r * G2);
    double dvar = -0.5 * gamma[j] * r * r * r * G2;  // dL/dvar
    double dmean = -(double)a[j] * G1;             // dL/dmean through b
    double m1 = p.st.mean[j] - k[j];                // S1 / n
    pst[j] = (float)((dmean - 2.0 * m1 * dvar) / n);
    pst[C + j] = (float)(dvar / n);
  }
}


void register_sync_bn_ops() {
  graph::register_op(
      {.name = "SyncBnSums",
       .shape_fn =
           [](InferContext& c) { ops::shifted_sums_shape(c, 2); },
       .kernel =
           [](KernelContext& c) {
             const Tensor& x = c.input(0);
             int64_t C = channels_of(c, x), rows = C ? x.size() / C : 0;
             check_vec(c, c.input(1), C, "moving mean");
             c.set_output(0, x);
             Tensor& st = c.allocate_output(1, {2 * C + 1});
             // A copy: the moving mean is updated in place before the backward pass reads K.
             Tensor& sh = c.allocate_output(2, {C});
             float* k = sh.data<float>();
             std::memcpy(k, c.input(1).data<float>(), (size_t)C * sizeof(float));
             ops::shifted_sums(c, x.data<float>(), k, rows, C, st.data<float>(), ReduceThreads::kPool);
           },
       .grad = [](GradContext& g) {
         return ops::shifted_sums_gradient(g, 2, "SyncBnSumsGrad", "SyncBnSumsZeros");
       }});
  // SyncBnSumsGrad(dpass, dstats, x, shift) -> dx = dpass + dS1 + 2 (x - K) dS2, one pass.
  graph::register_op({.name = "SyncBnSumsGrad", .shape_fn = ops::shifted_sums_grad_shape,
                      .kernel = ops::shifted_sums_grad_kernel});
  graph::register_op(
      {.name = "SyncBnApply",
       .shape_fn =
           [](InferContext& c) {
             c.expect_inputs(5);
             c.expect_dtype(0, DType::kFloat32);
             double eps = c.node().attr_float("epsilon");
             if (!(eps > 0)) c.fail("epsilon must be > 0, got {}", eps);
             c.set_output(0, DType::kFloat32, c.shape(0));
           },
       .kernel = [](KernelContext& c) { apply_forward<0>(c, 0, c.node()); },
       .grad =
           [](GradContext& g) {
             std::vector<Output> in{g.dy(0)};
             for (const Output& o : g.node()->inputs()) in.push_back(o);
             graph::Node* gn = g.graph().add_node("SyncBnApplyGrad", g.graph().unique_name("SyncBnApplyGrad"), in,
                                                  {{"epsilon", g.node()->attr_float("epsilon")}});
             return std::vector<Output>{gn->output(0), gn->output(1), Output{}, gn->output(2), gn->output(3)};
           }});
  // SyncBnApplyGrad(dout, x, stats, shift, gamma, beta) -> dx (direct part), dstats, dgamma, dbeta.
  graph::register_op(
      {.name = "SyncBnApplyGrad",
       .shape_fn =
           [](InferContext& c) {
             c.expect_inputs(6);
             c.set_output(0, DType::kFloat32, c.shape(1));
             c.set_output(1, DType::kFloat32, c.shape(2));
             c.set_output(2, DType::kFloat32, c.shape(4));
             c.set_output(3, DType::kFloat32, c.shape(5));
           },
       .kernel = [](KernelContext& c) { apply_backward<0>(c, 1, 0, c.node()); }});
  graph::register_op(
      {.name = "SyncBnMovingUpdate",
       .shape_fn =
           [](InferContext& c) { ops::moving_update_shape(c, 4); },
       .kernel =
           [](KernelContext& c) {
             Tensor& mm = c.variables().get(c.node().input(0).node->name());
             Tensor& mv = c.variables().get(c.node().input(1).node->name());
             int64_t C = mm.size();
             check_vec(c, mv, C, "moving variance");
             Stats st = ops::decode_batch_stats(c, c.input(2), c.input(3), C);
             // As AssignMovingAverage after FusedBatchNorm: v -= (1 - decay) (v - batch) in
             // float, the variance with Bessel's correction over the whole (global) batch.
             const float k = 1.0f - (float)c.node().attr_float("decay");
             float corr = st.n > 1 ? (float)st.n / (float)(st.n - 1) : 1.0f;
             float* pm = mm.data<float>();
             float* pv = mv.data<float>();
             for (int64_t j = 0; j < C; ++j) {
               float bm = (float)st.mean[j], bv = (float)st.var[j] * corr;
               pm[j] = pm[j] - k * (pm[j] - bm);
               pv[j] = pv[j] - k * (pv[j] - bv);
             }
             c.set_output(0, mm);
           },
       .stateful = true});
  // Executor fusions, as FusedBatchNorm's (src/ops/fusions.cpp): SyncBnApply -> Relu / Relu6 in
  // one pass (inputs: SyncBnApply's 5, then the activation's fused edge; outputs: [out (not
  // produced), act(out)]), and ReluGrad / Relu6Grad -> SyncBnApplyGrad with the mask applied
  // inside (inputs: dy, y, then the fused edge, x, stats, shift, gamma, beta; outputs: [masked
  // dy (not produced), dx, dstats, dgamma, dbeta]).
  graph::register_fusion({.name = "SyncBnApply+Relu", .first_op = "SyncBnApply", .second_op = "Relu",
                          .kernel = [](KernelContext& c, const graph::Node& bn, const graph::Node&) {
                            apply_forward<1>(c, 1, bn);
                          }});
  graph::register_fusion({.name = "SyncBnApply+Relu6", .first_op = "SyncBnApply", .second_op = "Relu6",
                          .kernel = [](KernelContext& c, const graph::Node& bn, const graph::Node&) {
                            apply_forward<2>(c, 1, bn);
                          }});
  graph::register_fusion({.name = "ReluGrad+SyncBnApplyGrad", .first_op = "ReluGrad",
                          .second_op = "SyncBnApplyGrad",
                          .kernel = [](KernelContext& c, const graph::Node&, const graph::Node& bg) {
                            apply_backward<1>(c, 3, 1, bg);
                          }});
  graph::register_fusion({.name = "Relu6Grad+SyncBnApplyGrad", .first_op = "Relu6Grad",
                          .second_op = "SyncBnApplyGrad",
                          .kernel = [](KernelContext& c, const graph::Node&, const graph::Node& bg) {
                            apply_backward<2>(c, 3, 1, bg);
                          }});
}

}  // namespace

void register_ops() {
  if (graph::find_op("SyncBnMovingUpdate")) return;
  register_allreduce_ops();
  register_sync_bn_ops();
}

}  // namespace qat::distributed
