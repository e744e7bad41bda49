#include "ops/common.h"

#include <mutex>

namespace qat::ops {

void hw_pair(const Node& n, const std::string& key, std::vector<int64_t> dflt, int& h, int& w) {
  std::vector<int64_t> v = n.attr_ints(key, std::move(dflt));
  if (v.size() == 4) {
    if (v[0] != 1 || v[3] != 1)
      fail<ShapeError>("{}: attribute '{}' = [{}] must be [1,h,w,1] (NHWC)", n.describe(), key, fmt::join(v, ","));
    v = {v[1], v[2]};
  }
  if (v.size() != 2) fail<ShapeError>("{}: attribute '{}' needs 2 values [h,w], got {}", n.describe(), key, v.size());
  if (v[0] < 1 || v[1] < 1 || v[0] > 1 << 20 || v[1] > 1 << 20)
    fail<ShapeError>("{}: attribute '{}' = [{}] must be positive", n.describe(), key, fmt::join(v, ","));
  h = (int)v[0];
  w = (int)v[1];
}

Window window(const Node& n, const std::string& padding, int64_t in, int k, int stride, int dil) {
  Window r;
  int64_t eff = (int64_t)(k - 1) * dil + 1;
  if (padding == "SAME") {
    if (in < 0) return r;
    r.out = (in + stride - 1) / stride;
    int64_t total = std::max<int64_t>((r.out - 1) * stride + eff - in, 0);
    r.pad_before = total / 2;
    r.pad_after = total - r.pad_before;
  } else if (padding == "VALID") {
    if (in < 0) return r;
    if (in < eff)
      fail<ShapeError>("{}: VALID window of effective size {} does not fit input size {}", n.describe(), eff, in);
    r.out = (in - eff) / stride + 1;
  } else {
    fail<ShapeError>("{}: padding must be \"SAME\" or \"VALID\", got \"{}\"", n.describe(), padding);
  }
  return r;
}

kernels::ConvGeom conv_geom(const Node& n, const Shape& x, const Shape& w, bool depthwise) {
  if (x.size() != 4) fail<ShapeError>("{}: input must be NHWC (rank 4), got {}", n.describe(), shape_str(x));
  if (w.size() != 4) fail<ShapeError>("{}: filter must be rank 4 [KH,KW,{},{}], got {}", n.describe(),
                                      depthwise ? "C" : "Cin", depthwise ? "M" : "Cout", shape_str(w));
  for (int i = 0; i < 4; ++i)
    if (w[i] <= 0) fail<ShapeError>("{}: filter shape {} must be fully known and positive", n.describe(), shape_str(w));
  if (x[3] >= 0 && x[3] != w[2])
    fail<ShapeError>("{}: input has {} channels but the filter {} expects {}", n.describe(), x[3], shape_str(w), w[2]);
  kernels::ConvGeom g{};
  int sh, sw, dh, dw;
  hw_pair(n, "strides", {1, 1}, sh, sw);
  hw_pair(n, "dilations", {1, 1}, dh, dw);
  if ((sh > 1 || sw > 1) && (dh > 1 || dw > 1))
    fail<ShapeError>("{}: strides > 1 with dilations > 1 is not supported (as in TF)", n.describe());
  std::string padding = n.attr_string("padding", "SAME");
  Window wh = window(n, padding, x[1], (int)w[0], sh, dh);
  Window ww = window(n, padding, x[2], (int)w[1], sw, dw);
  g.N = (int)x[0];
  g.H = (int)x[1];
  g.W = (int)x[2];
  g.C = (int)w[2];
  g.KH = (int)w[0];
  g.KW = (int)w[1];
  g.O = depthwise ? (int)(w[2] * w[3]) : (int)w[3];
  g.stride_h = sh;
  g.stride_w = sw;
  g.dil_h = dh;
  g.dil_w = dw;
  g.pad_top = (int)wh.pad_before;
  g.pad_bottom = (int)wh.pad_after;
  g.pad_left = (int)ww.pad_before;
  g.pad_right = (int)ww.pad_after;
  g.OH = (int)wh.out;
  g.OW = (int)ww.out;
  g.depthwise = depthwise;
  return g;
}

kernels::PoolGeom pool_geom(const Node& n, const Shape& x) {
  if (x.size() != 4) fail<ShapeError>("{}: input must be NHWC (rank 4), got {}", n.describe(), shape_str(x));
  int kh, kw, sh, sw;
  hw_pair(n, "ksize", {2, 2}, kh, kw);
  hw_pair(n, "strides", {2, 2}, sh, sw);
  std::string padding = n.attr_string("padding", "VALID");
  Window wh = window(n, padding, x[1], kh, sh, 1);
  Window ww = window(n, padding, x[2], kw, sw, 1);
  kernels::PoolGeom g{};
  g.N = (int)x[0];
  g.H = (int)x[1];
  g.W = (int)x[2];
  g.C = (int)x[3];
  g.KH = kh;
  g.KW = kw;
  g.stride_h = sh;
  g.stride_w = sw;
  g.pad_top = (int)wh.pad_before;
  g.pad_bottom = (int)wh.pad_after;
  g.pad_left = (int)ww.pad_before;
  g.pad_right = (int)ww.pad_after;
  g.OH = (int)wh.out;
  g.OW = (int)ww.out;
  return g;
}

Shape broadcast_shape(const InferContext& c, const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db) out[i] = da;
    else if (da == 1) out[i] = db;
    else if (db == 1) out[i] = da;
    else if (da < 0) out[i] = db;
    else if (db < 0) out[i] = da;
    else c.fail("shapes {} and {} cannot be broadcast", shape_str(a), shape_str(b));
  }
  return out;
}

Shape broadcast_runtime(const KernelContext& c, const Shape& a, const Shape& b) {
  size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else c.fail("shapes {} and {} cannot be broadcast", shape_str(a), shape_str(b));
  }
  return out;
}

void register_standard_ops() {
  static std::once_flag once;
  std::call_once(once, [] {
    graph::register_core_ops();
    register_conv2d_ops();
    register_depthwise_ops();
    register_matmul_ops();
    register_bias_add_ops();
    register_batch_norm_ops();
    register_activation_ops();
    register_elementwise_ops();
    register_concat_ops();
    register_pool_ops();
    register_mean_ops();
    register_pad_ops();
    register_reshape_ops();
    register_softmax_ops();
    register_cross_entropy_ops();
    register_fusions();
  });
}

}  // namespace qat::ops
