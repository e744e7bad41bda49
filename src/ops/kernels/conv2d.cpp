// Conv2D / DepthwiseConv2D forward and backward (data, weights, bias) on NHWC activations and TF
// filter layouts, through oneDNN primitives cached per geometry.
//
// Why oneDNN with `format_tag::any` weights: with NHWC activations and a plain HWIO filter oneDNN
// falls back to its gemm-based convolution; letting it choose a blocked weight layout selects the
// jit:avx2 direct kernels. The filter changes every SGD step, so the (small) reorder from / to the
// TF layout runs on every call, into buffers owned by the cached plan.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <vector>

#include "ops/kernels/dnnl_util.h"
#include "ops/kernels/float_kernels.h"
#include "ops/kernels/winograd.h"
#include "qat/cpu_features.h"
#include "qat/error.h"
#include "qat/thread_pool.h"

namespace qat::ops::kernels {
namespace {

using namespace detail;
using dnnl::memory;
using tag = memory::format_tag;
constexpr auto f32 = memory::data_type::f32;

int effective(int k, int dil) { return (k - 1) * dil + 1; }

void check_geom(const ConvGeom& g, const char* op) {
  QAT_CHECK_T(ShapeError,
              g.N >= 1 && g.H >= 1 && g.W >= 1 && g.C >= 1 && g.KH >= 1 && g.KW >= 1 && g.O >= 1 &&
                  g.stride_h >= 1 && g.stride_w >= 1 && g.dil_h >= 1 && g.dil_w >= 1 && g.pad_top >= 0 &&
                  g.pad_left >= 0 && g.pad_bottom >= 0 && g.pad_right >= 0,
              "{}: bad geometry (N={} H={} W={} C={} K={}x{} O={} stride={}x{} dilation={}x{} pads={},{},{},{})",
              op, g.N, g.H, g.W, g.C, g.KH, g.KW, g.O, g.stride_h, g.stride_w, g.dil_h, g.dil_w, g.pad_top,
              g.pad_left, g.pad_bottom, g.pad_right);
  int oh = (g.H + g.pad_top + g.pad_bottom - effective(g.KH, g.dil_h)) / g.stride_h + 1;
  int ow = (g.W + g.pad_left + g.pad_right - effective(g.KW, g.dil_w)) / g.stride_w + 1;
  QAT_CHECK_T(ShapeError, g.H + g.pad_top + g.pad_bottom >= effective(g.KH, g.dil_h) &&
                              g.W + g.pad_left + g.pad_right >= effective(g.KW, g.dil_w) && oh == g.OH && ow == g.OW,
              "{}: output {}x{} does not match input {}x{}, kernel {}x{}, stride, dilation and padding (expected {}x{})",
              op, g.OH, g.OW, g.H, g.W, g.KH, g.KW, oh, ow);
  if (g.depthwise)
    QAT_CHECK_T(ShapeError, g.O % g.C == 0, "{}: depthwise output channels {} not a multiple of input channels {}",
                op, g.O, g.C);
}

// oneDNN wants padding_r such that OH = (H + pl + pr - ek) / s + 1 holds exactly; rows the
// floor division drops on the bottom / right give a negative value, which it accepts.
memory::dims pad_l(const ConvGeom& g) { return {g.pad_top, g.pad_left}; }
memory::dims pad_r(const ConvGeom& g) {
  return {(g.OH - 1) * g.stride_h + effective(g.KH, g.dil_h) - g.H - g.pad_top,
          (g.OW - 1) * g.stride_w + effective(g.KW, g.dil_w) - g.W - g.pad_left};
}
memory::dims strides(const ConvGeom& g) { return {g.stride_h, g.stride_w}; }
memory::dims dilates(const ConvGeom& g) { return {g.dil_h - 1, g.dil_w - 1}; }

memory::desc src_md(const ConvGeom& g) { return memory::desc({g.N, g.C, g.H, g.W}, f32, tag::nhwc); }
memory::desc dst_md(const ConvGeom& g) { return memory::desc({g.N, g.O, g.OH, g.OW}, f32, tag::nhwc); }
memory::desc bias_md(const ConvGeom& g) { return memory::desc({g.O}, f32, tag::x); }
// TF filter layouts: HWIO [KH,KW,C,O]; depthwise [KH,KW,C,M] = groups C, each with M outputs.
memory::desc user_weights_md(const ConvGeom& g) {
  if (g.depthwise) {
    int64_t M = g.O / g.C;
    return memory::desc({g.C, M, 1, g.KH, g.KW}, f32, memory::dims{M, 1, 1, (int64_t)g.KW * g.C * M, (int64_t)g.C * M});
  }
  return memory::desc({g.O, g.C, g.KH, g.KW}, f32, memory::dims{1, g.O, (int64_t)g.KW * g.C * g.O, (int64_t)g.C * g.O});
}
memory::desc any_weights_md(const ConvGeom& g) {
  if (g.depthwise) return memory::desc({g.C, g.O / g.C, 1, g.KH, g.KW}, f32, tag::any);
  return memory::desc({g.O, g.C, g.KH, g.KW}, f32, tag::any);
}

dnnl::primitive_attr user_scratchpad_attr() {
  dnnl::primitive_attr a;
  a.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return a;
}

dnnl::convolution_forward::primitive_desc fwd_pd(const ConvGeom& g, bool with_bias) {
  dnnl::convolution_forward::desc d(dnnl::prop_kind::forward_training, dnnl::algorithm::convolution_direct,
                                    src_md(g), any_weights_md(g), with_bias ? bias_md(g) : memory::desc(),
                                    dst_md(g), strides(g), dilates(g), pad_l(g), pad_r(g));
  return dnnl::convolution_forward::primitive_desc(d, user_scratchpad_attr(), cpu_engine());
}

// The weights the primitive reads / writes, plus the reorder to / from the TF layout when the
// primitive picked another one.
struct Weights {
  memory user, internal;
  std::optional<dnnl::reorder> reorder;
  void init(const ConvGeom& g, const memory::desc& prim_md, bool to_user) {
    user = user_memory(user_weights_md(g));
    if (prim_md == user.get_desc()) {
      internal = user;
    } else {
      internal = memory(prim_md, cpu_engine());
      reorder = to_user ? dnnl::reorder(internal, user) : dnnl::reorder(user, internal);
    }
  }
  bool separate() const { return reorder.has_value(); }
};

enum Kind { kFwd = 0, kFwdBias, kBwdData, kBwdWeights, kBwdWeightsBias };

struct Plan {
  std::mutex mu;
  dnnl::primitive prim;
  memory src, dst, bias, scratch;
  Weights w;
  std::string impl;
};

using Key = std::array<int, 20>;
Key make_key(const ConvGeom& g, Kind k) {
  return {g.N, g.H, g.W, g.C, g.KH, g.KW, g.O, g.stride_h, g.stride_w, g.dil_h,
          g.dil_w, g.pad_top, g.pad_left, g.pad_bottom, g.pad_right, g.OH, g.OW, g.depthwise, (int)k,
          // One plan per executor lane (concurrent towers) and thread count: plans are locked while they run.
          qat::thread_lane() * 4096 + qat::num_threads()};
}

PlanCache<Plan, 20>& cache() {
  static PlanCache<Plan, 20> c;
  return c;
}

template <class Pd>
void finish(Plan& p, const Pd& pd) {
  p.scratch = memory(pd.scratchpad_desc(), cpu_engine());
  p.impl = pd.impl_info_str();
}

std::unique_ptr<Plan> make_plan(const ConvGeom& g, Kind kind) {
  auto p = std::make_unique<Plan>();
  try {
    if (kind == kFwd || kind == kFwdBias) {
      auto pd = fwd_pd(g, kind == kFwdBias);
      p->prim = dnnl::convolution_forward(pd);
      p->src = user_memory(pd.src_desc());
      p->dst = user_memory(pd.dst_desc());
      if (kind == kFwdBias) p->bias = user_memory(pd.bias_desc());
      p->w.init(g, pd.weights_desc(), false);
      finish(*p, pd);
    } else if (kind == kBwdData) {
      dnnl::convolution_backward_data::desc d(dnnl::algorithm::convolution_direct, src_md(g), any_weights_md(g),
                                              dst_md(g), strides(g), dilates(g), pad_l(g), pad_r(g));
      dnnl::convolution_backward_data::primitive_desc pd(d, user_scratchpad_attr(), cpu_engine(), fwd_pd(g, false));
      p->prim = dnnl::convolution_backward_data(pd);
      p->src = user_memory(pd.diff_src_desc());
      p->dst = user_memory(pd.diff_dst_desc());
      p->w.init(g, pd.weights_desc(), false);
      finish(*p, pd);
    } else {
      bool with_bias = kind == kBwdWeightsBias;
      dnnl::convolution_backward_weights::desc d(dnnl::algorithm::convolution_direct, src_md(g), any_weights_md(g),
                                                 with_bias ? bias_md(g) : memory::desc(), dst_md(g), strides(g),
                                                 dilates(g), pad_l(g), pad_r(g));
      dnnl::convolution_backward_weights::primitive_desc pd(d, user_scratchpad_attr(), cpu_engine(),
                                                            fwd_pd(g, with_bias));
      p->prim = dnnl::convolution_backward_weights(pd);
      p->src = user_memory(pd.src_desc());
      p->dst = user_memory(pd.diff_dst_desc());
      if (with_bias) p->bias = user_memory(pd.diff_bias_desc());
      p->w.init(g, pd.diff_weights_desc(), true);
      finish(*p, pd);
    }
  } catch (const dnnl::error& e) {
    fail<Error>("conv2d: oneDNN cannot build a {} primitive for N={} H={} W={} C={} K={}x{} O={}{}: {}",
                kind <= kFwdBias ? "forward" : kind == kBwdData ? "backward-data" : "backward-weights", g.N, g.H, g.W,
                g.C, g.KH, g.KW, g.O, g.depthwise ? " (depthwise)" : "", e.what());
  }
  return p;
}

Plan& plan_for(const ConvGeom& g, Kind kind) {
  return cache().get(make_key(g, kind), [&] { return make_plan(g, kind); });
}

// ---- Winograd path ----
std::atomic<int>& winograd_setting() {  // -1: not decided yet (environment), 0 off, 1 on
  static std::atomic<int> s{-1};
  return s;
}
bool winograd_enabled() {
  int s = winograd_setting().load(std::memory_order_relaxed);
  if (s < 0) {
    const char* e = std::getenv("QAT_WINOGRAD");
    s = (e && std::strcmp(e, "0") == 0) ? 0 : 1;
    winograd_setting().store(s);
  }
  return s == 1 && qat::active_isa() >= qat::Isa::kAvx2;
}
bool winograd_shape(const ConvGeom& g) {
  return !g.depthwise && g.KH == 3 && g.KW == 3 && g.stride_h == 1 && g.stride_w == 1 && g.dil_h == 1 &&
         g.dil_w == 1;
}

struct WinoPlan {
  std::mutex mu;
  std::vector<float> scratch;
  std::vector<double> bias_acc;
};
PlanCache<WinoPlan, 20>& wino_cache() {
  static PlanCache<WinoPlan, 20> c;
  return c;
}

// Output tile of the forward / backward-data Winograd kernel (QAT_WINOGRAD_M=2|4 overrides).
int winograd_tile(int out_h, int out_w) {
  static const int forced = [] {
    const char* e = std::getenv("QAT_WINOGRAD_M");
    return e ? std::atoi(e) : 0;
  }();
  if (forced == 2 || forced == 4) return forced;
  // Fewer multiplies wins: 36 per 4x4 tile against 16 per 2x2 tile (ties keep F(2x2), whose
  // rounding error is smaller). Measured on SmallCNN conv2 / conv3 (14x14, 7x7): F(4x4) is
  // 11-25% faster for forward and backward data.
  auto tiles = [](int n, int m) { return (int64_t)((n + m - 1) / m); };
  return tiles(out_h, 4) * tiles(out_w, 4) * 36 < tiles(out_h, 2) * tiles(out_w, 2) * 16 ? 4 : 2;
}

void run_winograd(const ConvGeom& g, Kind kind, detail::WinogradConv p, const float* x, const float* w,
                  const float* bias, float* y) {
  p.m = winograd_tile(p.OH, p.OW);
  Key key = make_key(g, kind);
  key[19] = key[19] * 8 + p.m;  // lane, threads (p.threads), tile
  WinoPlan& plan = wino_cache().get(key, [&] {
    auto wp = std::make_unique<WinoPlan>();
    wp->scratch.resize(detail::winograd_scratch_floats(p));
    return wp;
  });
  std::lock_guard<std::mutex> lk(plan.mu);
  detail::winograd_conv_avx2(p, x, w, bias, y, plan.scratch.data());
}

}  // namespace

void set_conv_winograd(bool enabled) { winograd_setting().store(enabled ? 1 : 0); }
bool conv_winograd_enabled() { return winograd_enabled(); }

void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y) {
  check_geom(g, "conv2d_forward");
  if (winograd_shape(g) && detail::winograd_supported(g.C, g.O) && winograd_enabled()) {
    detail::WinogradConv wp{g.N, g.H, g.W, g.C, g.OH, g.OW, g.O, g.pad_top, g.pad_left, false, qat::num_threads()};
    run_winograd(g, kFwd, wp, x, w, bias, y);
    return;
  }
  Plan& p = plan_for(g, bias ? kFwdBias : kFwd);
  std::lock_guard<std::mutex> lk(p.mu);
  auto& s = cpu_stream();
  bind(p.w.user, w);
  if (p.w.separate()) p.w.reorder->execute(s, p.w.user, p.w.internal);
  bind(p.src, x);
  bind(p.dst, y);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, p.src},
                                       {DNNL_ARG_WEIGHTS, p.w.internal},
                                       {DNNL_ARG_DST, p.dst},
                                       {DNNL_ARG_SCRATCHPAD, p.scratch}};
  if (bias) {
    bind(p.bias, bias);
    args.emplace(DNNL_ARG_BIAS, p.bias);
  }
  p.prim.execute(s, args);
  s.wait();
}

