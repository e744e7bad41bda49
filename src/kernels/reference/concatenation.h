// CONCATENATION reference kernels. Each input is seen as [outer, axis_size_i * inner]; the output
// interleaves them along the axis.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

struct ConcatParams {
  int num_inputs = 0;
  int64_t outer = 1;            // product of the dims before the axis
  int64_t inner = 1;            // product of the dims after the axis
  const int* axis_sizes = nullptr;  // num_inputs entries
};

// Plain copy (float, or quantized inputs that share the output's scale and zero point).
void Concatenation(const ConcatParams& p, const void* const* inputs, void* output, size_t elem_size);

// Quantized inputs with their own (scale, zero point): TFLite's ConcatenationWithScaling. An input
// with the output's parameters is copied; any other is requantized in float32:
//   q_out = round(q_in * s + (-Z_in * s)) + Z_out, s = s_in / s_out, clamped to the type.
struct ConcatQuant {
  float scale = 1.f;
  int32_t zero_point = 0;
};
void ConcatenationInt8(const ConcatParams& p, const ConcatQuant* input_quant, ConcatQuant output_quant,
                       const int8_t* const* inputs, int8_t* output);
void ConcatenationUint8(const ConcatParams& p, const ConcatQuant* input_quant, ConcatQuant output_quant,
                        const uint8_t* const* inputs, uint8_t* output);

}  // namespace qat::kernels::reference
