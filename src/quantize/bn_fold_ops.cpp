// Batch-norm folding for QAT (fold_batch_norms.py semantics, REFERENCE.md §3; Jacob et al.
// §3.2, Krishnamoorthi §3.2).
//
// The layer runs with folded weights w_fold = w * s, s = gamma / sigma_mv (sigma = sqrt(var +
// eps)), so the weights are quantized against the long-term statistics. Its output is
// y' = conv(x, FQ(w_fold)) = s * z, where z is what the unfolded conv would give. Then:
//   before the freeze:  out = gamma * (z - mu_B) / sigma_B + beta      (correction sigma_mv/sigma_B)
//   after the freeze:   out = y' + beta - gamma * mu_mv / sigma_mv     (inference form)
// which are TF's correction_recip / correction_offset formulas written out. The batch
// statistics are those of z = y'/s, computed from the quantized-weight conv output (TF computes
// them from a second, float conv with the unfolded weights; the difference is only the weight
// quantization error in the statistics, and it saves one convolution per layer). Since
// (z - mu_z) / sigma_z(eps) = sign(s) (y' - mu_y') / sqrt(var_y' + eps s^2), no division by s is
// needed. Unlike TF (whose FusedBatchNorm gradient ignores the batch statistics), the gradient
// here is the exact gradient of that forward, batch statistics included (as in PyTorch's
// ConvBn QAT modules), so before the freeze a folded layer trains exactly like conv + BN.
//
// Towers: BnChannelSums gives per-channel sums (shifted by K = s * mu_mv against cancellation)
// and a count; towers' sums are added (AddN) before BnFoldApply, so K replicas normalise with
// the statistics of the whole batch (and get the matching gradient through autodiff).
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/batch_stats.h"
#include "quantize/quant_ops.h"