void conv2d_backward_data(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  check_geom(g, "conv2d_backward_data");
  if (winograd_shape(g) && detail::winograd_supported(g.O, g.C) && winograd_enabled()) {
    // dx = dy correlated with the filter rotated by 180 degrees (in / out channels swapped): a
    // stride-1 3x3 convolution whose input row 0 sits at dx row -(2 - pad_top).
    detail::WinogradConv wp{g.N, g.OH, g.OW, g.O, g.H, g.W, g.C, 2 - g.pad_top, 2 - g.pad_left, true,
                            qat::num_threads()};
    run_winograd(g, kBwdData, wp, dy, w, nullptr, dx);
    return;
  }
  Plan& p = plan_for(g, kBwdData);
  std::lock_guard<std::mutex> lk(p.mu);
  auto& s = cpu_stream();
  bind(p.w.user, w);
  if (p.w.separate()) p.w.reorder->execute(s, p.w.user, p.w.internal);
  bind(p.src, dx);
  bind(p.dst, dy);
  p.prim.execute(s, {{DNNL_ARG_DIFF_SRC, p.src},
                     {DNNL_ARG_WEIGHTS, p.w.internal},
                     {DNNL_ARG_DIFF_DST, p.dst},
                     {DNNL_ARG_SCRATCHPAD, p.scratch}});
  s.wait();
}

