// Entry points of the x86 integer micro-kernels (src/kernels/x86/*_avx2.cpp, *_avx512vnni.cpp). Only
// the drivers in src/kernels/optimized/ call them, after checking the CPU with kernels/dispatch.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

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
  // kTflite, the short ReLU form (PackedConv::kshort, see gemm_avx2.cpp): every right shift in
  // 1..kShortMaxRight, no left shift, act_min >= output_offset; null: k64 or the two-step form.
  // Per 8 channels: K even (4 x int64), K odd (4 x int64), right - 1 (8 x int32).
  const int64_t* kshort = nullptr;
  // With kshort: that stage as one fp32 FMA for the 8-channel groups g with fma_groups[g] != 0
  // (optimized/fma_stage.h: exact there): vcvtps2dq(fma(float(x), fma_scale, fma_offset)) +
  // fma_zero (Z_out + the pair's centre). Null: every group takes kshort. Without kshort (act_min
  // below Z_out; the VNNI tile only, MakeGemmOutput): the same over the signed range, beside k64.
  const float* fma_scale = nullptr;
  const float* fma_offset = nullptr;
  const int32_t* fma_zero = nullptr;
  const float* fma_offset_neg = nullptr;  // without kshort: the offset for x < 0 (a signed range)
  const uint8_t* fma_groups = nullptr;
  // kXnnpack: every scale is below 1, so |float(acc) * scale| < 2^31 and vcvtps2dq needs no
  // saturation fix-up (PackedConv::fp32_in_range).
  bool fp32_in_range = false;
};

// The short output stage's largest right shift: |x * m + K| < 2^63 with the zero point folded into K.
constexpr int kShortMaxRight = 21;

// One 4-pixel x 16-channel tile of the implicit GEMM (the accumulators start at the folded bias).
//   rows[t * 4 + r]: int16 input run of pixel r for filter tap t (icp pairs); rows of pixels past
//   `pixels` may repeat pixel 0. w: the panel's packed weights. out[r]: where pixel r's `n` (<= 16)
//   output bytes go.
void GemmTile4x16Avx2(int pixels, int taps, int icp, const int16_t* const* rows, const int16_t* w,
                      const GemmOutput& os, int n, uint8_t* const* out);

// A run of consecutive 4-pixel tiles of one panel, in one call (the per-tile call, stage dispatch
// and output pointers cost ~10 % of a short-depth layer): tile t covers output pixels m0 + 4 t ..
// min(m0 + 4 t + 3, M - 1), reads its row table at table + t * taps * 4, and pixel m's n bytes
// go to out + m * out_stride (out: the panel's first channel of pixel 0).
struct TileRun {
  int64_t m0 = 0, M = 0;
  int64_t tiles = 0;
  uint8_t* out = nullptr;
  int64_t out_stride = 0;
  // Optional: bytes to bring into L2 while the run goes (the next run's weights), spread evenly
  // over the tiles (the split 2x32 run only).
  const void* prefetch = nullptr;
  int64_t prefetch_bytes = 0;
};
void GemmTiles4x16Avx2(const TileRun& run, int taps, int icp, const int16_t* const* table, const int16_t* w,
                       const GemmOutput& os, int n);

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
// The tiles of a run (run.tiles 4-pixel tiles from pixel run.m0, in pairs; pixel m's n output bytes
// at run.out + m * run.out_stride), tile t's rows at table + t * taps * 4: as GemmTileVnni on each
// pair, with full pairs of two full panels in one loop (stage constants set up once, no call per
// tile; on VNNI hardware the accumulation is one asm loop nest).
void GemmTilesVnni(const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                   int64_t panel_stride, int panels, const GemmOutput& os, int n);

// The u8 x u8 form of the AMX run (optimized/conv.h, PackedConv::amx_uu): w holds raw u8 weights,
// the tiles run tdpbuud, and pixel m's accumulators lose zw * rowsum[m] (rowsum indexed by the
// run's pixel index, the sums of its u8 row) before the stage.
struct AmxUU {
  const int32_t* rowsum;
  int32_t zw;
};
// The byte sums of n u8 rows of `bytes` bytes (a multiple of 4) each (vpsadbw).
void RowSumsU8(const uint8_t* const* rows, int64_t n, int bytes, int32_t* out);