namespace qat::quantize::detail {
namespace {

using graph::parallel_range;

bool frozen(const KernelContext& c, int step_index) {
  int64_t delay = c.node().attr_int("freeze_bn_delay", -1);
  if (delay < 0) return false;
  return step_input(c, step_index) >= delay;
}

using ops::channels_of;
using ops::check_vec;
using ops::grain_rows;
using ops::ReduceThreads;
using Stats = ops::BatchStats;

// Row kernels over the C channels of one row (restrict parameters so that they vectorise).
// out = a * y + b, then the activation with the exact expressions of Relu / Relu6.
template <int A>  // 0 none, 1 relu, 2 relu6
inline void apply_row(const float* __restrict y, const float* __restrict a, const float* __restrict b,
                      float* __restrict out, int64_t C) {
  for (int64_t j = 0; j < C; ++j) {
    float v = a[j] * y[j] + b[j];
    if constexpr (A == 1) v = v > 0 ? v : 0.0f;
    if constexpr (A == 2) v = std::min(std::max(v, 0.0f), 6.0f);
    out[j] = v;
  }
}
inline void apply_grad_row(const float* __restrict g, const float* __restrict y, const float* __restrict a,
                           const float* __restrict mu, float* __restrict dy, float* __restrict s1,
                           float* __restrict s2, int64_t C) {
  for (int64_t j = 0; j < C; ++j) {
    float gi = g[j];
    dy[j] = a[j] * gi;
    s1[j] += gi;
    s2[j] += gi * (y[j] - mu[j]);
  }
}

// ---- BnFoldScale: s = gamma / sqrt(var + eps), inv_std = 1 / sqrt(var + eps) --------------
void register_scale() {
  graph::register_op({.name = "BnFoldScale",
                      .shape_fn =
                          [](InferContext& c) {
                            c.expect_inputs(2);
                            c.expect_rank(0, 1);
                            if (c.shape(0) != c.shape(1)) c.fail("gamma and moving variance differ in shape");
                            c.set_output(0, DType::kFloat32, c.shape(0));
                            c.set_output(1, DType::kFloat32, c.shape(0));
                          },
                      .kernel =
                          [](KernelContext& c) {
                            const Tensor& g = c.input(0);
                            check_vec(c, c.input(1), g.size(), "moving variance");
                            double eps = c.node().attr_float("epsilon");
                            Tensor& s = c.allocate_output(0, g.shape());
                            Tensor& inv = c.allocate_output(1, g.shape());
                            for (int64_t j = 0; j < g.size(); ++j) {
                              double r = 1.0 / std::sqrt((double)c.input(1).data<float>()[j] + eps);
                              inv.data<float>()[j] = (float)r;
                              s.data<float>()[j] = (float)(g.data<float>()[j] * r);
                            }
                          },
                      .grad =
                          [](GradContext& g) {
                            // ds/dgamma = inv_std (the forward's value: the moving variance may be
                            // updated before the backward pass runs).
                            Output dg = g.graph().add_node("Mul", g.graph().unique_name("BnFoldScaleGrad"),
                                                           {g.dy(0), g.y(1)})
                                            ->output(0);
                            return std::vector<Output>{g.dy(0) ? dg : Output{}, Output{}};
                          }});
}

// ---- BnFoldBias (inference form): beta - gamma * mean / sqrt(var + eps) ----------------------
void register_bias() {
  graph::register_op({.name = "BnFoldBias",
                      .shape_fn =
                          [](InferContext& c) {
                            c.expect_inputs(4);
                            c.expect_rank(0, 1);
                            for (int i = 1; i < 4; ++i)
                              if (c.shape(i) != c.shape(0)) c.fail("input {} differs in shape from gamma", i);
                            c.set_output(0, DType::kFloat32, c.shape(0));
                          },
                      .kernel = [](KernelContext& c) {
                        int64_t C = c.input(0).size();
                        for (int i = 1; i < 4; ++i) check_vec(c, c.input(i), C, "input");
                        double eps = c.node().attr_float("epsilon");
                        Tensor& b = c.allocate_output(0, c.input(0).shape());
                        const float *g = c.input(0).data<float>(), *be = c.input(1).data<float>(),
                                    *m = c.input(2).data<float>(), *v = c.input(3).data<float>();
                        for (int64_t j = 0; j < C; ++j)
                          b.data<float>()[j] = (float)(be[j] - (double)g[j] * m[j] / std::sqrt((double)v[j] + eps));
                      }});
}

// ---- BnChannelSums(y, s, moving_mean, step) -> y, stats [S1(C), S2(C), n], shift K(C) --------
void register_sums() {
  graph::register_op(
      {.name = "BnChannelSums",
       .shape_fn =
           [](InferContext& c) { ops::shifted_sums_shape(c, 4); },
       .kernel =
           [](KernelContext& c) {
             const Tensor& y = c.input(0);
             int64_t C = channels_of(c, y), rows = C ? y.size() / C : 0;
             check_vec(c, c.input(1), C, "scale");
             check_vec(c, c.input(2), C, "moving mean");
             c.set_output(0, y);
             Tensor& st = c.allocate_output(1, {2 * C + 1});
             Tensor& sh = c.allocate_output(2, {C});
             float* k = sh.data<float>();
             for (int64_t j = 0; j < C; ++j) k[j] = c.input(1).data<float>()[j] * c.input(2).data<float>()[j];
             float* ps = st.data<float>();
             if (frozen(c, 3)) {  // after the freeze the statistics are not used
               std::fill(ps, ps + 2 * C, 0.f);
               ps[2 * C] = (float)rows;
               return;
             }
             ops::shifted_sums(c, y.data<float>(), k, rows, C, ps, ReduceThreads::kOpenMP);
           },
       .grad = [](GradContext& g) {
         return ops::shifted_sums_gradient(g, 4, "BnChannelSumsGrad", "BnChannelSumsZeros");
       }});
  // dy = dpass + dS1 + 2 (y - K) dS2, one pass.
  graph::register_op({.name = "BnChannelSumsGrad", .shape_fn = ops::shifted_sums_grad_shape,
                      .kernel = ops::shifted_sums_grad_kernel});
}

// ---- BnFoldApply ------------------------------------------------------------------------------
// Inputs: 0 y', 1 stats, 2 shift, 3 s, 4 gamma, 5 beta, 6 moving_mean, 7 moving_var, 8 step.
struct ApplyParams {
  std::vector<float> a, b;  // out = a * y' + b per channel
  bool frozen = false;
  Stats st;
  std::vector<double> r;  // 1 / sqrt(var_y' + eps s^2) (unfrozen)
};
ApplyParams apply_params(KernelContext& c, int base, int64_t C) {
  ApplyParams p;
  for (int i = base + 3; i < base + 8; ++i) check_vec(c, c.input(i), C, "per-channel input");
  const float* s = c.input(base + 3).data<float>();
  const float* g = c.input(base + 4).data<float>();
  const float* be = c.input(base + 5).data<float>();
  const float* mm = c.input(base + 6).data<float>();
  const float* mv = c.input(base + 7).data<float>();
  double eps = c.node().attr_float("epsilon");
  p.frozen = frozen(c, base + 8);
  p.a.resize(C), p.b.resize(C);
  if (p.frozen) {
    for (int64_t j = 0; j < C; ++j) {
      p.a[j] = 1.f;
      p.b[j] = (float)(be[j] - (double)g[j] * mm[j] / std::sqrt((double)mv[j] + eps));
    }
    return p;
  }
  p.st = ops::decode_batch_stats(c, c.input(base + 1), c.input(base + 2), C);
  p.r.resize(C);
  for (int64_t j = 0; j < C; ++j) {
    double sj = s[j];
    double r = 1.0 / std::sqrt(p.st.var[j] + eps * sj * sj);
    double a = (double)g[j] * (sj < 0 ? -1.0 : 1.0) * r;
    p.r[j] = r;
    p.a[j] = (float)a;
    p.b[j] = (float)(be[j] - a * p.st.mean[j]);
  }
  return p;
}

// BnFoldApply's forward into output `out_index`, with activation A (the fused BnFoldApply+Relu
// kernel writes act(a * y' + b) in one pass; the pre-activation is never written).
template <int A>
void apply_forward(KernelContext& c, int out_index) {
  const Tensor& y = c.input(0);
  int64_t C = channels_of(c, y), rows = C ? y.size() / C : 0;
  ApplyParams p = apply_params(c, 0, C);
  Tensor& out = c.allocate_output(out_index, y.shape());
  const float* py = y.data<float>();
  float* po = out.data<float>();
  const float *a = p.a.data(), *b = p.b.data();
  parallel_range(
      c.pool(), rows,
      [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) apply_row<A>(py + r * C, a, b, po + r * C, C);
      },
      grain_rows(C));
}

void register_apply() {
  graph::register_op(
      {.name = "BnFoldApply",
       .shape_fn =
           [](InferContext& c) {
             c.expect_inputs(9);
             c.expect_dtype(0, DType::kFloat32);
             c.set_output(0, DType::kFloat32, c.shape(0));
           },
       .kernel = [](KernelContext& c) { apply_forward<0>(c, 0); },
       .grad =
           [](GradContext& g) {
             std::vector<Output> in{g.dy(0)};
             for (const Output& o : g.node()->inputs()) in.push_back(o);
             Node* gn = g.graph().add_node("BnFoldApplyGrad", g.graph().unique_name("BnFoldApplyGrad"), in,
                                           {{"epsilon", g.node()->attr_float("epsilon")},
                                            {"freeze_bn_delay", g.node()->attr_int("freeze_bn_delay", -1)}});
             // dy', dstats, (shift), ds, dgamma, dbeta, (moving mean, moving var, step)
             return std::vector<Output>{gn->output(0), gn->output(1), Output{}, gn->output(2), gn->output(3),
                                        gn->output(4), Output{}, Output{}, Output{}};
           }});
  // Inputs: 0 dout, then the forward's 9 inputs. Outputs: dy', dstats, ds, dgamma, dbeta.
  graph::register_op(
      {.name = "BnFoldApplyGrad",
       .shape_fn =
           [](InferContext& c) {
             c.expect_inputs(10);
             c.set_output(0, DType::kFloat32, c.shape(1));
             c.set_output(1, DType::kFloat32, c.shape(2));
             c.set_output(2, DType::kFloat32, c.shape(4));
             c.set_output(3, DType::kFloat32, c.shape(5));
             c.set_output(4, DType::kFloat32, c.shape(6));
           },
       .kernel = [](KernelContext& c) {
         const Tensor& dout = c.input(0);
         const Tensor& y = c.input(1);
         if (dout.shape() != y.shape()) c.fail("gradient shape differs from the input");
         int64_t C = channels_of(c, y), rows = C ? y.size() / C : 0;
         ApplyParams p = apply_params(c, 1, C);
         Tensor& dy = c.allocate_output(0, y.shape());
         Tensor& dstats = c.allocate_output(1, {2 * C + 1});
         Tensor& ds = c.allocate_output(2, {C});
         Tensor& dgamma = c.allocate_output(3, {C});
         Tensor& dbeta = c.allocate_output(4, {C});
         const float *pg = dout.data<float>(), *py = y.data<float>();
         float* pdy = dy.data<float>();
         const float* a = p.a.data();
         // One pass: dy' = a * dout, and per channel G1 = sum dout, G2 = sum dout * (y' - mean).
         std::vector<float> mu(C, 0.f);
         if (!p.frozen)
           for (int64_t j = 0; j < C; ++j) mu[j] = (float)p.st.mean[j];
         std::vector<double> acc;
         ops::channel_sums2(
             c, rows, C,
             [&](int64_t r, float* f1, float* f2) {
               apply_grad_row(pg + r * C, py + r * C, a, mu.data(), pdy + r * C, f1, f2, C);
             },
             acc, ReduceThreads::kOpenMP);
         const float* s = c.input(4).data<float>();
         const float* g = c.input(5).data<float>();
         const float* mm = c.input(7).data<float>();
         const float* mv = c.input(8).data<float>();
         double eps = c.node().attr_float("epsilon");
         float* pst = dstats.data<float>();
         pst[2 * C] = 0.f;
         for (int64_t j = 0; j < C; ++j) {
           double G1 = acc[j], G2 = acc[C + j];
           dbeta.data<float>()[j] = (float)G1;
           if (p.frozen) {
             dgamma.data<float>()[j] = (float)(-G1 * mm[j] / std::sqrt((double)mv[j] + eps));
             ds.data<float>()[j] = 0.f;
             pst[j] = pst[C + j] = 0.f;
             continue;
           }
           double sg = s[j] < 0 ? -1.0 : 1.0, r = p.r[j], n = p.st.n;
           dgamma.data<float>()[j] = (float)(sg * r * G2);
           double dD = -0.5 * g[j] * sg * r * r * r * G2;  // d/d(var + eps s^2)
           ds.data<float>()[j] = (float)(dD * 2.0 * eps * s[j]);
           double m1 = p.st.mean[j] - c.input(3).data<float>()[j];  // mean - K
           double dmu = -(double)a[j] * G1;
           double dm1 = dmu - 2.0 * m1 * dD;
           pst[j] = (float)(dm1 / n);
           pst[C + j] = (float)(dD / n);
         }
       }});
}

// ---- BnFoldMovingUpdate(mean_var, var_var, stats, shift, s, step): moving statistics of z ----
void register_moving_update() {
  graph::register_op(
      {.name = "BnFoldMovingUpdate",
       .shape_fn =
           [](InferContext& c) { ops::moving_update_shape(c, 6); },
       .kernel =
           [](KernelContext& c) {
             Tensor& mm = c.variables().get(c.node().input(0).node->name());
             Tensor& mv = c.variables().get(c.node().input(1).node->name());
             c.set_output(0, mm);
             // After the freeze TF sets the moving averages' update fraction to 0.
             if (frozen(c, 5)) return;
             int64_t C = mm.size();
             check_vec(c, mv, C, "moving variance");
             check_vec(c, c.input(4), C, "scale");
             Stats st = ops::decode_batch_stats(c, c.input(2), c.input(3), C);
             const float* s = c.input(4).data<float>();
             // Same update as AssignMovingAverage: v -= (1 - decay) * (v - batch), in float.
             const float k = 1.0f - (float)c.node().attr_float("decay");
             double bessel = st.n > 1 ? st.n / (st.n - 1) : 1.0;
             for (int64_t j = 0; j < C; ++j) {
               double sj = s[j];
               if (sj == 0.0) continue;  // gamma == 0: z is undefined, keep the statistics
               float bm = (float)(st.mean[j] / sj);
               float bv = (float)(st.var[j] / (sj * sj) * bessel);  // unbiased, as FusedBatchNorm's
               float* pm = mm.data<float>() + j;
               float* pv = mv.data<float>() + j;
               *pm = *pm - k * (*pm - bm);
               *pv = *pv - k * (*pv - bv);
             }
           },
       .stateful = true});
}

}  // namespace

void register_bn_fold_ops() {
  register_scale();
  register_bias();
  register_sums();
  register_apply();
  register_moving_update();
  // Executor fusion (graph::FusionRule): BnFoldApply -> Relu / Relu6 in one pass. Inputs: the 9
  // of BnFoldApply, then Relu's (the fused edge); outputs: [out (not produced), act(out)].
  for (std::string act : {"Relu", "Relu6"})
    graph::register_fusion({.name = "BnFoldApply+" + act,
                            .first_op = "BnFoldApply",
                            .second_op = act,
                            .kernel = [act](KernelContext& c, const Node&, const Node&) {
                              if (act == "Relu6") apply_forward<2>(c, 1);
                              else apply_forward<1>(c, 1);
                            }});
}

}  // namespace qat::quantize::detail
