// Private: Winograd F(2x2, 3x3) convolution for 3x3 / stride 1 / dilation 1 regular convolutions
// (the bulk of SmallCNN's FLOPs), forward and, through the flipped filter, backward data.
// AVX2 + FMA only (winograd_avx2.cpp); conv2d.cpp calls it when qat::active_isa() allows.
#pragma once
#include <cstddef>

namespace qat::ops::kernels::detail {

struct WinogradConv {
  int N, IH, IW, IC;   // input [N, IH, IW, IC]
  int OH, OW, OC;      // output [N, OH, OW, OC]
  int pad_top, pad_left;  // input row of output row 0 is -pad_top (may be negative)
  // false: w is HWIO [3,3,IC,OC] (forward). true: w is the forward filter [3,3,OC,IC] of the
  // convolution being differentiated; the kernel uses it rotated by 180 degrees and transposed
  // (backward data).
  bool flip;
  int threads;
  int m = 2;  // output tile: 2 = F(2x2,3x3) (16 planes), 4 = F(4x4,3x3) (36 planes, 4x fewer tiles)
};

// Which problems the AVX2 kernel takes: channel counts that are multiples of 8, at least 16 input
// channels (below that the transforms cost more than the multiplications they save).
bool winograd_supported(int IC, int OC);
// Floats of scratch the call needs (transformed filter + per-thread tile buffers).
size_t winograd_scratch_floats(const WinogradConv& p);
// y = conv(x, w) (+ bias when non-null). scratch: winograd_scratch_floats(p) floats, 32-byte aligned.
void winograd_conv_avx2(const WinogradConv& p, const float* x, const float* w, const float* bias, float* y,
                        float* scratch);

// Weight gradient of the forward problem p (flip = false): dw HWIO [3,3,IC,OC] from x
// [N,IH,IW,IC] and dy [N,OH,OW,OC]. scratch: winograd_bwd_weights_scratch_floats(p) floats.
size_t winograd_bwd_weights_scratch_floats(const WinogradConv& p);
void winograd_bwd_weights_avx2(const WinogradConv& p, const float* x, const float* dy, float* dw, float* scratch);

}  // namespace qat::ops::kernels::detail
