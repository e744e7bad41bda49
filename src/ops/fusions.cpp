// Executor fusions (graph::FusionRule) of the standard ops. A SmallCNN training step spends as
// much time streaming activations through batch norm and ReLU as in the convolutions, so:
//   FusedBatchNorm(training) -> Relu/Relu6       one pass: y = act(bn(x)); the normalised
//                                                pre-activation is never written
//   ReluGrad/Relu6Grad -> FusedBatchNormGrad     the activation mask is applied inside the BN
//                                                backward pass (the masked dy is never written)
// The graph keeps the separate TF ops (the QAT rewrite and the converter match them); the
// results equal the unfused chain up to float rounding (tests/ops/fusion_test.cpp).
#include "ops/common.h"

namespace qat::ops {
namespace {

kernels::Act act_of(const std::string& op) {
  return op == "Relu6" || op == "Relu6Grad" ? kernels::Act::kRelu6 : kernels::Act::kRelu;
}

bool training_bn(const Node& bn) { return bn.attr_bool("is_training", true); }

// Inputs: [x, gamma, beta, mean, var | (fused)]; outputs: [y (skipped), batch_mean, batch_var,
// saved_var | act_y].
void bn_act_forward(KernelContext& c, const Node& bn, const Node& act) {
  const Tensor& x = c.input(0);
  int C = (int)x.dim(-1);
  int64_t rows = C ? x.size() / C : 0;
  for (int i = 1; i < 5; ++i)
    if (c.input(i).size() != C) c.fail("input {} has {} values, expected {}", i, c.input(i).size(), C);
  if (rows < 1) c.fail("training-mode batch norm needs at least one row, input is {}", shape_str(x.shape()));
  float eps = (float)bn.attr_float("epsilon", 1e-3);
  Tensor& bm = c.allocate_output(1, {C});
  Tensor& bv = c.allocate_output(2, {C});
  Tensor& sv = c.allocate_output(3, {C});
  Tensor& y = c.allocate_output(4, x.shape());
  kernels::batch_norm_act_forward_training(rows, C, x.data<float>(), c.input(1).data<float>(), c.input(2).data<float>(),
                                           eps, act_of(act.op()), y.data<float>(), bm.data<float>(), sv.data<float>());
  float corr = rows > 1 ? (float)rows / (float)(rows - 1) : 1.0f;  // unbiased, as the unfused op
  for (int j = 0; j < C; ++j) bv.data<float>()[j] = sv.data<float>()[j] * corr;
}

// Inputs: [dy, y | (fused), x, gamma, mean, saved_var]; outputs: [masked dy (skipped) | dx,
// dgamma, dbeta].
void act_bn_backward(KernelContext& c, const Node& act_grad, const Node& bn_grad) {
  const Tensor& dy = c.input(0);
  const Tensor& y = c.input(1);
  const Tensor& x = c.input(3);
  int C = (int)x.dim(-1);
  int64_t rows = C ? x.size() / C : 0;
  if (dy.shape() != x.shape() || y.shape() != x.shape())
    c.fail("dy {} / y {} do not match x {}", shape_str(dy.shape()), shape_str(y.shape()), shape_str(x.shape()));
  float eps = (float)bn_grad.attr_float("epsilon", 1e-3);
  Tensor& dx = c.allocate_output(1, x.shape());
  Tensor& dgamma = c.allocate_output(2, {C});
  Tensor& dbeta = c.allocate_output(3, {C});
  kernels::batch_norm_act_backward(rows, C, x.data<float>(), y.data<float>(), dy.data<float>(), c.input(4).data<float>(),
                                   c.input(5).data<float>(), c.input(6).data<float>(), eps, act_of(act_grad.op()),
                                   dx.data<float>(), dgamma.data<float>(), dbeta.data<float>());
}

}  // namespace

void register_fusions() {
  for (std::string act : {"Relu", "Relu6"}) {
    graph::register_fusion({.name = "FusedBatchNorm+" + act,
                            .first_op = "FusedBatchNorm",
                            .second_op = act,
                            .first_output = 0,
                            .second_input = 0,
                            .applies = [](const Node& bn, const Node&) { return training_bn(bn); },
                            .kernel = bn_act_forward});
    graph::register_fusion({.name = act + "Grad+FusedBatchNormGrad",
                            .first_op = act + "Grad",
                            .second_op = "FusedBatchNormGrad",
                            .first_output = 0,
                            .second_input = 0,
                            .applies = [](const Node&, const Node& bg) { return training_bn(bg); },
                            .kernel = act_bn_backward});
  }
}

}  // namespace qat::ops
