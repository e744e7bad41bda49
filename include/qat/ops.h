// qat::ops — builders for the standard ops (NHWC activations, TF layouts for filters).
//
// Each builder adds one node (op names follow TensorFlow's, so the QAT rewrite and the converter
// match the same names as tf.contrib.quantize and the TFLite converter) and returns its output.
// `name` empty = a unique default name derived from the op under the current name scope.
// Shape/attribute errors are thrown at build time as ShapeError naming the node.
//
// Op names and their inputs -> outputs (attrs in brackets):
//   Placeholder                    -> y                  [dtype, shape]
//   Const                          -> y                  [value]
//   Variable                       -> value              [dtype, shape, trainable, init]
//   Conv2D(x, w[KH,KW,C,O])        -> y                  [strides(2), padding SAME|VALID, dilations(2)]
//   DepthwiseConv2dNative(x, w[KH,KW,C,M]) -> y          [same attrs]
//   MatMul(a, b)                   -> y                  [transpose_a, transpose_b]
//   BiasAdd(x, b[C])               -> y
//   FusedBatchNorm(x, gamma, beta, mean, var) -> y, batch_mean, batch_var(unbiased), saved_var(biased)
//                                                        [epsilon, is_training]
//   Relu, Relu6, Identity, Softmax (last axis)
//   Add, Sub, Mul (broadcasting: equal shapes, or one shape a suffix of the other, or scalar)
//   ConcatV2(x...)                 -> y                  [axis]
//   MaxPool, AvgPool               -> y                  [ksize(2), strides(2), padding]
//   Mean(x)                        -> y                  [axes, keep_dims]
//   Pad(x)                         -> y                  [paddings: 2*rank ints (before, after)...]
//   Reshape(x)                     -> y                  [shape; one -1 allowed, 0 copies input dim]
//   SoftmaxCrossEntropyWithLogits(logits[N,K], labels[N,K] one-hot)  -> loss[N], backprop[N,K]
//   SparseSoftmaxCrossEntropyWithLogits(logits[N,K], labels[N] int32) -> loss[N], backprop[N,K]
// Gradient-only ops (added by gradients()): Conv2DBackpropInput, Conv2DBackpropFilter,
// DepthwiseConv2dNativeBackpropInput/Filter, BiasAddGrad, FusedBatchNormGrad, ReluGrad,
// Relu6Grad, MaxPoolGrad, AvgPoolGrad, MeanGrad, SoftmaxGrad, ReshapeLike, SumToShapeOf, Slice.
#pragma once
#include <string>
#include <vector>

#include "qat/graph.h"

namespace qat::ops {

using graph::Graph;
using graph::Node;
using graph::Output;

// Registers every standard op (and graph::register_core_ops). Idempotent; call before building.
void register_standard_ops();

Output placeholder(Graph& g, DType dtype, Shape shape, const std::string& name = "");
Output constant(Graph& g, Tensor value, const std::string& name = "");
// A variable node; its value lives in the VariableStore under the node's name. `init` is the
// initial value (saved as the node's "init" attribute). Registered in kGlobalVariables and, when
// trainable, kTrainableVariables.
Output variable(Graph& g, const std::string& name, Tensor init, bool trainable = true);

struct ConvOpts {
  std::vector<int64_t> strides{1, 1};
  std::string padding = "SAME";  // or "VALID"
  std::vector<int64_t> dilations{1, 1};
};
Output conv2d(Graph& g, Output x, Output w, const ConvOpts& o = {}, const std::string& name = "");
Output depthwise_conv2d(Graph& g, Output x, Output w, const ConvOpts& o = {}, const std::string& name = "");
Output matmul(Graph& g, Output a, Output b, bool transpose_a = false, bool transpose_b = false,
              const std::string& name = "");
Output bias_add(Graph& g, Output x, Output b, const std::string& name = "");

struct BatchNormResult {
  Output y;
  Node* bn = nullptr;           // the FusedBatchNorm node
  Node* update_mean = nullptr;  // AssignMovingAverage nodes (training only), also in kUpdateOps
  Node* update_var = nullptr;
};
// TF semantics: training normalises with batch statistics and (decay) updates the moving
// averages: moving -= (1 - decay) * (moving - batch) (variance unbiased). Inference uses the
// moving statistics. gamma/beta/moving_mean/moving_var are usually variables.
BatchNormResult batch_norm(Graph& g, Output x, Output gamma, Output beta, Output moving_mean, Output moving_var,
                           bool training, double decay = 0.999, double epsilon = 1e-3,
                           const std::string& name = "");

Output relu(Graph& g, Output x, const std::string& name = "");
Output relu6(Graph& g, Output x, const std::string& name = "");
Output identity(Graph& g, Output x, const std::string& name = "");
Output add(Graph& g, Output a, Output b, const std::string& name = "");
Output sub(Graph& g, Output a, Output b, const std::string& name = "");
Output mul(Graph& g, Output a, Output b, const std::string& name = "");
Output add_n(Graph& g, const std::vector<Output>& xs, const std::string& name = "");
Output concat(Graph& g, const std::vector<Output>& xs, int axis, const std::string& name = "");

struct PoolOpts {
  std::vector<int64_t> ksize{2, 2};
  std::vector<int64_t> strides{2, 2};
  std::string padding = "VALID";
};
Output max_pool(Graph& g, Output x, const PoolOpts& o = {}, const std::string& name = "");
Output avg_pool(Graph& g, Output x, const PoolOpts& o = {}, const std::string& name = "");
Output mean(Graph& g, Output x, std::vector<int64_t> axes, bool keep_dims = false, const std::string& name = "");
// paddings: {{before, after}, ...} one pair per dimension (zeros).
Output pad(Graph& g, Output x, const std::vector<std::pair<int64_t, int64_t>>& paddings,
           const std::string& name = "");
Output reshape(Graph& g, Output x, Shape shape, const std::string& name = "");
Output flatten(Graph& g, Output x, const std::string& name = "");  // [N, ...] -> [N, prod]
Output softmax(Graph& g, Output logits, const std::string& name = "");
// Per-example loss [N]. labels: int32 [N] class ids (sparse) or float [N,K] one-hot/probabilities.
Output softmax_cross_entropy(Graph& g, Output logits, Output labels, const std::string& name = "");

}  // namespace qat::ops
