// Optimised float32 elementwise ops. ADD / SUB / MUL with numpy broadcasting: the reference's
// values bit for bit (out = clamp(a op b) per element, kernels/reference/arithmetic.h; the same IEEE operation in the
// same operand order, the clamp as std::min(std::max(v, lo), hi)). Adjacent axes that are
// contiguous for both inputs merge; the innermost run then reads each input with stride 1 or 0
// (broadcast), 8 lanes per AVX2 step; other inner strides run the reference. Rows (or, for one
// long run, pieces of it) split over the pool.
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/reference/arithmetic.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

enum class BinaryFloatOp { kAdd, kSub, kMul };

void BinaryFloat(BinaryFloatOp op, const reference::ArithmeticParams& p, const reference::BroadcastShape& s,
                 const float* in1, const float* in2, float* out, ThreadPool* pool,
                 KernelPath path = ActiveKernelPath());

// HARD_SWISH: out[i] = x * std::min(std::max(x + 3, 0), 6) / 6 with x = in[i], the reference's
// operations in its order (a division by 6, not a multiply).
void HardSwishFloat(int64_t n, const float* in, float* out, ThreadPool* pool, KernelPath path = ActiveKernelPath());

// out[i] = std::min(std::max(in[i], lo), hi), the reference ReluXFloat's values (float RELU,
// RELU6, RELU_N1_TO_1, fused clamps); in may equal out.
void ClampFloat(int64_t n, const float* in, float* out, float lo, float hi, ThreadPool* pool,
                KernelPath path = ActiveKernelPath());

}  // namespace qat::kernels::optimized
