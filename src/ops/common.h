// Shared helpers of the standard ops: node creation for builders, attribute parsing, the
// convolution/pooling geometry (TF SAME/VALID rules) and broadcasting.
#pragma once
#include <string>
#include <vector>

#include "graph/parallel.h"
#include "ops/kernels/float_kernels.h"
#include "qat/graph.h"
#include "qat/ops.h"

namespace qat::ops {

using graph::AttrMap;
using graph::GradContext;
using graph::InferContext;
using graph::KernelContext;
using graph::OpDef;
using graph::parallel_range;
using graph::register_op;
using graph::TensorInfo;

// Adds a node named `name` (or a unique name derived from `op`) under the current scope.
inline Node* make_node(Graph& g, const std::string& op, const std::string& name, std::vector<Output> inputs,
                       AttrMap attrs = {}) {
  return g.add_node(op, g.unique_name(name.empty() ? op : name), std::move(inputs), std::move(attrs));
}
inline Output make(Graph& g, const std::string& op, const std::string& name, std::vector<Output> inputs,
                   AttrMap attrs = {}) {
  return make_node(g, op, name, std::move(inputs), std::move(attrs))->output(0);
}

// Product of dims, or -1 if any is unknown.
inline int64_t static_elements(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) {
    if (d < 0) return -1;
    n *= d;
  }
  return n;
}

// A pair attribute (strides, dilations, ksize): 2 values [h, w] or TF's 4 values [1, h, w, 1].
void hw_pair(const Node& n, const std::string& key, std::vector<int64_t> dflt, int& h, int& w);

struct Window {  // resolved along one spatial axis
  int64_t out = -1, pad_before = 0, pad_after = 0;
};
// TF rules. SAME: out = ceil(in / stride), pad_total = max((out-1)*stride + (k-1)*dil + 1 - in, 0),
// pad_before = pad_total / 2. VALID: out = ceil((in - (k-1)*dil) / stride). in < 0 -> out -1.
Window window(const Node& n, const std::string& padding, int64_t in, int k, int stride, int dil);

// Geometry of a Conv2D/DepthwiseConv2dNative node for the given NHWC input and filter shapes.
kernels::ConvGeom conv_geom(const Node& n, const Shape& x, const Shape& w, bool depthwise);
kernels::PoolGeom pool_geom(const Node& n, const Shape& x);

// numpy broadcasting of two static shapes (-1 = unknown); fails naming the node.
Shape broadcast_shape(const InferContext& c, const Shape& a, const Shape& b);
// Run-time broadcast of float binary ops: y[i] = f(a[ia], b[ib]).
Shape broadcast_runtime(const KernelContext& c, const Shape& a, const Shape& b);

// Registration functions, one per op file (called by register_standard_ops).
void register_conv2d_ops();
void register_depthwise_ops();
void register_matmul_ops();
void register_bias_add_ops();
void register_batch_norm_ops();
void register_activation_ops();
void register_elementwise_ops();
void register_concat_ops();
void register_pool_ops();
void register_mean_ops();
void register_pad_ops();
void register_reshape_ops();
void register_softmax_ops();
void register_cross_entropy_ops();
void register_fusions();

}  // namespace qat::ops
