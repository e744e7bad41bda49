// Optimised float32 CONV_2D and FULLY_CONNECTED (NHWC, OHWI filters), the same values as the
// reference kernels (kernels/reference/conv.h, fully_connected.h): every output is
// bias + w0*x0 + w1*x1 + ... in the reference's tap order (fy, fx, ic), one float32 multiply and
// one float32 add per tap (no FMA, no reordering; FloatMath::kFused: one FMA per tap), then the clamp; the only difference is the sign
// of a zero: padding taps add w * 0.f (XNNPACK's zero buffer) where the reference skips them.
// Why no FMA: the reference order is XNNPACK's without FMA, i.e. LiteRT's, and fusing breaks that
// parity beyond 1e-4 on the deep MediaPipe pose models (tests/lite/ops_models_test.cpp); on Zen 3
// multiply-then-add costs about 5% on the 1x1 layers of MobileNet (k loop unrolled by two).
//
// Layout: the filter is packed once (PackConvFloat) into panels of 16 output channels,
// [panel][k][16] with k = (fy, fx, ic) and zero-padded channels, plus the bias padded to the same
// width. The GEMM micro-kernel (x86/float_x86.h for AVX2: 6 rows x 16 channels in 12 ymm
// accumulators; a portable C++ twin otherwise) reads up to 6 output pixels' input rows through
// row pointers:
//   - 1x1 filters without padding (any stride) and FULLY_CONNECTED: the pointers go straight into
//     the input (no copy);
//   - filters over few input channels (input_c <= kFloatGatherMaxC, e.g. a network's first
//     layer): the kernel reads each window in place through a table of K offsets (fy, fx, ic
//     -> (fy * dilation_h * input_w + fx * dilation_w) * input_c + ic); a window that crosses the
//     padding is first copied, zeros included, to a per-row patch with the input's row stride;
//   - other filters: the input is copied once per call into a zero-bordered image (the padding
//     made real: PackedConvFloat::padded) whose windows the kernel reads in place through the
//     same kind of offset table (sixteenth session; before, the rows were gathered (im2col, zeros
//     for padding) into a per-task scratch of 6 x K floats: 15 % of SmallCNN's float time at
//     batch 64). The values are the im2col path's: the same taps, zeros where the window leaves
//     the input.
// Narrow layers (output_c <= kFloatNarrowMaxOC, stride_w and dilation_w 1, at least 8 output
// columns: MediaPipe's 1-channel segmentation heads) would waste most of a 16-channel panel; they
// run with output pixels as the vector axis instead: the input rows are first transposed to
// channel planes with zero padding columns, then 8 consecutive output pixels of one channel
// accumulate bias + w * x over (fy, fx, ic) in that order, one broadcast weight per step.
// Blocking: panels are grouped so one group's weights (K x 16 x group) stay in L2 while every
// 6-row tile of the task runs over the group; the tile's rows stay in L1 across the group.
// Threads: ParallelTasks (kernels/optimized/parallel.h), one task per thread: output rows when
// there are at least 8 tiles per thread, else output-channel panels. Each output is computed by
// the same arithmetic whatever the split, so 1 and N threads give identical values.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/optimized/elementwise_float.h"
#include "kernels/optimized/packing.h"
#include "kernels/reference/types.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

inline constexpr int kFloatGemmMR = 6;
inline constexpr int kFloatGemmNR = 16;
inline constexpr int kFloatGatherMaxC = 8;
inline constexpr int kFloatNarrowMaxOC = 4;

struct PackedConvFloat {
  reference::ConvParams p;    // FULLY_CONNECTED: a 1x1 conv over a batches x 1 x 1 x K input
  int64_t K = 0;              // filter_h * filter_w * input_c
  int panels = 0;             // ceil(output_c / 16)
  bool direct = false;        // 1x1 filter, no padding: rows read the input in place
  bool narrow = false;        // few output channels, stride_w 1: pixels are the vector axis
  bool gather = false;        // windows read in place through `offsets` (few input channels)
  int64_t patch = 0;          // gather: floats per border patch (the largest offset + 1)
  std::vector<int32_t> offsets;  // gather / padded: K offsets into a window, in the reference's tap order
  // Other filters over more channels (a 3x3 over 32 or 64): each call first copies the input into
  // a zero-bordered image of pad_h x pad_w pixels per batch (the padding made real, so every
  // window lies inside it), then reads every window in place through `offsets` as gather does:
  // no im2col (9x the input for a 3x3) and no border patches.
  bool padded = false;
  int pad_h = 0, pad_w = 0;
  AlignedVector<float> weights;  // [panel][K][16]
  AlignedVector<float> bias;     // [panels * 16], zeros where the layer has none
};

// filter: OHWI float32; bias: output_c floats or null. p.float_act is the fused clamp.
PackedConvFloat PackConvFloat(const reference::ConvParams& p, const float* filter, const float* bias);
// weights [output_depth][input_depth] (TFLite's FULLY_CONNECTED layout), bias or null.
PackedConvFloat PackFullyConnectedFloat(const reference::FullyConnectedParams& p, const float* weights,
                                        const float* bias);

// Scratch bytes one call with `pool` needs (im2col rows, one block per task); 0 for direct.
size_t ConvFloatScratchBytes(const PackedConvFloat& pc, const ThreadPool* pool);

// input NHWC float32, output NHWC float32 (FC: [batches][output_depth]).
// scratch: ConvFloatScratchBytes(pc, pool) bytes, or null (the call then allocates).
// residual: a fused ADD (FloatResidual, elementwise_float.h), or null.
// path: kAvx512Vnni runs the AVX-512 twins (12 rows x 32 channels: two 6-row tiles x two panels per
// call), kAvx2 the AVX2 kernels, kPortable the C++ ones. math: FloatMath (dispatch.h): kExact
// the reference's values, kFused one FMA per tap (on every path).
void ConvFloat(const PackedConvFloat& pc, const float* input, float* output, void* scratch, ThreadPool* pool,
               KernelPath path = ActiveFloatPath(), const FloatResidual* residual = nullptr,
               FloatMath math = FloatMath::kExact);

// A 1x1 layer without padding, stride 1 (not narrow): output pixel m reads input pixel m alone.
bool ConvFloatContiguous(const PackedConvFloat& pc);
// Such a layer over `pixels` consecutive pixels (input at the first one's channels, output at its
// output channels), on the calling thread: the same values as ConvFloat gives those pixels.
void ConvFloatPixels(const PackedConvFloat& pc, const float* input, int64_t pixels, float* output,
                     KernelPath path = ActiveFloatPath(), FloatMath math = FloatMath::kExact);

// Tests: run the kAvx512Vnni path's kernels compiled on emulated AVX-512 intrinsics
// (x86/float_avx512_emulated_avx2.cpp; needs AVX2) instead of the hardware ones, here and in
// DepthwiseConvFloat.
void SetFloatAvx512EmulationForTests(bool on);
bool Float512EmulatedForTests();

}  // namespace qat::kernels::optimized