// AMX-INT8 (x86/gemm_avx512vnni.cpp, AmxBlocks): the leading 16-pixel blocks of a run of GemmTilesVnni
// with two full panels (n = 32) and icq a multiple of 16 or below 16, on tile registers (tdpbusd), then the same
// zmm output stage. Each block's rows of a tap must step evenly (one strided tile load: direct 1x1
// layers, FC, im2col rows); the run stops at the first block whose rows do not. Returns the 4-pixel
// tiles done (a multiple of 4; 0 where it does not apply); the caller runs the rest with
// GemmTilesVnni. tail_stride > 0 (one tap): the pixels past the last whole block of the run, when
// their rows step by tail_stride, run as one more 16-row block whose rows past the run's pixels
// are read (caller: readable, up to 15 rows of tail_stride bytes past the last pixel's row) and
// not stored; the return value then covers every pixel. Needs AMX-TILE / AMX-INT8 and the OS's permission
// (qat::amx_int8_usable()) besides AVX-512 VNNI.
int64_t GemmTilesAmx(const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                     int64_t panel_stride, const GemmOutput& os, int64_t tail_stride = 0, const AmxUU* uu = nullptr);
// AMX's im2col rows (optimized/conv.h, PackedConv::amx_icq): output pixels m0 .. m0 + rows - 1 of
// a convolution over the u8 copy `input` (pixels of ic_pad4 bytes; padding taps read zero_row), each
// as filter_h x filter_w runs of ic_pad4 bytes at dst + i * row_bytes. The row's last bytes (up to
// row_bytes, fewer than 64) are left as they are: their weights are 0 (PackedConv::weights_amx).
struct AmxIm2colRows {
  const uint8_t* input;
  const uint8_t* zero_row;
  int ic_pad4, input_h, input_w, output_h, output_w, filter_h, filter_w;
  int stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
  int64_t row_bytes;
};
void Im2colRowsAmx(const AmxIm2colRows& r, int64_t m0, int64_t rows, uint8_t* dst);
// The VNNI GEMM's u8 copy of `rows` pixel runs of ic values into runs of ic_pad4 bytes (pad 0):
// uint8 as is, int8 + 128 (xor 0x80).
void CopyRowsVnni(const void* input, bool is_uint8, int64_t rows, int ic, int ic_pad4, uint8_t* out);

// The same two functions compiled from the same source with emulated AVX-512 intrinsics
// (x86/gemm_vnni_emulated_avx2.cpp; needs AVX2): tests only.
namespace emulated {
void GemmTileVnni(int pixels, int taps, int icq, const uint8_t* const* rows_a, const uint8_t* const* rows_b,
                  const int8_t* w, int64_t panel_stride, int panels, const GemmOutput& os, int n,
                  uint8_t* const* out);
void GemmTilesVnni(const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                   int64_t panel_stride, int panels, const GemmOutput& os, int n);
int64_t GemmTilesAmx(const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                     int64_t panel_stride, const GemmOutput& os, int64_t tail_stride = 0, const AmxUU* uu = nullptr);
void Im2colRowsAmx(const AmxIm2colRows& r, int64_t m0, int64_t rows, uint8_t* dst);
void CopyRowsVnni(const void* input, bool is_uint8, int64_t rows, int ic, int ic_pad4, uint8_t* out);
void RowSumsU8(const uint8_t* const* rows, int64_t n, int bytes, int32_t* out);
}  // namespace emulated
// Tests: the emulated AVX-512 operations against this CPU's AVX2 twins and scalar formulations
// (x86/avx512_emulation_check_avx2.cpp; needs AVX2). Returns the mismatches; the first one's
// operation goes to *first_failure.
int CheckAvx512EmulationForTests(uint32_t seed, int trials, std::string* first_failure);

// The AVX2 "split" u8 x s8 GEMM (x86/gemm_avx2.cpp; conv.h, PackedConv::vnni panels on an AVX2 CPU).
// vpmaddubsw adds two u8 x s8 products into int16 with saturation, and the split tile adds the lanes
// of two consecutive quads in int16 before one vpmaddwd widens them (3 multiplies per 64 MACs), so
// each int16 lane sums four products. With u at most 64 and |w| <= 128 four products stay inside
// int16; the layer's weights give each input channel c its own, usually much higher, bound T_c
// (PackedConv::split_tk, from the largest same-sign weight sum of its lanes; retuned to the
// activations after the first call, within the same weight constraints: conv.h, SplitTuning). Each
// activation
// u = x + 128 (int8) or q (uint8) is therefore split as u = min(u, T_c) + r: the clamped part goes
// through the tile over the whole depth, and the rest r = u - T_c (only where u > T_c, rare for
// ReLU-style activations whose zero sits at u = 0) is added from a per-pixel list.
// SplitLists: for pixel i of the u8 copy (pixel = (row - base) / row_bytes; the zero row is pixel
// `pixels`), counts[i] entries at entries + i * cap, each {byte offset of its quad in a tap's panel
// (k / 4 * 64), r << (8 * (k % 4))}; r <= 255 and the quad's other bytes are 0, so the lane holds
// one product, |r * w| <= 255 * 128 < 32768: it never saturates either.
struct SplitLists {
  const uint8_t* base;
  int row_bytes;
  const int32_t* counts;
  const int32_t* entries;  // pairs (offset, value)
  int cap;
  double inv_row_bytes;    // 1 / row_bytes: the pixel index by a multiply (row offsets are exact multiples)
  int row_shift;           // log2(row_bytes) when it is a power of two (a shift instead), else -1
};

