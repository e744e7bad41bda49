// MAX_POOL_2D reference kernels: the maximum over the window taps inside the input (padding never
// wins), then the fused activation clamp. Exact in every type, so there is no requantization.
#pragma once
#include <cstdint>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

void MaxPoolFloat(const PoolParams& p, const float* input, float* output);
void MaxPoolInt8(const PoolParams& p, const int8_t* input, int8_t* output);
void MaxPoolUint8(const PoolParams& p, const uint8_t* input, uint8_t* output);

}  // namespace qat::kernels::reference
