// Binary elementwise ops with numpy broadcasting: Add, Sub, Mul; plus Neg and SumToShapeOf (the
// reduction that undoes broadcasting in gradients: dy summed down to the shape of x).
// Fast paths cover the shapes that occur in practice: equal shapes, and b's shape a suffix of
// a's (per-channel [C] against NHWC, scalars); everything else goes through a strided loop.
#include "ops/common.h"

namespace qat::ops {
namespace {

// Strides (in elements) of `s` broadcast to rank-r `out` (0 along broadcast dims).
std::vector<int64_t> bstrides(const Shape& s, const Shape& out) {
  size_t r = out.size();
  std::vector<int64_t> st(r, 0);
  int64_t acc = 1;
  for (size_t i = s.size(); i-- > 0;) {
    size_t o = i + (r - s.size());
    st[o] = s[i] == 1 ? 0 : acc;
    acc *= s[i];
  }
  return st;
}

bool is_suffix(const Shape& small, const Shape& big) {
  if (small.size() > big.size()) return false;
  return std::equal(small.begin(), small.end(), big.end() - small.size());
}

template <class F>
void binary(KernelContext& c, F f) {
  const Tensor& a = c.input(0);
  const Tensor& b = c.input(1);
  if (a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32) c.fail("expects float32 inputs");
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  if (a.shape() == b.shape()) {
    Tensor& y = c.allocate_output(0, a.shape());
    float* py = y.data<float>();
    parallel_range(c.pool(), a.size(), [&](int64_t s, int64_t e) {
      for (int64_t i = s; i < e; ++i) py[i] = f(pa[i], pb[i]);
    });
    return;
  }
  if (is_suffix(b.shape(), a.shape()) && b.size() > 0) {
    Tensor& y = c.allocate_output(0, a.shape());
    float* py = y.data<float>();
    int64_t inner = b.size();
    parallel_range(c.pool(), a.size() / inner, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < inner; ++j) py[r * inner + j] = f(pa[r * inner + j], pb[j]);
    }, std::max<int64_t>(1, graph::kParallelGrain / inner));
    return;
  }
  if (is_suffix(a.shape(), b.shape()) && a.size() > 0) {
    Tensor& y = c.allocate_output(0, b.shape());
    float* py = y.data<float>();
    int64_t inner = a.size();
    parallel_range(c.pool(), b.size() / inner, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < inner; ++j) py[r * inner + j] = f(pa[j], pb[r * inner + j]);
    }, std::max<int64_t>(1, graph::kParallelGrain / inner));
    return;
  }
  Shape out = broadcast_runtime(c, a.shape(), b.shape());
  Tensor& y = c.allocate_output(0, out);
  float* py = y.data<float>();
  auto sa = bstrides(a.shape(), out), sb = bstrides(b.shape(), out);
  int r = (int)out.size();
  std::vector<int64_t> idx(r, 0);
  for (int64_t i = 0; i < y.size(); ++i) {
    int64_t ia = 0, ib = 0;
    for (int d = 0; d < r; ++d) {
      ia += idx[d] * sa[d];
      ib += idx[d] * sb[d];
    }
    py[i] = f(pa[ia], pb[ib]);
    for (int d = r - 1; d >= 0; --d) {
      if (++idx[d] < out[d]) break;
      idx[d] = 0;
    }
  }
}

void binary_shape(InferContext& c) {
  c.expect_inputs(2);
  c.expect_dtype(0, DType::kFloat32);
  c.expect_dtype(1, DType::kFloat32);
  c.set_output(0, DType::kFloat32, broadcast_shape(c, c.shape(0), c.shape(1)));
}

// dy reduced to x's shape when x was broadcast; dy itself when the static shapes show no
// broadcasting (a node is saved, and nothing is summed).
Output reduce_to(Graph& g, Output dy, Output x) {
  const Shape& sx = x.node->output_info(x.index).shape;
  const Shape& sy = dy.node->output_info(dy.index).shape;
  bool same = sx == sy && std::none_of(sx.begin(), sx.end(), [](int64_t d) { return d < 0; });
  if (same) return dy;
  return make(g, "SumToShapeOf", "", {dy, x});
}

}  // namespace