// The split GEMM over a run of 4-pixel x 16-channel tiles (TileRun): table[t * taps * 4 + tap * 4 + r]
// are u8 runs (min(u, T)) of icq quads, w the panel [tap][icq][16][4] int8, os.bias the VNNI bias
// (-128 * sum(w) folded for int8).
void GemmTilesSplitAvx2(const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                        const GemmOutput& os, int n, const SplitLists& lists);
// The split GEMM with four quads per int16 lane (bounds for eight products, PackedConv::split_quads
// 4) on 2 pixels x 32 channels: each 4-pixel tile of the run (its row table as above) as two 2-pixel
// halves. w: the block pair's panel [tap][icq][4 groups][8][4] (weights_split32), residual entries'
// offsets quad * 128; os at the pair's channel 0 (arrays padded to whole pairs), n <= 32.
void GemmTilesSplit32Avx2(const TileRun& run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                          const GemmOutput& os, int n, const SplitLists& lists);

// The split copy of `rows` pixels (ic values each) into runs of ic_pad4 bytes (pad 0): min(u, tk[c]),
// and pixel i's residual list at entries + i * 2 * cap (counts[i]; an entry's offset is its quad
// times quad_bytes, the panel's bytes per quad: 64, or 128 on the 2 x 32 tile). Returns the number of entries, or
// -1 when a pixel has more than cap (the caller then runs the int16 GEMM).
int64_t CopyRowsSplitAvx2(const void* input, bool is_uint8, int64_t rows, int ic, int ic_pad4, uint8_t* out,
                          int32_t* counts, int32_t* entries, int cap, const uint8_t* tk, int quad_bytes = 64);

// CopyRowsSplitAvx2 for a layer with skipped input channels (optimized/conv.h, SplitCold): each
// pixel's kept values are compacted (vpshufb per 16 channels, ctl / off) into positions
// 0 .. ic_live - 1 of its run and clamped to tk there; a skipped channel's value u other than its
// constant expect[c] becomes a residual: u - expect[c] at its permuted position pos[c], or
// expect[c] - u at neg[c] (the negated weights). ic a multiple of 16, ic_live of 16.
struct SplitColdCopy {
  int ic_live;
  const uint8_t* ctl;
  const int32_t* off;
  const uint16_t* skip_mask;
  const uint8_t* expect;
  const int16_t* pos;
  const int16_t* neg;
};
int64_t CopyRowsSplitColdAvx2(const void* input, bool is_uint8, int64_t rows, int ic, int row_bytes, uint8_t* out,
                              int32_t* counts, int32_t* entries, int cap, const uint8_t* tk, int quad_bytes,
                              const SplitColdCopy& cc);
// min[c] = min(min[c], u), max[c] = max(max[c], u) over `rows` pixels of ic values (u: int8
// x + 128, uint8 q).
void ChannelRangeAvx2(const void* input, bool is_uint8, int64_t rows, int ic, uint8_t* min, uint8_t* max);

// The split GEMM's activation histogram (optimized/conv.h, SplitTuning): for `rows` pixels of ic
// values, ++hist[c * 32 + u / 8] for every value whose u (int8: x + 128; uint8: q) is above `floor`.
void SplitHistogramAvx2(const void* input, bool is_uint8, int64_t rows, int ic, int floor, int32_t* hist);

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
  float float_min = 0.f, float_max = 0.f;  // the float rows' clamp
};
void MaxPoolRowAvx2(const PoolRow& r);
void AveragePoolRowAvx2(const PoolRow& r);
// float32 rows (input and output float*): max as std::max(out, x) from the lowest float, average
// as (0 + x0 + x1 + ...) / count in float32 in the window's order, then the clamp, as the
// reference kernels compute them.
void MaxPoolFloatRowAvx2(const PoolRow& r);
void AveragePoolFloatRowAvx2(const PoolRow& r);

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
