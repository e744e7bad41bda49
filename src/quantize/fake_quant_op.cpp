// FakeQuantWithMinMaxVars(PerChannel) and their gradients: TF's ops (REFERENCE.md §3) plus an
// optional `step` input that implements quant_delay (TF: cond(step >= delay, quant, identity)).
#include <vector>

#include "quantize/fake_quant_math.h"
#include "quantize/quant_ops.h"

namespace qat::quantize::detail {
namespace {

// Channels of a per-channel node: min's element count. It must equal the product of a suffix of
// x's dims (the last axis, or e.g. [C, M] of a depthwise filter), so x is [rows, C] row-major.
int64_t per_channel_rows(const KernelContext& c, const Tensor& x, int64_t C) {
  if (C <= 0 || x.size() % C != 0) c.fail("input {} does not split into {} channels", shape_str(x.shape()), C);
  int64_t tail = 1;
  for (int d = x.rank() - 1; d >= 0 && tail < C; --d) tail *= x.dim(d);
  if (tail != C) c.fail("{} channels is not the size of trailing dims of {}", C, shape_str(x.shape()));
  return x.size() / C;
}

bool delayed(const KernelContext& c, int step_index) {
  int64_t delay = c.node().attr_int("quant_delay", 0);
  if (delay <= 0) return false;
  int64_t step = step_input(c, step_index);
  return step >= 0 && step < delay;
}

std::vector<fq::Nudged> nudged(const KernelContext& c, const Tensor& mn, const Tensor& mx) {
  if (mn.size() != mx.size()) c.fail("min has {} values, max {}", mn.size(), mx.size());
  auto r = fq::quant_range((int)c.node().attr_int("num_bits", 8), c.node().attr_bool("narrow_range", false));
  std::vector<fq::Nudged> v(mn.size());
  const float* a = mn.data<float>();
  const float* b = mx.data<float>();
  for (int64_t i = 0; i < mn.size(); ++i) {
    try {
      v[i] = fq::nudge(a[i], b[i], r);
    } catch (const Error& e) {
      c.fail("{}", e.what());
    }
  }
  return v;
}

void shape_fn(InferContext& c, bool per_channel, bool grad) {
  int base = grad ? 1 : 0;  // the gradient op has dy first
  if (c.num_inputs() != base + 3 && c.num_inputs() != base + 4)
    c.fail("expects {} or {} inputs, got {}", base + 3, base + 4, c.num_inputs());
  c.expect_dtype(base, DType::kFloat32);
  c.expect_dtype(base + 1, DType::kFloat32);
  c.expect_dtype(base + 2, DType::kFloat32);
  int64_t bits = c.node().attr_int("num_bits", 8);
  if (bits < 2 || bits > 16) c.fail("num_bits must be in 2..16, got {}", bits);
  if (per_channel) {
    c.expect_rank(base + 1, 1);
    c.expect_rank(base + 2, 1);
  } else {
    if (c.rank(base + 1) != 0 || c.rank(base + 2) != 0) c.fail("min and max must be scalars");
  }
  const Shape& xs = c.shape(base);
  c.set_output(0, DType::kFloat32, xs);
  if (grad) {
    c.set_output(1, DType::kFloat32, c.shape(base + 1));
    c.set_output(2, DType::kFloat32, c.shape(base + 2));
  }
}

void forward_kernel(KernelContext& c, bool per_channel) {
  const Tensor& x = c.input(0);
  if (delayed(c, 3)) {  // before quant_delay: pass through (the ranges are still tracked upstream)
    c.set_output(0, x);
    return;
  }
  auto nd = nudged(c, c.input(1), c.input(2));
  Tensor& y = c.allocate_output(0, x.shape());
  if (!per_channel) {
    fq::forward(x.data<float>(), x.size(), nd[0], y.data<float>(), &c.pool());
  } else {
    int64_t C = (int64_t)nd.size();
    int64_t rows = per_channel_rows(c, x, C);
    fq::forward_per_channel(x.data<float>(), rows, (int)C, nd.data(), y.data<float>(), &c.pool());
  }
}

void grad_kernel(KernelContext& c, bool per_channel) {
  const Tensor& dy = c.input(0);
  const Tensor& x = c.input(1);
  const Tensor& mn = c.input(2);
  if (dy.shape() != x.shape()) c.fail("dy {} and x {} differ", shape_str(dy.shape()), shape_str(x.shape()));
  Tensor& dmin = c.allocate_output(1, mn.shape());
  Tensor& dmax = c.allocate_output(2, mn.shape());
  if (delayed(c, 4)) {
    c.set_output(0, dy);
    dmin.fill(0.f);
    dmax.fill(0.f);
    return;
  }
  auto nd = nudged(c, mn, c.input(3));
  Tensor& dx = c.allocate_output(0, x.shape());
  if (!per_channel) {
    fq::backward(x.data<float>(), dy.data<float>(), x.size(), nd[0], dx.data<float>(), dmin.data<float>(),
                 dmax.data<float>(), &c.pool());
  } else {
    int64_t C = (int64_t)nd.size();
    int64_t rows = per_channel_rows(c, x, C);
    fq::backward_per_channel(x.data<float>(), dy.data<float>(), rows, (int)C, nd.data(), dx.data<float>(),
                             dmin.data<float>(), dmax.data<float>(), &c.pool());
  }
}

// Fused FakeQuantWithMinMaxVarsGradient -> ReluGrad / Relu6Grad (executor fusion): the gradient
// through the activation FakeQuant and through the ReLU before it in one pass, dout = dy where
// x is inside the nudged range and the ReLU passes, without writing the intermediate gradient.
// Inputs: the FakeQuant gradient's [dy, x, min, max (, step)], then the activation gradient's
// [(fused edge), y]; outputs: [dx (not produced), dmin, dmax, dout].
void grad_act_kernel(KernelContext& c, const Node& fq_grad, const Node& act_grad) {
  const int nf = fq_grad.num_inputs();
  const Tensor& dy = c.input(0);
  const Tensor& x = c.input(1);
  const Tensor& mn = c.input(2);
  const Tensor& ref = c.input(nf + 1);
  if (dy.shape() != x.shape() || ref.shape() != x.shape())
    c.fail("dy {}, x {} and the activation output {} differ", shape_str(dy.shape()), shape_str(x.shape()),
           shape_str(ref.shape()));
  const fq::ActMask mask = act_grad.op() == "Relu6Grad" ? fq::ActMask::kRelu6 : fq::ActMask::kRelu;
  Tensor& dmin = c.allocate_output(1, mn.shape());
  Tensor& dmax = c.allocate_output(2, mn.shape());
  Tensor& dout = c.allocate_output(3, x.shape());
  if (nf > 4 && delayed(c, 4)) {
    fq::mask_gradient(dy.data<float>(), ref.data<float>(), mask, x.size(), dout.data<float>(), &c.pool());
    dmin.fill(0.f);
    dmax.fill(0.f);
    return;
  }
  auto nd = nudged(c, mn, c.input(3));
  fq::backward_masked(x.data<float>(), dy.data<float>(), ref.data<float>(), mask, x.size(), nd[0],
                      dout.data<float>(), dmin.data<float>(), dmax.data<float>(), &c.pool());
}

void register_one(const std::string& name, bool per_channel) {
  const std::string grad_name = name + "Gradient";
  graph::register_op(
      {.name = name,
       .shape_fn = [per_channel](InferContext& c) { shape_fn(c, per_channel, false); },
       .kernel = [per_channel](KernelContext& c) { forward_kernel(c, per_channel); },
       .grad =
           [grad_name](GradContext& g) {
             Node* n = g.node();
             std::vector<Output> in{g.dy(0)};
             for (const Output& o : n->inputs()) in.push_back(o);
             AttrMap attrs{{"num_bits", n->attr_int("num_bits", 8)},
                           {"narrow_range", n->attr_bool("narrow_range", false)},
                           {"quant_delay", n->attr_int("quant_delay", 0)}};
             Node* gn = g.graph().add_node(grad_name, g.graph().unique_name(grad_name), in, attrs);
             std::vector<Output> r{gn->output(0), gn->output(1), gn->output(2)};
             if (n->num_inputs() == 4) r.push_back(Output{});  // the step: no gradient
             return r;
           }});
  graph::register_op({.name = grad_name,
                      .shape_fn = [per_channel](InferContext& c) { shape_fn(c, per_channel, true); },
                      .kernel = [per_channel](KernelContext& c) { grad_kernel(c, per_channel); }});
}

}  // namespace

void register_fake_quant_ops() {
  register_one("FakeQuantWithMinMaxVars", false);
  register_one("FakeQuantWithMinMaxVarsPerChannel", true);
  for (std::string act : {"Relu", "Relu6"})
    graph::register_fusion({.name = "FakeQuantWithMinMaxVarsGradient+" + act + "Grad",
                            .first_op = "FakeQuantWithMinMaxVarsGradient",
                            .second_op = act + "Grad",
                            .kernel = grad_act_kernel});
}

}  // namespace qat::quantize::detail
