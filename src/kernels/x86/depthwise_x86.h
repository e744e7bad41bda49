// Entry points of the AVX2 DEPTHWISE_CONV_2D micro-kernel (depthwise_avx2.cpp). Only the driver
// kernels/optimized/depthwise_conv.cpp calls them, after checking the CPU (kernels/dispatch.h).
//
// Layouts (all prepared by the driver):
//  - Input rows arrive widened to int16 in "block-planar" rows: [16-channel block][pixel][16], the
//    padding columns (and whole padding rows) holding Z_in, so that every filter tap of every
//    output pixel is a fixed offset and the 16 channels of a block are one 32-byte load.
//  - Weights: [block][tap pair][32 int16]. For taps (a, b) and channels 0-15 of the block,
//    vpunpck{l,h}wd of the two taps' 16 int16 gives lanes (ch 0-3 | 8-11) and (ch 4-7 | 12-15),
//    each channel as (x_a, x_b); the weights are stored in the same order as (w_a, w_b). An odd last
//    tap is paired with zeros (weight 0).
//  - Output-stage parameters: [block][half][kDwFields][8 lanes], the lanes of half 0 being channels
//    0-3, 8-11 of the block and those of half 1 channels 4-7, 12-15 (the vpmaddwd order above).
//    vpackssdw of the two halves then gives the channels in their natural order.
#pragma once
#include <cstdint>

#include "kernels/quant_math.h"

namespace qat::kernels::x86 {

inline constexpr int kDepthwiseMaxTaps = 64;  // larger filters use the portable path

// Fields of one 8-lane half of a block's output-stage parameters (each 8 x 32 bits).
enum DwField : int {
  kDwBias = 0,     // bias + input_offset * sum(w) (int32, wraps)
  kDwMult,         // Q31 multiplier of lane i (vpmuldq reads the even lanes)
  kDwMultOdd,      // even lane i: multiplier of lane i + 1
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

struct DepthwiseRowArgs {
  const int16_t* const* taps;  // taps_n pointers: tap t's input for output pixel 0, block 0
  int taps_n;                  // filter_h * filter_w, <= kDepthwiseMaxTaps
  int ow;                      // output pixels in the row
  int64_t pixel_step;          // int16 elements between consecutive output pixels (stride_w * 16)
  int64_t block_step;          // int16 elements between consecutive blocks of a row
  int blocks;                  // 16-channel blocks
  int tail;                    // channels of the last block to store (1..16)
  const int16_t* weights;      // block 0: [block][tap pair][32]
  const int32_t* params;       // block 0: [block][2][kDwFields][8]
  uint8_t* output;             // output pixel 0, first channel of block 0
  int64_t out_pixel_stride;    // bytes between output pixels
  int32_t act_min, act_max;
  RequantMode mode;
  bool any_left;
  bool is_uint8;
};
void DepthwiseRowAvx2(const DepthwiseRowArgs& a);

// Widens `pixels` pixels of `channels` int8 (sign-extend) or uint8 (zero-extend) values, pixel p
// at src + p * src_stride, into the block-planar row dst: channel c of pixel p goes to
// dst[(c / 16) * block_step + p * 16 + c % 16]; channels from `channels` to blocks * 16 get 0.
void DepthwiseWidenAvx2(const void* src, bool is_uint8, int pixels, int64_t src_stride, int channels, int blocks,
                        int64_t block_step, int16_t* dst);

}  // namespace qat::kernels::x86
