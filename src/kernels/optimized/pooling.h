// Optimised MAX_POOL_2D and AVERAGE_POOL_2D for int8, uint8 and float32, bit-exact twins of
// kernels/reference/max_pool.h and average_pool.h (pooling has no requantization: both modes are
// the same computation). AVX2: channels are the vector axis; max pool uses vpmaxsb / vpmaxub on
// 32 channels; average pool sums 8 channels in int32 and divides in double, which is exact here
// (|sum| < 2^31 and the quotient's distance to the next integer, >= 1/count, is far above double
// rounding), then applies the reference's half-away-from-zero rounding rule. Output rows are split
// over the pool. The portable path is the reference kernel itself (plain C++, one thread).
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/reference/types.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

void MaxPoolInt8(const reference::PoolParams& p, const int8_t* input, int8_t* output, ThreadPool* pool,
                 KernelPath path = ActiveKernelPath());
void MaxPoolUint8(const reference::PoolParams& p, const uint8_t* input, uint8_t* output, ThreadPool* pool,
                  KernelPath path = ActiveKernelPath());
void AveragePoolInt8(const reference::PoolParams& p, const int8_t* input, int8_t* output, ThreadPool* pool,
                     KernelPath path = ActiveKernelPath());
void AveragePoolUint8(const reference::PoolParams& p, const uint8_t* input, uint8_t* output, ThreadPool* pool,
                      KernelPath path = ActiveKernelPath());
// float32: the reference's values exactly (max from the lowest float, NaN inputs skipped as
// std::max does; average summed in float32 in the window's order, divided by the tap count).
void MaxPoolFloat(const reference::PoolParams& p, const float* input, float* output, ThreadPool* pool,
                  KernelPath path = ActiveKernelPath());
void AveragePoolFloat(const reference::PoolParams& p, const float* input, float* output, ThreadPool* pool,
                      KernelPath path = ActiveKernelPath());

}  // namespace qat::kernels::optimized
