// A float 1x1 CONV_2D ("expand": no padding, stride 1, ConvFloatContiguous) whose output only a
// float DEPTHWISE_CONV_2D reads, run as one pass (the interpreter's FuseFloatExpandDepthwise,
// docs/interpreter.md): each task keeps a ring of the expand's output rows for its depthwise output
// rows, computing each expanded row once (ConvFloatPixels) just before the depthwise rows that read
// it (DepthwiseConvFloatRows), so the expanded tensor (MediaPipe's 112x112x64: 3.2 MB) never goes
// to memory and comes back. Every value is the one the two ops give separately: the same kernels
// over the same taps in the same order, only the rows' addresses differ.
#pragma once
#include <cstddef>

#include "kernels/dispatch.h"
#include "kernels/optimized/conv_float.h"
#include "kernels/optimized/depthwise_float.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

// pc: the expand (ConvFloatContiguous), pd: the depthwise over its output (pd.p.input_* = the
// expand's output shape; depth multiplier 1). input: the expand's input (NHWC), output: the
// depthwise's output. Tasks: output rows (batch x height) split evenly; a task's first rows
// compute the few expanded rows its neighbour also computes (the window's overlap).
void ExpandDepthwiseFloat(const PackedConvFloat& pc, const PackedDepthwiseFloat& pd, const float* input,
                          float* output, ThreadPool* pool, KernelPath path = ActiveFloatPath(),
                          FloatMath math = FloatMath::kExact);

// Whether the pair can run fused: pc contiguous, pd depth multiplier 1, pc's output shape pd's input.
bool ExpandDepthwiseApplies(const PackedConvFloat& pc, const PackedDepthwiseFloat& pd);

// Rows in a task's ring (tests: 0 = the default, about 256 KiB of rows, at least the window's
// height; a value below the window's height is raised to it).
void SetExpandRingRowsForTests(int rows);

}  // namespace qat::kernels::optimized
