// PAD reference kernel: copies the input into the middle of the output and fills the border with
// pad_value (0.f for float, the output zero point for quantized types: the real value 0).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

struct PadParams {
  int rank = 0;
  int input_dims[kMaxBroadcastRank] = {};
  int before[kMaxBroadcastRank] = {};
  int after[kMaxBroadcastRank] = {};
};

// Type-agnostic: elem_size bytes per element; pad_value points at one element.
void Pad(const PadParams& p, const void* input, void* output, size_t elem_size, const void* pad_value);

}  // namespace qat::kernels::reference
