// Entry points of the x86 integer micro-kernels (src/kernels/x86/*_avx2.cpp, *_avx512vnni.cpp). Only
// the drivers in src/kernels/optimized/ call them, after checking the CPU with kernels/dispatch.h.
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/quant_math.h"

namespace qat::kernels::optimized {
struct RequantArrays;
}

namespace qat::kernels::x86 {

// The output stage of one 16-channel panel (pointers already offset to the panel's first channel).
struct GemmOutput {
  const int32_t* bias;
  const int32_t* multiplier;
  const int32_t* left;
  const int32_t* right;
  const int32_t* mask;
  const int32_t* half;
  const float* scale;
  int32_t output_offset, act_min, act_max;
  RequantMode mode;
  bool is_uint8;
  const int32_t* multiplier_odd;  // RequantArrays::multiplier_odd
  bool any_left;                  // RequantArrays::any_left
  // kTflite in one 64-bit rounding (PackedConv::k64 / zp64, see gemm_avx2.cpp); null: the
  // two-step RequantTflite.
  const int64_t* k64 = nullptr;   // per 8 channels: K+ even, K- even, K+ odd, K- odd, shift even, shift odd
  const int32_t* zp64 = nullptr;  // per channel: output_offset - 2^(31 - right)
};

// One 4-pixel x 16-channel tile of the implicit GEMM (the accumulators start at the folded bias).
//   rows[t * 4 + r]: int16 input run of pixel r for filter tap t (icp pairs); rows of pixels past
//   `pixels` may repeat pixel 0. w: the panel's packed weights. out[r]: where pixel r's `n` (<= 16)
//   output bytes go.
void GemmTile4x16Avx2(int pixels, int taps, int icp, const int16_t* const* rows, const int16_t* w,
                      const GemmOutput& os, int n, uint8_t* const* out);

// AVX-512 VNNI tile (x86/gemm_avx512vnni.cpp): up to 8 output pixels (two 4-pixel tiles of the
// row table) x `panels` (1 or 2) panels of 16 output channels, one zmm accumulator per pixel and
// panel, vpdpbusd (u8 x s8, 4 products per int32 lane, no saturation). rows_a / rows_b: the row
// tables of the two tiles (rows[t * 4 + r], u8 runs of icq quads); pixels <= 4 reads rows_a only.
// w: the first panel's packed int8 weights [tap][icq][16 channels][4], the second at
// w + panel_stride; os (offset to the first panel's channel 0): bias is the VNNI bias (-128 *
// sum(w) folded for int8). n (<= 16 * panels) output bytes of pixel r go to out[r].
void GemmTileVnni(int pixels, int taps, int icq, const uint8_t* const* rows_a, const uint8_t* const* rows_b,
                  const int8_t* w, int64_t panel_stride, int panels, const GemmOutput& os, int n,
                  uint8_t* const* out);

// The VNNI GEMM's u8 copy of `rows` pixel runs of ic values into runs of ic_pad4 bytes (pad 0):
// uint8 as is, int8 + 128 (xor 0x80).
void CopyRowsVnni(const void* input, bool is_uint8, int64_t rows, int ic, int ic_pad4, uint8_t* out);

// Widens exactly n int8 (sign-extend) or uint8 (zero-extend) values to int16 (no over-read/write).
void WidenRunAvx2(const void* src, bool is_uint8, int n, int16_t* dst);

// Converts int8 (sign-extend) or uint8 (zero-extend) to int16 rows of ic_pad entries (pad: 0).
void WidenRowsAvx2(const void* input, bool is_uint8, int64_t rows, int ic, int ic_pad, int16_t* out);

// DEPTHWISE_CONV_2D: kernels/x86/depthwise_x86.h.

// Pooling: one output row (batch already applied to input/output). Channels in any count.
struct PoolRow {
  const void* input;
  int input_h, input_w, channels, filter_h, filter_w, stride_h, stride_w, pad_top, pad_left;
  int oy, ow;
  int32_t act_min, act_max;
  bool is_uint8;
  uint8_t* output;
};
void MaxPoolRowAvx2(const PoolRow& r);
void AveragePoolRowAvx2(const PoolRow& r);

// Quantized ADD/SUB (TFLite's algorithm, kernels/reference/arithmetic.h) on n contiguous elements;
// stride2 == 0 broadcasts in2[0]. sign is +1 (ADD) or -1 (SUB).
struct AddParams {
  int32_t input1_offset, input2_offset, output_offset, left_shift;
  int32_t m1, s1, m2, s2, mo, so;  // multipliers and shifts (quant_math.h convention)
  int32_t act_min, act_max;
  int sign;
  bool is_uint8;
  // XNNPACK's ADD (p.requant == kXnnpack): out = (bias + q1*xm1 + q2*xm2) >> xshift + Z_out.
  bool xnnpack;
  int32_t xm1, xm2, xbias, xshift;
};
void AddAvx2(const AddParams& p, const void* in1, const void* in2, int64_t stride2, void* out, int64_t n);

}  // namespace qat::kernels::x86
