// Range ops of the rewrite: QuantMinMax (batch min/max, per tensor or per channel),
// QuantRangeLastValue (weights: the batch range itself) and QuantRangeEma (activations: moving
// averages kept in two variables). The range ops take one (min, max) pair per tower and
// combine them (min of mins, max of maxes) before the update, so K towers that each see 1/K of
// the batch update the shared range exactly as one replica seeing the whole batch would.
// All of quant_ops.py's policy is applied here: widen to include 0, then the symmetric ratio.
#include <algorithm>
#include <vector>

#include "quantize/fake_quant_math.h"
#include "quantize/quant_ops.h"

namespace qat::quantize::detail {
namespace {

void minmax_shape(InferContext& c) {
  c.expect_inputs(1);
  c.expect_dtype(0, DType::kFloat32);
  int64_t ch = c.node().attr_int("channels", 0);
  Shape s = ch > 0 ? Shape{ch} : Shape{};
  c.set_output(0, DType::kFloat32, s);
  c.set_output(1, DType::kFloat32, s);
}

void minmax_kernel(KernelContext& c) {
  const Tensor& x = c.input(0);
  int64_t ch = c.node().attr_int("channels", 0);
  if (ch == 0) {
    Tensor& mn = c.allocate_output(0, {});
    Tensor& mx = c.allocate_output(1, {});
    fq::min_max(x.data<float>(), x.size(), mn.data<float>(), mx.data<float>(), &c.pool());
    return;
  }
  if (x.size() % ch != 0) c.fail("input {} does not split into {} channels", shape_str(x.shape()), ch);
  Tensor& mn = c.allocate_output(0, {ch});
  Tensor& mx = c.allocate_output(1, {ch});
  fq::min_max_per_channel(x.data<float>(), x.size() / ch, (int)ch, mn.data<float>(), mx.data<float>(), &c.pool());
}

// Inputs [first, num_inputs) are (min, max) pairs, all of one shape.
void pairs_shape(InferContext& c, int first) {
  int n = c.num_inputs() - first;
  if (n < 2 || n % 2 != 0) c.fail("expects (min, max) pairs after input {}, got {} inputs", first, c.num_inputs());
  for (int i = first; i < c.num_inputs(); ++i) {
    c.expect_dtype(i, DType::kFloat32);
    if (c.shape(i) != c.shape(first))
      c.fail("input {} has shape {}, input {} has {}", i, shape_str(c.shape(i)), first, shape_str(c.shape(first)));
  }
  int64_t bits = c.node().attr_int("num_bits", 8);
  if (bits < 2 || bits > 16) c.fail("num_bits must be in 2..16, got {}", bits);
  c.set_output(0, DType::kFloat32, c.shape(first));
  c.set_output(1, DType::kFloat32, c.shape(first));
}

// Combined, widened batch range into lo/hi (size = elements of one input).
void batch_range(const KernelContext& c, int first, std::vector<float>& lo, std::vector<float>& hi) {
  const Tensor& m0 = c.input(first);
  int64_t n = m0.size();
  lo.assign(m0.data<float>(), m0.data<float>() + n);
  hi.assign(c.input(first + 1).data<float>(), c.input(first + 1).data<float>() + n);
  for (int i = first + 2; i < c.num_inputs(); i += 2) {
    const float* a = c.input(i).data<float>();
    const float* b = c.input(i + 1).data<float>();
    if (c.input(i).size() != n || c.input(i + 1).size() != n) c.fail("tower ranges differ in size");
    for (int64_t j = 0; j < n; ++j) lo[j] = std::min(lo[j], a[j]), hi[j] = std::max(hi[j], b[j]);
  }
  const Node& nd = c.node();
  bool sym = nd.attr_bool("symmetric", false);
  int bits = (int)nd.attr_int("num_bits", 8);
  bool narrow = nd.attr_bool("narrow_range", false);
  for (int64_t j = 0; j < n; ++j) fq::widen_range(&lo[j], &hi[j], sym, bits, narrow);
}

void write_range(KernelContext& c, const Shape& s, const float* lo, const float* hi) {
  Tensor& a = c.allocate_output(0, s);
  Tensor& b = c.allocate_output(1, s);
  std::copy(lo, lo + a.size(), a.data<float>());
  std::copy(hi, hi + b.size(), b.data<float>());
}

std::vector<Output> no_grads(GradContext& g) { return std::vector<Output>(g.node()->num_inputs(), Output{}); }

}  // namespace

void register_quant_range_ops() {
  graph::register_op({.name = "QuantMinMax", .shape_fn = minmax_shape, .kernel = minmax_kernel, .grad = no_grads});
  graph::register_op({.name = "QuantRangeLastValue",
                      .shape_fn = [](InferContext& c) { pairs_shape(c, 0); },
                      .kernel =
                          [](KernelContext& c) {
                            std::vector<float> lo, hi;
                            batch_range(c, 0, lo, hi);
                            write_range(c, c.input(0).shape(), lo.data(), hi.data());
                          },
                      .grad = no_grads});
  graph::register_op(
      {.name = "QuantRangeEma",
       .shape_fn =
           [](InferContext& c) {
             if (!graph::input_node(&c.node(), 0, "Variable") || !graph::input_node(&c.node(), 1, "Variable"))
               c.fail("inputs 0 and 1 must be the min and max Variables");
             if (c.shape(0) != c.shape(1)) c.fail("min and max variables differ in shape");
             pairs_shape(c, 2);
             if (c.shape(0) != c.shape(2))
               c.fail("variables have shape {}, the batch range {}", shape_str(c.shape(0)), shape_str(c.shape(2)));
             double d = c.node().attr_float("ema_decay", 0.999);
             if (!(d >= 0 && d < 1)) c.fail("ema_decay {} outside [0, 1)", d);
           },
       .kernel =
           [](KernelContext& c) {
             std::vector<float> lo, hi;
             batch_range(c, 2, lo, hi);
             Tensor& vmin = c.variables().get(c.node().input(0).node->name());
             Tensor& vmax = c.variables().get(c.node().input(1).node->name());
             if (vmin.size() != (int64_t)lo.size() || vmax.size() != (int64_t)lo.size())
               c.fail("range variables have {} values, the batch range {}", vmin.size(), lo.size());
             float* pmin = vmin.data<float>();
             float* pmax = vmax.data<float>();
             const float rate = fq::ema_rate(c.node().attr_float("ema_decay", 0.999));
             // init_from_batch (not TF): a range still at exactly [0, 0] starts at the first
             // batch's range instead of decaying slowly away from a guess.
             const bool init = c.node().attr_bool("init_from_batch", false);
             for (size_t j = 0; j < lo.size(); ++j) {
               if (init && pmin[j] == 0.f && pmax[j] == 0.f) {
                 pmin[j] = lo[j], pmax[j] = hi[j];
               } else {
                 pmin[j] = fq::ema(pmin[j], lo[j], rate);
                 pmax[j] = fq::ema(pmax[j], hi[j], rate);
               }
             }
             write_range(c, vmin.shape(), pmin, pmax);
           },
       .grad = no_grads,
       .stateful = true});
}

}  // namespace qat::quantize::detail
