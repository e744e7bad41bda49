// Pad with zeros: attr paddings = [before_0, after_0, before_1, after_1, ...] (non-negative).
// PadGrad(dy, x) crops the padding back off.
#include <cstring>

#include "ops/common.h"

namespace qat::ops {
namespace {

std::vector<int64_t> paddings_of(const Node& n, int rank) {
  const auto& p = n.attr_ints("paddings");
  if ((int)p.size() != 2 * rank)
    fail<ShapeError>("{}: 'paddings' needs {} values (before, after per dimension), got {}", n.describe(), 2 * rank,
                     p.size());
  for (auto v : p)
    if (v < 0) fail<ShapeError>("{}: negative padding {}", n.describe(), v);
  return p;
}

// Walks every row (all dims but the last) of the smaller tensor `in_shape` inside the larger
// padded tensor and calls f(offset_in_small, offset_in_big) for each contiguous row.
template <class F>
void for_rows(const Shape& small, const Shape& big, const std::vector<int64_t>& pads, F f) {
  int r = (int)small.size();
  if (r == 0) {
    f(0, 0);
    return;
  }
  int64_t rows = 1;
  for (int d = 0; d < r - 1; ++d) rows *= small[d];
  std::vector<int64_t> idx(r, 0);
  for (int64_t row = 0; row < rows; ++row) {
    int64_t off_big = 0;
    for (int d = 0; d < r; ++d) off_big = off_big * big[d] + (d < r - 1 ? idx[d] + pads[2 * d] : pads[2 * d]);
    f(row * small[r - 1], off_big);
    for (int d = r - 2; d >= 0; --d) {
      if (++idx[d] < small[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace

void register_pad_ops() {
  register_op({.name = "Pad",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(1);
                     c.expect_dtype(0, DType::kFloat32);
                     auto p = paddings_of(c.node(), c.rank(0));
                     Shape out = c.shape(0);
                     for (size_t d = 0; d < out.size(); ++d)
                       if (out[d] >= 0) out[d] += p[2 * d] + p[2 * d + 1];
                     c.set_output(0, DType::kFloat32, out);
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& x = c.input(0);
                     auto p = paddings_of(c.node(), x.rank());
                     Shape out = x.shape();
                     for (size_t d = 0; d < out.size(); ++d) out[d] += p[2 * d] + p[2 * d + 1];
                     Tensor& y = c.allocate_output(0, out);
                     std::memset(y.raw(), 0, y.nbytes());
                     if (x.size() == 0) return;
                     int64_t w = x.rank() ? x.shape().back() : 1;
                     const float* px = x.data<float>();
                     float* py = y.data<float>();
                     for_rows(x.shape(), out, p, [&](int64_t s, int64_t b) { std::memcpy(py + b, px + s, w * 4); });
                   },
               .grad =
                   [](GradContext& g) {
                     return std::vector<Output>{make(g.graph(), "PadGrad", "", {g.dy(), g.x(0)},
                                                     {{"paddings", g.node()->attr_ints("paddings")}})};
                   }});
  register_op({.name = "PadGrad",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(2);
                     paddings_of(c.node(), c.rank(1));
                     c.set_output(0, DType::kFloat32, c.shape(1));
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& dy = c.input(0);
                     const Tensor& x = c.input(1);
                     auto p = paddings_of(c.node(), x.rank());
                     Tensor& dx = c.allocate_output(0, x.shape());
                     if (x.size() == 0) return;
                     int64_t w = x.rank() ? x.shape().back() : 1;
                     const float* pd = dy.data<float>();
                     float* po = dx.data<float>();
                     for_rows(x.shape(), dy.shape(), p, [&](int64_t s, int64_t b) { std::memcpy(po + s, pd + b, w * 4); });
                   }});
}

Output pad(Graph& g, Output x, const std::vector<std::pair<int64_t, int64_t>>& paddings, const std::string& name) {
  std::vector<int64_t> flat;
  for (auto [a, b] : paddings) {
    flat.push_back(a);
    flat.push_back(b);
  }
  return make(g, "Pad", name, {x}, {{"paddings", flat}});
}

}  // namespace qat::ops
