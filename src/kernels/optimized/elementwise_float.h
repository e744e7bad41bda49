// Optimised float32 elementwise ops. ADD / SUB / MUL with numpy broadcasting: the reference's
// values bit for bit (out = clamp(a op b) per element, kernels/reference/arithmetic.h; the same IEEE operation in the
// same operand order, the clamp as std::min(std::max(v, lo), hi)). Adjacent axes that are
// contiguous for both inputs merge; the innermost run then reads each input with stride 1 or 0
// (broadcast), 8 lanes per AVX2 step; other inner strides run the reference. Rows (or, for one
// long run, pieces of it) split over the pool.
#pragma once
#include <cstdint>
#include <limits>

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

// A float ADD fused after a convolution (lite's residual-add fusion; optimized/conv_float.h,
// depthwise_float.h): once an output v has the conv's value (its own clamp included), it becomes clamp(v + r, lo, hi), or clamp(r + v, lo, hi)
// when `first` (the residual was the ADD's first operand), r the residual's element at the same
// index (same shape as the output, no broadcasting): the ADD's values bit for bit (the reference
// AddFloat's operation and operand order, the clamp as std::min(std::max(x, lo), hi)). The add runs
// per block of outputs right after the block is computed, while it is still in cache, so the
// conv's output is not written to memory and read back as with a separate ADD.
struct FloatResidual {
  const float* data = nullptr;
  bool first = false;
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
};

// out[i] = clamp(out[i] + r[i]) (or r[i] + out[i] when res.first) for i < n, r = res.data + offset:
// the residual step of FloatResidual on one run of outputs (also used after the reference kernels).
void ApplyFloatResidual(const FloatResidual& res, int64_t offset, float* out, int64_t n,
                        KernelPath path = ActiveKernelPath());

}  // namespace qat::kernels::optimized
