// The float twin of a quantized .tflite model: the same graph (tensors, operators, options,
// inputs/outputs, signatures), with every quantized tensor turned into float32. Constants are
// dequantized (real = scale * (q - zero_point), per channel along quantized_dimension: int8/uint8
// weights and int32 biases); quantized activations become plain float32 tensors. QUANTIZE and
// DEQUANTIZE operators that end up float32 -> float32 are removed (their consumers read the
// producer's tensor). Unquantized tensors (RESHAPE's int32 shape, float16 constants) are kept.
//
// Use: `qat convert MODEL_INT8.tflite --out MODEL_FLOAT.tflite` (inference type float), to time
// qat's float path against its int8 path on the same network and trained weights.
#pragma once
#include "qat/tflite.h"

namespace qat::tfl {

ModelDesc FloatTwin(const ModelDesc& quantized);

}  // namespace qat::tfl
