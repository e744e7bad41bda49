// Entry points of the AVX2 Winograd F(2x2, 3x3) kernel (x86/winograd_avx2.cpp). Only the driver
// (optimized/winograd_conv.cpp) calls them, after checking the CPU; layouts in winograd_conv.h.
#pragma once
#include <cstdint>

#include "kernels/x86/int8_x86.h"

namespace qat::kernels::x86 {

// Input transform of one tile: V = B^T d B on 16 raw 4x4 input runs src[pos] (input_c bytes each,
// int8 sign-extended / uint8 zero-extended; a padding position points at a run of Z_in), written
// as int16 to v + pos * pos_stride, cin16 values per position (values past input_c: finite, their
// weights are 0).
void WinogradInputTileAvx2(const uint8_t* const* src, bool is_uint8, int input_c, int cin16, int16_t* v,
                           int64_t pos_stride);

// Up to kWinoMR tiles x 16 output channels: the 16 per-position GEMMs over kp channel pairs
// (vpmaddwd), then Y = A^T M A, Y >> 2, bias and the output stage.
struct WinogradGroup {
  int tiles;            // valid tiles, 1..4 (rows of missing tiles repeat tile 0 and are not stored)
  int kp;               // input-channel pairs
  const int16_t* v;     // tile r, position pos: v + pos * pos_stride + r * cin16
  int64_t pos_stride;
  int cin16;
  const int16_t* u;     // the 16-channel panel: position pos at u + pos * kp * 32
  int32_t* m;           // scratch: 16 positions x 4 tiles x 16 channels int32
  uint8_t* const* out;  // out[r * 4 + q] (q = 2 * dy + dx): the output pixel's first channel, or null
  int n;                // valid channels (<= 16)
};
void WinogradGroupAvx2(const WinogradGroup& g, const GemmOutput& os);

}  // namespace qat::kernels::x86
