// ConcatV2 along `axis` (negative counts from the end); its gradient slices dy back into pieces
// with Slice(x)[axis, begin, size] (size -1 = to the end).
#include <cstring>

#include "ops/common.h"

namespace qat::ops {
namespace {

int norm_axis(const InferContext& c, int64_t axis, int rank) {
  if (axis < -rank || axis >= rank) c.fail("axis {} out of range for rank {}", axis, rank);
  return (int)(axis < 0 ? axis + rank : axis);
}

// Copies rows of `width` floats from src (row stride src_w) to dst (row stride dst_w).
void copy_rows(int64_t rows, int64_t width, const float* src, int64_t src_w, float* dst, int64_t dst_w) {
  for (int64_t r = 0; r < rows; ++r) std::memcpy(dst + r * dst_w, src + r * src_w, (size_t)width * sizeof(float));
}

}  // namespace

void register_concat_ops() {
  register_op({.name = "ConcatV2",
               .shape_fn =
                   [](InferContext& c) {
                     if (c.num_inputs() < 1) c.fail("needs at least one input");
                     int r = c.rank(0);
                     int axis = norm_axis(c, c.node().attr_int("axis"), r);
                     Shape out = c.shape(0);
                     for (int i = 0; i < c.num_inputs(); ++i) {
                       c.expect_dtype(i, DType::kFloat32);
                       if (c.rank(i) != r) c.fail("input {} has rank {}, input 0 has rank {}", i, c.rank(i), r);
                       for (int d = 0; d < r; ++d) {
                         int64_t a = out[d], b = c.shape(i)[d];
                         if (d == axis) {
                           if (i > 0) out[d] = (a < 0 || b < 0) ? -1 : a + b;
                         } else if (a >= 0 && b >= 0 && a != b) {
                           c.fail("input {} shape {} differs from {} outside axis {}", i, shape_str(c.shape(i)),
                                  shape_str(c.shape(0)), axis);
                         } else if (a < 0) {
                           out[d] = b;
                         }
                       }
                     }
                     c.set_output(0, DType::kFloat32, out);
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Shape& s0 = c.input(0).shape();
                     int r = (int)s0.size();
                     int64_t axis = c.node().attr_int("axis");
                     if (axis < 0) axis += r;
                     Shape out = s0;
                     out[axis] = 0;
                     for (int i = 0; i < c.num_inputs(); ++i) {
                       const Shape& s = c.input(i).shape();
                       for (int d = 0; d < r; ++d)
                         if (d != axis && s[d] != s0[d]) c.fail("input {} shape {} vs {}", i, shape_str(s), shape_str(s0));
                       out[axis] += s[axis];
                     }
                     Tensor& y = c.allocate_output(0, out);
                     int64_t outer = 1, inner = 1;
                     for (int d = 0; d < axis; ++d) outer *= out[d];
                     for (int d = axis + 1; d < r; ++d) inner *= out[d];
                     int64_t off = 0, ow = out[axis] * inner;
                     for (int i = 0; i < c.num_inputs(); ++i) {
                       int64_t w = c.input(i).shape()[axis] * inner;
                       copy_rows(outer, w, c.input(i).data<float>(), w, y.data<float>() + off, ow);
                       off += w;
                     }
                   },
               .grad =
                   [](GradContext& g) {
                     Node* n = g.node();
                     int r = (int)n->output_info(0).shape.size();
                     int64_t axis = n->attr_int("axis");
                     if (axis < 0) axis += r;
                     std::vector<Output> dxs;
                     bool known = true;
                     for (int i = 0; i < n->num_inputs(); ++i) {
                       Output x = n->input(i);
                       known = known && x.node->output_info(x.index).shape[axis] >= 0;
                     }
                     int64_t begin = 0;
                     for (int i = 0; i < n->num_inputs(); ++i) {
                       Output x = n->input(i);
                       if (!known) {
                         // Sizes along the axis known only at run time (e.g. towers concatenated
                         // along the batch): slice by the inputs' run-time shapes.
                         std::vector<Output> in{g.dy()};
                         for (auto& xi : n->inputs()) in.push_back(xi);
                         dxs.push_back(make(g.graph(), "ConcatSlice", "", in, {{"axis", axis}, {"index", (int64_t)i}}));
                         continue;
                       }
                       int64_t size = x.node->output_info(x.index).shape[axis];
                       dxs.push_back(make(g.graph(), "Slice", "", {g.dy()},
                                          {{"axis", axis}, {"begin", begin}, {"size", size}}));
                       begin += size;
                     }
                     return dxs;
                   }});
  // ConcatSlice(dy, x_0, ..., x_n)[axis, index]: the part of dy that ConcatV2 took from x_index
  // (offsets from the x's run-time shapes).
  register_op({.name = "ConcatSlice",
               .shape_fn =
                   [](InferContext& c) {
                     int64_t index = c.node().attr_int("index");
                     if (index < 0 || index + 1 >= c.num_inputs()) c.fail("index {} out of range", index);
                     norm_axis(c, c.node().attr_int("axis"), c.rank(0));
                     c.set_output(0, DType::kFloat32, c.shape(1 + (int)index));
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& dy = c.input(0);
                     int r = dy.rank();
                     int64_t axis = c.node().attr_int("axis");
                     if (axis < 0) axis += r;
                     int64_t index = c.node().attr_int("index");
                     int64_t begin = 0;
                     for (int64_t j = 0; j < index; ++j) begin += c.input(1 + (int)j).shape()[axis];
                     const Shape& out = c.input(1 + (int)index).shape();
                     int64_t size = out[axis], dim = dy.shape()[axis];
                     if ((int)out.size() != r || begin + size > dim)
                       c.fail("dy {} does not fit the concatenated inputs", shape_str(dy.shape()));
                     Tensor& y = c.allocate_output(0, out);
                     int64_t outer = 1, inner = 1;
                     for (int d = 0; d < axis; ++d) outer *= out[d];
                     for (int d = axis + 1; d < r; ++d) inner *= out[d];
                     copy_rows(outer, size * inner, dy.data<float>() + begin * inner, dim * inner, y.data<float>(),
                               size * inner);
                   }});
  register_op({.name = "Slice",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(1);
                     c.expect_dtype(0, DType::kFloat32);
                     int r = c.rank(0);
                     int axis = norm_axis(c, c.node().attr_int("axis"), r);
                     int64_t begin = c.node().attr_int("begin"), size = c.node().attr_int("size");
                     int64_t dim = c.shape(0)[axis];
                     if (begin < 0 || (dim >= 0 && (begin > dim || (size >= 0 && begin + size > dim))))
                       c.fail("slice [{}, +{}) out of range for dimension {} of size {}", begin, size, axis, dim);
                     Shape out = c.shape(0);
                     out[axis] = size >= 0 ? size : (dim >= 0 ? dim - begin : -1);
                     c.set_output(0, DType::kFloat32, out);
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& x = c.input(0);
                     int r = x.rank();
                     int64_t axis = c.node().attr_int("axis");
                     if (axis < 0) axis += r;
                     int64_t begin = c.node().attr_int("begin"), size = c.node().attr_int("size");
                     int64_t dim = x.shape()[axis];
                     if (size < 0) size = dim - begin;
                     if (begin < 0 || begin + size > dim) c.fail("slice out of range for {}", shape_str(x.shape()));
                     Shape out = x.shape();
                     out[axis] = size;
                     Tensor& y = c.allocate_output(0, out);
                     int64_t outer = 1, inner = 1;
                     for (int d = 0; d < axis; ++d) outer *= out[d];
                     for (int d = axis + 1; d < r; ++d) inner *= out[d];
                     copy_rows(outer, size * inner, x.data<float>() + begin * inner, dim * inner, y.data<float>(),
                               size * inner);
                   }});
}

Output concat(Graph& g, const std::vector<Output>& xs, int axis, const std::string& name) {
  return make(g, "ConcatV2", name, xs, {{"axis", (int64_t)axis}});
}

}  // namespace qat::ops
