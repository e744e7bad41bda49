// RegisterBuiltinOps (declared in lite/op_resolver.h): one registration per builtin op file.
#include "lite/op_resolver.h"
#include "lite/ops/op_common.h"

namespace qat::lite {

void RegisterBuiltinOps(OpResolver& r) {
  using B = tflite::BuiltinOperator;
  r.AddBuiltin(B::CONV_2D, ops::Register_CONV_2D());
  r.AddBuiltin(B::DEPTHWISE_CONV_2D, ops::Register_DEPTHWISE_CONV_2D());
  r.AddBuiltin(B::FULLY_CONNECTED, ops::Register_FULLY_CONNECTED());
  r.AddBuiltin(B::ADD, ops::Register_ADD());
  r.AddBuiltin(B::SUB, ops::Register_SUB());
  r.AddBuiltin(B::MUL, ops::Register_MUL());
  r.AddBuiltin(B::AVERAGE_POOL_2D, ops::Register_AVERAGE_POOL_2D());
  r.AddBuiltin(B::MAX_POOL_2D, ops::Register_MAX_POOL_2D());
  r.AddBuiltin(B::MEAN, ops::Register_MEAN());
  r.AddBuiltin(B::PAD, ops::Register_PAD());
  r.AddBuiltin(B::RESHAPE, ops::Register_RESHAPE());
  r.AddBuiltin(B::SQUEEZE, ops::Register_SQUEEZE());
  r.AddBuiltin(B::CONCATENATION, ops::Register_CONCATENATION());
  r.AddBuiltin(B::SOFTMAX, ops::Register_SOFTMAX());
  r.AddBuiltin(B::LOGISTIC, ops::Register_LOGISTIC());
  r.AddBuiltin(B::TANH, ops::Register_TANH());
  r.AddBuiltin(B::RELU, ops::Register_RELU());
  r.AddBuiltin(B::RELU6, ops::Register_RELU6());
  r.AddBuiltin(B::HARD_SWISH, ops::Register_HARD_SWISH());
  r.AddBuiltin(B::RESIZE_BILINEAR, ops::Register_RESIZE_BILINEAR());
  r.AddBuiltin(B::DEPTH_TO_SPACE, ops::Register_DEPTH_TO_SPACE());
  r.AddBuiltin(B::QUANTIZE, ops::Register_QUANTIZE());
  r.AddBuiltin(B::DEQUANTIZE, ops::Register_DEQUANTIZE());
  r.AddBuiltin(B::DENSIFY, ops::Register_DENSIFY());
}

}  // namespace qat::lite
