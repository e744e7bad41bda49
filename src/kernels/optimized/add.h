// Optimised quantized ADD for int8 and uint8, bit-exact twin of kernels/reference/arithmetic.h in
// both modes: TFLite's algorithm (kTflite) and XNNPACK's fixed-point add (kXnnpack, p.requant).
// AVX2 covers the shapes real networks use: equal shapes (residual connections) and a scalar
// second input; other broadcasts, and the portable path, run the reference kernel.
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/reference/arithmetic.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

void AddInt8(const reference::ArithmeticParams& p, const reference::BroadcastShape& s, const int8_t* in1,
             const int8_t* in2, int8_t* out, ThreadPool* pool, KernelPath path = ActiveKernelPath());
void AddUint8(const reference::ArithmeticParams& p, const reference::BroadcastShape& s, const uint8_t* in1,
              const uint8_t* in2, uint8_t* out, ThreadPool* pool, KernelPath path = ActiveKernelPath());

}  // namespace qat::kernels::optimized