void register_elementwise_ops() {
  register_op({.name = "Add",
               .shape_fn = binary_shape,
               .kernel = [](KernelContext& c) { binary(c, [](float a, float b) { return a + b; }); },
               .grad = [](GradContext& g) {
                 return std::vector<Output>{reduce_to(g.graph(), g.dy(), g.x(0)), reduce_to(g.graph(), g.dy(), g.x(1))};
               }});
  register_op({.name = "Sub",
               .shape_fn = binary_shape,
               .kernel = [](KernelContext& c) { binary(c, [](float a, float b) { return a - b; }); },
               .grad = [](GradContext& g) {
                 Output nb = make(g.graph(), "Neg", "", {g.dy()});
                 return std::vector<Output>{reduce_to(g.graph(), g.dy(), g.x(0)), reduce_to(g.graph(), nb, g.x(1))};
               }});
  register_op({.name = "Mul",
               .shape_fn = binary_shape,
               .kernel = [](KernelContext& c) { binary(c, [](float a, float b) { return a * b; }); },
               .grad = [](GradContext& g) {
                 Graph& G = g.graph();
                 Output da = reduce_to(G, mul(G, g.dy(), g.x(1)), g.x(0));
                 Output db = reduce_to(G, mul(G, g.dy(), g.x(0)), g.x(1));
                 return std::vector<Output>{da, db};
               }});
  register_op({.name = "Neg",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(1);
                     c.expect_dtype(0, DType::kFloat32);
                     c.set_output(0, DType::kFloat32, c.shape(0));
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& x = c.input(0);
                     Tensor& y = c.allocate_output(0, x.shape());
                     const float* px = x.data<float>();
                     float* py = y.data<float>();
                     parallel_range(c.pool(), x.size(), [&](int64_t b, int64_t e) {
                       for (int64_t i = b; i < e; ++i) py[i] = -px[i];
                     });
                   },
               .grad = [](GradContext& g) { return std::vector<Output>{make(g.graph(), "Neg", "", {g.dy()})}; }});
  register_op({.name = "SumToShapeOf",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(2);
                     c.expect_dtype(0, DType::kFloat32);
                     c.set_output(0, DType::kFloat32, c.shape(1));
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& dy = c.input(0);
                     const Shape& xs = c.input(1).shape();
                     Tensor& dx = c.allocate_output(0, xs);
                     float* po = dx.data<float>();
                     const float* pd = dy.data<float>();
                     if (dy.shape() == xs) {
                       std::copy(pd, pd + dy.size(), po);
                       return;
                     }
                     if (xs.size() > dy.shape().size()) c.fail("cannot reduce {} to {}", shape_str(dy.shape()), shape_str(xs));
                     std::fill(po, po + dx.size(), 0.0f);
                     if (is_suffix(xs, dy.shape()) && dx.size() > 0) {
                       int64_t inner = dx.size();
                       std::vector<double> acc(inner, 0.0);
                       for (int64_t r = 0; r < dy.size() / inner; ++r)
                         for (int64_t j = 0; j < inner; ++j) acc[j] += pd[r * inner + j];
                       for (int64_t j = 0; j < inner; ++j) po[j] = (float)acc[j];
                       return;
                     }
                     const Shape& out = dy.shape();
                     for (size_t i = 0; i < xs.size(); ++i) {
                       int64_t d = out[i + out.size() - xs.size()];
                       if (xs[i] != 1 && xs[i] != d) c.fail("cannot reduce {} to {}", shape_str(out), shape_str(xs));
                     }
                     auto sx = bstrides(xs, out);
                     int r = (int)out.size();
                     std::vector<int64_t> idx(r, 0);
                     for (int64_t i = 0; i < dy.size(); ++i) {
                       int64_t ix = 0;
                       for (int d = 0; d < r; ++d) ix += idx[d] * sx[d];
                       po[ix] += pd[i];
                       for (int d = r - 1; d >= 0; --d) {
                         if (++idx[d] < out[d]) break;
                         idx[d] = 0;
                       }
                     }
                   }});
}

Output add(Graph& g, Output a, Output b, const std::string& name) { return make(g, "Add", name, {a, b}); }
Output sub(Graph& g, Output a, Output b, const std::string& name) { return make(g, "Sub", name, {a, b}); }
Output mul(Graph& g, Output a, Output b, const std::string& name) { return make(g, "Mul", name, {a, b}); }

}  // namespace qat::ops
