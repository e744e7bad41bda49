// AVERAGE_POOL_2D reference kernels. The average is over the taps inside the input only (padding
// is excluded from both the sum and the count), as in TFLite.
#pragma once
#include <cstdint>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

void AveragePoolFloat(const PoolParams& p, const float* input, float* output);
// Same scale and zero point in and out. The integer mean rounds half away from zero:
// (sum +- count/2) / count with C's truncating division (TFLite's integer_ops::AveragePool).
void AveragePoolInt8(const PoolParams& p, const int8_t* input, int8_t* output);
// uint8 sums are non-negative: (sum + count/2) / count.
void AveragePoolUint8(const PoolParams& p, const uint8_t* input, uint8_t* output);

}  // namespace qat::kernels::reference
