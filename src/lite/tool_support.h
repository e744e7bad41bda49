// Helpers shared by `qat run` and `qat bench`: the default op set, input files -> input bytes.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "lite/op_resolver.h"
#include "qat/interpreter.h"

namespace qat::lite {

// Builtin ops plus the custom ops qat implements (MediaPipe's Convolution2DTransposeBias).
OpResolver DefaultOpResolver();

// The bytes for input `i` of `interp` read from `path`:
//  - .npy: any supported dtype. Same dtype as the input: used as is. float32 data for an
//    int8/uint8/int16 quantized input: quantized with the input's scale and zero point
//    (q = clamp(round(x / scale) + zp)). A different shape of the same rank resizes the input.
//  - anything else: raw little-endian bytes; they must match the input's byte size exactly, or be
//    float32 values (4 bytes each) for a quantized input, which are then quantized as above.
struct InputData {
  std::optional<std::vector<int32_t>> resize;  // new dims, if the file's shape differs
  std::vector<uint8_t> bytes;
  std::string note;                             // "quantized from float32", ... (may be empty)
};
InputData LoadInputFile(const Interpreter& interp, int i, const std::string& path);

// Deterministic pseudo-random contents for every input (benchmarks): uniform over the dtype's
// range for integers, [-1, 1) for floats.
void FillRandomInputs(Interpreter& interp, uint32_t seed = 1);

}  // namespace qat::lite
