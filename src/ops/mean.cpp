// Mean over a contiguous block of axes (global average pooling = axes {1,2} of NHWC; a full
// reduction = all axes), with keep_dims. MeanGrad(dy, x) spreads dy / count back over x.
// Non-contiguous axis sets are rejected at build time (no model here needs them).
#include <algorithm>

#include "ops/common.h"

namespace qat::ops {
namespace {

struct Reduction {
  int first = 0, last = -1;  // reduced axes [first, last]
};

Reduction axes_of(const Node& n, int rank) {
  std::vector<int64_t> axes = n.attr_ints("axes");
  if (axes.empty()) fail<ShapeError>("{}: attribute 'axes' is empty", n.describe());
  for (auto& a : axes) {
    if (a < -rank || a >= rank) fail<ShapeError>("{}: axis {} out of range for rank {}", n.describe(), a, rank);
    if (a < 0) a += rank;
  }
  std::sort(axes.begin(), axes.end());
  axes.erase(std::unique(axes.begin(), axes.end()), axes.end());
  if (axes.back() - axes.front() + 1 != (int64_t)axes.size())
    fail<ShapeError>("{}: reduced axes must be contiguous (e.g. [1,2]), got [{}]", n.describe(), fmt::join(axes, ","));
  return {(int)axes.front(), (int)axes.back()};
}

// outer x reduced x inner sizes of shape s.
void split(const Shape& s, Reduction r, int64_t& outer, int64_t& red, int64_t& inner) {
  outer = red = inner = 1;
  for (int d = 0; d < (int)s.size(); ++d) (d < r.first ? outer : d <= r.last ? red : inner) *= s[d];
}

Shape reduced_shape(const Shape& s, Reduction r, bool keep) {
  Shape out;
  for (int d = 0; d < (int)s.size(); ++d) {
    if (d < r.first || d > r.last) out.push_back(s[d]);
    else if (keep) out.push_back(1);
  }
  return out;
}

}  // namespace

void register_mean_ops() {
  register_op({.name = "Mean",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(1);
                     c.expect_dtype(0, DType::kFloat32);
                     Reduction r = axes_of(c.node(), c.rank(0));
                     c.set_output(0, DType::kFloat32, reduced_shape(c.shape(0), r, c.node().attr_bool("keep_dims", false)));
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& x = c.input(0);
                     Reduction r = axes_of(c.node(), x.rank());
                     int64_t outer, red, inner;
                     split(x.shape(), r, outer, red, inner);
                     Tensor& y = c.allocate_output(0, reduced_shape(x.shape(), r, c.node().attr_bool("keep_dims", false)));
                     const float* px = x.data<float>();
                     float* py = y.data<float>();
                     double scale = red ? 1.0 / (double)red : 0.0;
                     parallel_range(c.pool(), outer, [&](int64_t o0, int64_t o1) {
                       std::vector<double> acc(inner);
                       for (int64_t o = o0; o < o1; ++o) {
                         std::fill(acc.begin(), acc.end(), 0.0);
                         const float* base = px + o * red * inner;
                         for (int64_t k = 0; k < red; ++k)
                           for (int64_t j = 0; j < inner; ++j) acc[j] += base[k * inner + j];
                         for (int64_t j = 0; j < inner; ++j) py[o * inner + j] = (float)(acc[j] * scale);
                       }
                     }, std::max<int64_t>(1, graph::kParallelGrain / std::max<int64_t>(red * inner, 1)));
                   },
               .grad =
                   [](GradContext& g) {
                     return std::vector<Output>{make(g.graph(), "MeanGrad", "", {g.dy(), g.x(0)},
                                                     {{"axes", g.node()->attr_ints("axes")}})};
                   }});
  register_op({.name = "MeanGrad",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(2);
                     c.expect_dtype(0, DType::kFloat32);
                     axes_of(c.node(), c.rank(1));
                     c.set_output(0, DType::kFloat32, c.shape(1));
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& dy = c.input(0);
                     const Tensor& x = c.input(1);
                     Reduction r = axes_of(c.node(), x.rank());
                     int64_t outer, red, inner;
                     split(x.shape(), r, outer, red, inner);
                     if (dy.size() != outer * inner) c.fail("dy {} does not match the reduced shape", shape_str(dy.shape()));
                     Tensor& dx = c.allocate_output(0, x.shape());
                     const float* pd = dy.data<float>();
                     float* po = dx.data<float>();
                     float scale = red ? 1.0f / (float)red : 0.0f;
                     parallel_range(c.pool(), outer, [&](int64_t o0, int64_t o1) {
                       for (int64_t o = o0; o < o1; ++o)
                         for (int64_t k = 0; k < red; ++k)
                           for (int64_t j = 0; j < inner; ++j) po[(o * red + k) * inner + j] = pd[o * inner + j] * scale;
                     }, std::max<int64_t>(1, graph::kParallelGrain / std::max<int64_t>(red * inner, 1)));
                   }});
}

Output mean(Graph& g, Output x, std::vector<int64_t> axes, bool keep_dims, const std::string& name) {
  return make(g, "Mean", name, {x}, {{"axes", std::move(axes)}, {"keep_dims", keep_dims}});
}

}  // namespace qat::ops
