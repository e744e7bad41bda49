// Optimised DEPTHWISE_CONV_2D for int8 and uint8, bit-exact twin of
// kernels/reference/depthwise_conv.h in both requantization modes.
//
// AVX2 path (any depth multiplier, up to 64 pair taps): channels are the vector axis. Each task
// (a range of output rows x a group of 16-channel blocks) keeps a small ring of "pair rows": two
// consecutive input rows widened to int16 and interleaved channel by channel in a block-planar
// layout ([block][padded pixel][32]), padding materialised as Z_in, so that one vpmaddwd of a
// pair row with a pre-interleaved weight pair is two vertically adjacent filter taps, with no
// shuffle in the inner loop (see x86/depthwise_x86.h). Each pair row is built once per task pass
// and stays in cache (the ring is kept under 64 KiB: wider layers take several passes over the
// rows, a group of blocks each) while the output rows that need it are computed. The micro-kernel runs 16
// channels x 4 output pixels; the input offset is folded into the bias
// (bias + input_offset * sum(w)) and padding taps read Z_in, whose product cancels the folded term
// exactly where the reference skips the tap (int32 arithmetic wraps in both). A depth multiplier
// M > 1 is the same computation on pair rows whose output channel c holds input channel c / M.
//
// Threads: the tasks are (row range, channel group) pairs, one per thread: rows when there are
// enough of them, else channel groups (batch-1 7x7 layers). Every output byte is computed by the
// same arithmetic whatever the split, so 1 and N threads give identical bytes.
//
// Portable path (and filters with more than 64 taps): the reference arithmetic on the packed
// int32 weights, output rows split over the threads.
#pragma once
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/optimized/packing.h"
#include "kernels/reference/types.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

struct PackedDepthwise {
  reference::ConvParams p;
  bool is_uint8 = false;
  int c_pad = 0;                   // output_c rounded up to 16
  AlignedVector<int32_t> weights;  // portable: [tap][c_pad], w - Z_w
  AlignedVector<int32_t> bias;     // portable: [c_pad]
  RequantArrays rq;                // portable: [c_pad]
  // AVX2 (see x86/depthwise_x86.h): weights [parity][block][pair tap][32], output-stage
  // parameters [block][2][kDwFields][8], folded bias included.
  AlignedVector<int16_t> dw_weights;
  size_t dw_weights_odd = 0;  // offset of parity 1 in dw_weights
  int pair_rows[2] = {0, 0};  // pair rows an output row reads, by parity of its first input row
  int pair_taps[2] = {0, 0};  // pair_rows * filter_w
  AlignedVector<int32_t> dw_params;
  bool any_left = false;     // some channel's multiplier is >= 1 (left shift)
  bool fp32_in_range = false;  // every channel's kXnnpack scale is below 1 (x86::DwStage::kXnnpackInRange)
  bool short_stage = false;  // kTflite with every right shift in 1..21 (x86::kDwShortMaxRight)
};

PackedDepthwise PackDepthwiseInt8(const reference::ConvParams& p, const Requant* requant, int requant_count,
                                  const int8_t* filter, const int32_t* bias);
PackedDepthwise PackDepthwiseUint8(const reference::ConvParams& p, const Requant& requant, const uint8_t* filter,
                                   const int32_t* bias);

// Scratch bytes one call with `pool` needs (the tasks' rings of widened input rows).
size_t DepthwiseScratchBytes(const PackedDepthwise& pd, const ThreadPool* pool);

// Tests: on a CPU without AVX-512 VNNI, the AVX2 path runs the row kernel's vpdpwssd build
// (x86/depthwise_avx512vnni.cpp) with vpdpwssd emulated lane by lane.
void SetDepthwiseDpwssdEmulationForTests(bool on);

// scratch: DepthwiseScratchBytes(pd, pool) bytes, or null (the call then allocates).
void DepthwiseConvInt8(const PackedDepthwise& pd, const int8_t* input, int8_t* output, void* scratch, ThreadPool* pool,
                       KernelPath path = ActiveKernelPath());
void DepthwiseConvUint8(const PackedDepthwise& pd, const uint8_t* input, uint8_t* output, void* scratch,
                        ThreadPool* pool, KernelPath path = ActiveKernelPath());

}  // namespace qat::kernels::optimized
