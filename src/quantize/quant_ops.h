// The graph ops of the QAT rewrite (registered by qat::quantize::register_quantize_ops()).
//
//   FakeQuantWithMinMaxVars(x, min, max [, step])            -> y       [num_bits, narrow_range, quant_delay]
//   FakeQuantWithMinMaxVarsPerChannel(x, min[C], max[C] [, step]) -> y  (C = product of x's trailing dims)
//     Gradients: FakeQuantWithMinMaxVarsGradient / ...PerChannelGradient(dy, x, min, max [, step])
//     -> dx, dmin, dmax. With a `step` input and quant_delay > 0, y = x while step < quant_delay.
//   QuantMinMax(x)                                  -> min, max  [channels: 0 = per tensor]
//   QuantRangeLastValue(min_0, max_0, ...)          -> min, max  [num_bits, narrow_range, symmetric]
//   QuantRangeEma(min_var, max_var, min_0, max_0, ...) -> min, max  (stateful: EMA of the vars)
//                                                   [ema_decay, num_bits, narrow_range, symmetric, init_from_batch]
//   BnFoldScale(gamma, moving_var)                  -> scale = gamma / sqrt(var + eps), inv_std  [epsilon]
//   BnFoldBias(gamma, beta, moving_mean, moving_var) -> beta - gamma * mean / sqrt(var + eps)     [epsilon]
//   BnChannelSums(y, scale, moving_mean, step)      -> y (pass-through), stats[2C+1], shift[C]     [freeze_bn_delay]
//   BnFoldApply(y, stats, shift, scale, gamma, beta, moving_mean, moving_var, step) -> out
//                                                   [epsilon, freeze_bn_delay]   (grad: BnFoldApplyGrad)
//   BnFoldMovingUpdate(mean_var, var_var, stats, shift, scale, step) -> mean  (stateful) [decay, freeze_bn_delay]
// The ranges (QuantMinMax + QuantRange*) carry no gradient, as in TF (Assign is not differentiable).
#pragma once
#include <cstdint>

#include "graph/parallel.h"
#include "qat/graph.h"

namespace qat::quantize::detail {

using graph::AttrMap;
using graph::GradContext;
using graph::InferContext;
using graph::KernelContext;
using graph::Node;
using graph::OpDef;
using graph::Output;

void register_fake_quant_ops();
void register_quant_range_ops();
void register_bn_fold_ops();

// The int64 step of an optional input (-1 when the node has fewer inputs than `index + 1`).
inline int64_t step_input(const KernelContext& c, int index) {
  if (c.num_inputs() <= index) return -1;
  const Tensor& t = c.input(index);
  if (t.dtype() == DType::kInt64) return t.data<int64_t>()[0];
  if (t.dtype() == DType::kInt32) return t.data<int32_t>()[0];
  c.fail("step input must be int64, got {}", dtype_name(t.dtype()));
}

}  // namespace qat::quantize::detail