void conv2d_backward_weights(const ConvGeom& g, const float* x, const float* dy, float* dw, float* dbias) {
  check_geom(g, "conv2d_backward_weights");
  if (winograd_shape(g) && detail::winograd_supported(g.C, g.O) && winograd_enabled()) {
    detail::WinogradConv wp{g.N, g.H, g.W, g.C, g.OH, g.OW, g.O, g.pad_top, g.pad_left, false, qat::num_threads()};
    wp.m = winograd_tile(g.OH, g.OW);
    Key key = make_key(g, kBwdWeights);
    key[19] = key[19] * 8 + wp.m;
    WinoPlan& plan = wino_cache().get(key, [&] {
      auto w = std::make_unique<WinoPlan>();
      w->scratch.resize(detail::winograd_bwd_weights_scratch_floats(wp));
      return w;
    });
    std::lock_guard<std::mutex> lk(plan.mu);
    detail::winograd_bwd_weights_avx2(wp, x, dy, dw, plan.scratch.data());
    if (dbias) {  // sum of dy over N, OH, OW (double per channel: up to millions of terms)
      std::vector<double>& acc = plan.bias_acc;
      acc.assign(g.O, 0.0);
      const int64_t rows = (int64_t)g.N * g.OH * g.OW;
      for (int64_t r = 0; r < rows; ++r)
        for (int o = 0; o < g.O; ++o) acc[o] += dy[r * g.O + o];
      for (int o = 0; o < g.O; ++o) dbias[o] = (float)acc[o];
    }
    return;
  }
  Plan& p = plan_for(g, dbias ? kBwdWeightsBias : kBwdWeights);
  std::lock_guard<std::mutex> lk(p.mu);
  auto& s = cpu_stream();
  bind(p.w.user, dw);
  bind(p.src, x);
  bind(p.dst, dy);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, p.src},
                                       {DNNL_ARG_DIFF_WEIGHTS, p.w.internal},
                                       {DNNL_ARG_DIFF_DST, p.dst},
                                       {DNNL_ARG_SCRATCHPAD, p.scratch}};
  if (dbias) {
    bind(p.bias, dbias);
    args.emplace(DNNL_ARG_DIFF_BIAS, p.bias);
  }
  p.prim.execute(s, args);
  if (p.w.separate()) p.w.reorder->execute(s, p.w.internal, p.w.user);
  s.wait();
}

}  // namespace qat::ops::kernels
