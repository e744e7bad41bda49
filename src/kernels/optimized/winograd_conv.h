// Exact integer Winograd F(2x2, 3x3) for int8 / uint8 CONV_2D 3x3, stride 1, dilation 1: a
// bit-exact twin of kernels/reference/conv.h (ConvPerChannelInt8, ConvUint8) in both
// requantization modes, with 16 multiplies per 2x2 output tile and channel pair instead of 36.
//
// Why it is exact in integers (docs/kernels.md, "Winograd F(2x2,3x3)"):
//  - weights: U = (2G) g (2G)^T = 4 G g G^T with 2G = [[2,0,0],[1,1,1],[1,-1,1],[0,0,2]] has
//    integer entries, |U| <= 9 max|g| (int8 1152, uint8 w - Z_w: 2295): int16, packed once;
//  - input: V = B^T d B of the RAW 4x4 input tile d (padding positions hold Z_in), B^T has entries
//    0, +-1, so |V| <= 4 max|d| (int8 512, uint8 1020): int16;
//  - 16 GEMMs M[pos] = sum_c V[pos][c] U[pos][c][oc] with vpmaddwd (int16 pairs into int32, never
//    saturating at these magnitudes), then Y = A^T M A = 4 * S with S = sum over the 3x3 window and
//    the input channels of x * w (x raw, padding taps = Z_in). Every step is a ring operation, so
//    int32 arithmetic modulo 2^32 yields Y mod 2^32; when |4 S| < 2^31 (WinogradApplies' bound)
//    that IS Y, and Y >> 2 = S exactly;
//  - zero points: S + bias - Z_in * sum(w) equals the reference's sum over the non-padding taps of
//    (x - Z_in) * w + bias modulo 2^32 (a padding tap contributes Z_in * w - Z_in * w = 0), the same
//    fold as PackedConv::bias; then the shared output stage (OutputStageScalar / Requant8).
#pragma once
#include <cstddef>
#include <cstdint>

#include "kernels/dispatch.h"
#include "kernels/optimized/packing.h"
#include "kernels/reference/types.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

using reference::ConvParams;

inline constexpr int kWinoNR = 16;  // output channels per packed panel
inline constexpr int kWinoMR = 4;   // 2x2 output tiles per micro-kernel call
inline constexpr int kWinoNT = 8;   // tiles per block: the block's transformed input stays in L1

struct PackedWinograd {
  ConvParams p;
  bool is_uint8 = false;
  int kp = 0;         // input-channel pairs: ceil(input_c / 2)
  int cin16 = 0;      // input_c rounded up to 16: stride of one tile's V row (int16)
  int oc_blocks = 0;  // ceil(output_c / 16)
  int tiles_h = 0, tiles_w = 0;  // ceil(output_h / 2), ceil(output_w / 2)
  // U: [oc_block][pos 0..15][kp][16 channels][2] int16 (pos = 4 * row + column of the 4x4 tile).
  AlignedVector<int16_t> u;
  AlignedVector<int32_t> bias;   // [oc_blocks * 16] bias + input_offset * sum(w) (uint8: w - Z_w)
  RequantArrays rq;              // [oc_blocks * 16]
  // kTflite output stage in one 64-bit rounding, laid out as PackedConv::k64 / zp64 (conv.h); empty
  // when a right shift is outside [0, 31] (the two-step RequantTflite then).
  AlignedVector<int64_t> k64;
  AlignedVector<int32_t> zp64;
  AlignedVector<uint8_t> zero_row;  // cin16 bytes of Z_in (the raw value of a padding tap)
};

// Whether the Winograd kernel computes this layer exactly and is worth it: 3x3, stride 1,
// dilation 1 (any padding), output at least 2x2, at least 8 input channels (fewer: the transforms
// outweigh the saved multiplies; conv.h's row taps serve first layers), and the exactness bound
// 36 * input_c * max|w| * max|x| < 2^31 (int8: |w|, |x| <= 128, input_c <= 3640; uint8: |w - Z_w|,
// |x| <= 255, input_c <= 917). Independent of the weights' values and of the CPU.
bool WinogradApplies(const ConvParams& p, bool is_uint8);

// Mirrors PackConvInt8 / PackConvUint8 (conv.h). Call only where WinogradApplies.
PackedWinograd PackWinogradInt8(const ConvParams& p, const Requant* requant, int requant_count, const int8_t* filter,
                                const int32_t* bias);
PackedWinograd PackWinogradUint8(const ConvParams& p, const Requant& requant, const uint8_t* filter,
                                 const int32_t* bias);

// Bytes of scratch one call needs: one block per thread (the transformed input of kWinoNT tiles
// plus the 16 x kWinoMR x 16 int32 products; 20 KiB at 64 input channels). Without a pool: enough
// for any pool (kWinoScratchSlots threads); with one: for calls with that pool (or a smaller one;
// null: one thread), like DepthwiseScratchBytes.
inline constexpr int kWinoScratchSlots = 16;
size_t WinogradScratchBytes(const PackedWinograd& pw);
size_t WinogradScratchBytes(const PackedWinograd& pw, const ThreadPool* pool);

// Runs the convolution. scratch: WinogradScratchBytes bytes (see there), or null (the call then
// uses thread-local buffers). pool: null or size 1 runs on the calling thread; otherwise the tiles
// (over all batches) are split into one contiguous run per thread, at most kWinoScratchSlots.
// path: kPortable, or kAvx2 / kAvx512Vnni (both run the AVX2 kernel; there is no VNNI variant).
void WinogradConvInt8(const PackedWinograd& pw, const int8_t* input, int8_t* output, void* scratch, ThreadPool* pool,
                      KernelPath path = ActiveKernelPath());
void WinogradConvUint8(const PackedWinograd& pw, const uint8_t* input, uint8_t* output, void* scratch,
                       ThreadPool* pool, KernelPath path = ActiveKernelPath());

}  // namespace qat::kernels::optimized
