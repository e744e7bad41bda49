// Reshape(x)[shape]: one -1 is inferred, 0 copies the input's dimension (so [0,-1] flattens a
// batch of unknown size). The output shares x's storage. ReshapeLike(dy, x) reshapes a
// gradient back to x's run-time shape.
#include "ops/common.h"

namespace qat::ops {
namespace {

// Resolves 0 entries against `in`; -1 stays (inferred by Tensor::reshaped at run time).
Shape resolve(const Node& n, const Shape& in, std::vector<int64_t> target) {
  int minus = 0;
  for (size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0) {
      if (i >= in.size()) fail<ShapeError>("{}: shape entry {} is 0 but the input has rank {}", n.describe(), i, in.size());
      target[i] = in[i];
    } else if (target[i] == -1) {
      ++minus;
    } else if (target[i] < 0) {
      fail<ShapeError>("{}: invalid shape entry {}", n.describe(), target[i]);
    }
  }
  if (minus > 1) fail<ShapeError>("{}: more than one -1 in shape [{}]", n.describe(), fmt::join(target, ","));
  return target;
}

}  // namespace

void register_reshape_ops() {
  register_op({.name = "Reshape",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(1);
                     Shape in = c.shape(0);
                     Shape out = resolve(c.node(), in, c.node().attr_ints("shape"));
                     int64_t nin = static_elements(in);
                     // Infer the -1 statically when everything else is known.
                     int64_t known = 1;
                     int unknown = -1, n_unknown = 0;
                     for (size_t i = 0; i < out.size(); ++i) {
                       if (out[i] < 0) {
                         unknown = (int)i;
                         ++n_unknown;
                       } else {
                         known *= out[i];
                       }
                     }
                     if (n_unknown == 0 && nin >= 0 && nin != known)
                       c.fail("cannot reshape {} ({} elements) to {}", shape_str(in), nin, shape_str(out));
                     if (n_unknown == 1 && nin >= 0) {
                       if (known == 0 || nin % known != 0) c.fail("cannot reshape {} to {}", shape_str(in), shape_str(out));
                       out[unknown] = nin / known;
                     }
                     c.set_output(0, c.dtype(0), out);
                   },
               .kernel =
                   [](KernelContext& c) {
                     const Tensor& x = c.input(0);
                     c.set_output(0, x.reshaped(resolve(c.node(), x.shape(), c.node().attr_ints("shape"))));
                   },
               .grad =
                   [](GradContext& g) {
                     return std::vector<Output>{make(g.graph(), "ReshapeLike", "", {g.dy(), g.x(0)})};
                   }});
  register_op({.name = "ReshapeLike",
               .shape_fn =
                   [](InferContext& c) {
                     c.expect_inputs(2);
                     c.set_output(0, c.dtype(0), c.shape(1));
                   },
               .kernel = [](KernelContext& c) { c.set_output(0, c.input(0).reshaped(c.input(1).shape())); }});
}

Output reshape(Graph& g, Output x, Shape shape, const std::string& name) {
  return make(g, "Reshape", name, {x}, {{"shape", std::vector<int64_t>(shape)}});
}

Output flatten(Graph& g, Output x, const std::string& name) {
  const Shape& s = x.node->output_info(x.index).shape;
  if (s.size() < 1) fail<ShapeError>("flatten: input {} must have rank >= 1", x.str());
  int64_t rest = 1;
  for (size_t i = 1; i < s.size(); ++i) {
    if (s[i] < 0) return reshape(g, x, {0, -1}, name.empty() ? "Flatten" : name);
    rest *= s[i];
  }
  return reshape(g, x, {-1, rest}, name.empty() ? "Flatten" : name);
}

}  // namespace qat::ops
