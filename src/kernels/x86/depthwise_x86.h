// Entry points of the AVX2 DEPTHWISE_CONV_2D micro-kernel (depthwise_avx2.cpp). Only the driver
// kernels/optimized/depthwise_conv.cpp calls them, after checking the CPU (kernels/dispatch.h).
//
// Layouts (all prepared by the driver):
//  - Input rows arrive widened to int16 and interleaved two by two ("pair rows"): pair row k holds
//    input rows 2k and 2k + 1 as [16-channel block][pixel][32], the 32 int16 of a pixel being
//    vpunpcklwd then vpunpckhwd of the two rows' 16 channels: (row 2k, row 2k + 1) for channels
//    0-3 | 8-11, then 4-7 | 12-15. One vpmaddwd of a pixel's half with a weight pair is then two
//    vertically adjacent filter taps for 8 channels, with no shuffle in the inner loop. Padding
//    columns and rows (and the missing partner of an odd last row) hold Z_in, so every pair tap of
//    every output pixel is a fixed offset.
//  - Pair taps: an output row whose window starts at input row iy0 reads the pair rows
//    floor(iy0 / 2) .. floor(iy_last / 2); pair tap (kr, fx) weighs pair row kr's pixel at column
//    fx by (w[fy_even][fx], w[fy_odd][fx]), 0 where that row is not a filter row (window edges,
//    vertical dilation). The weights depend only on iy0's parity: [parity][block][pair tap][32],
//    in the lane order above.
//  - Output-stage parameters: [block][half][kDwFields][8 lanes], the lanes of half 0 being channels
//    0-3, 8-11 of the block and those of half 1 channels 4-7, 12-15 (the vpmaddwd order above).
//    vpackssdw of the two halves then gives the channels in their natural order.
#pragma once
#include <cstdint>

#include "kernels/quant_math.h"

namespace qat::kernels::x86 {

inline constexpr int kDepthwiseMaxTaps = 64;  // larger filters use the portable path

// Fields of one 8-lane half of a block's output-stage parameters (each 8 x 32 bits). Those the
// short stages read come first, so that a block's parameters span few cache lines.
enum DwField : int {
  kDwBias = 0,     // bias + input_offset * sum(w) (int32, wraps)
  kDwMult,         // Q31 multiplier of lane i (vpmuldq reads the even lanes)
  kDwMultOdd,      // even lane i: multiplier of lane i + 1
  // kTflite "short" stage (every channel's right shift in 1..kDwShortMaxRight, no left shift):
  kDwSShift,       // right - 1 (int32)
  kDwSKPosEven,    // 4 x int64: rounding constant + Z_out * 2^(31 + right), non-negative product
  kDwSKPosOdd,
  kDwSKNegEven,    //            ... negative product
  kDwSKNegOdd,
  // kTfliteShortRelu as one fp32 FMA (optimized/fma_stage.h), for blocks whose 16 channels all
  // have an exact pair; the other blocks hold 0 in kDwFmaScale (DepthwiseBlockHasFma).
  kDwFmaScale,     // float32
  kDwFmaOffset,    // float32
  kDwFmaZero,      // Z_out + the pair's centre (int32)
  // kTflite (any shift):
  kDwKPosEven,     // 4 x int64, lanes 0,2,4,6: rounding constant for a non-negative product
  kDwKNegEven,     //                           ... for a negative product
  kDwKPosOdd,      // 4 x int64, lanes 1,3,5,7
  kDwKNegOdd,
  kDwShiftEven,    // 4 x int64: 31 + right shift, lanes 0,2,4,6
  kDwShiftOdd,     //                               lanes 1,3,5,7
  kDwLeft,         // left shift (int32)
  kDwOffset,       // kTflite: Z_out - 2^(31 - right) (int32, wraps); kXnnpack: Z_out
  kDwScale,        // float32 scale (kXnnpack)
  kDwFields
};
inline constexpr int kDwShortMaxRight = 21;

// Output stages of the micro-kernel.
// kTfliteShortRelu: kTfliteShort where act_min >= Z_out, so that a negative accumulator gives
// act_min whatever its rounding: the non-negative rounding constant serves every lane.
// kXnnpackInRange: kXnnpack where every scale is below 1 (|float(acc) * scale| < 2^31, so vcvtps2dq
// needs no saturation fix-up; PackedDepthwise::fp32_in_range).
// kTfliteShortReluFma: kTfliteShortRelu's blocks with the FMA form (the row kernel picks per block).
enum class DwStage : int { kTflite, kTfliteLeft, kTfliteShort, kTfliteShortRelu, kXnnpack, kXnnpackInRange,
                           kTfliteShortReluFma };

// Whether block `params` (its [2][kDwFields][8]) has the FMA form of the short ReLU stage.
inline bool DepthwiseBlockHasFma(const int32_t* params) { return params[kDwFmaScale * 8] != 0; }

struct DepthwiseRowArgs {
  const int16_t* const* taps;  // taps_n pointers: pair tap t's input for output pixel 0, block 0
  int taps_n;                  // pair taps, <= kDepthwiseMaxTaps
  int ow;                      // output pixels in the row
  int64_t pixel_step;          // int16 elements between consecutive output pixels (stride_w * 32)
  int64_t block_step;          // int16 elements between consecutive blocks of a pair row
  int blocks;                  // 16-channel blocks
  int tail;                    // channels of the last block to store (1..16)
  const int16_t* weights;      // block 0: [block][pair tap][32]
  const int32_t* params;       // block 0: [block][2][kDwFields][8]
  uint8_t* output;             // output pixel 0, first channel of block 0
  int64_t out_pixel_stride;    // bytes between output pixels
  int32_t act_min, act_max;
  DwStage stage;
  bool is_uint8;
};
void DepthwiseRowAvx2(const DepthwiseRowArgs& a);

// Builds `pixels` pixels of a pair row: rows a and b (null: the value z) of `channels` int8
// (sign-extended) or uint8 (zero-extended) values, pixel p at a + p * src_stride, channel c of the
// block-planar destination at dst + (c / 16) * block_step + p * 32 in the lane order above;
// channels from `channels` to blocks * 16 get 0.
void DepthwisePairRowAvx2(const void* a, const void* b, int16_t z, bool is_uint8, int pixels, int64_t src_stride,
                          int channels, int blocks, int64_t block_step, int16_t* dst);

// The row kernel with vpdpwssd for each vpmaddwd + vpaddd (x86/depthwise_avx512vnni.cpp: AVX-512
// VNNI CPUs), and that build with vpdpwssd emulated on AVX2 (tests).
namespace dpwssd {
void DepthwiseRowAvx2(const DepthwiseRowArgs& a);
}
namespace dpwssd_ymm_stage {  // the same with the ymm output stage (A/B only)
void DepthwiseRowAvx2(const DepthwiseRowArgs& a);
}
namespace dpwssd_emulated {
void DepthwiseRowAvx2(const DepthwiseRowArgs& a);
}

}  // namespace qat::kernels::x86
