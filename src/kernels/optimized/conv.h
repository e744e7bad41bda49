// Optimised CONV_2D and FULLY_CONNECTED for int8 and uint8: bit-exact twins of
// kernels/reference/conv.h and fully_connected.h, in both requantization modes.
//
// Algorithm: an implicit GEMM. Weights are packed once (Pack*, at AllocateTensors) into panels of
// 16 output channels with the accumulation depth K = filter_h * filter_w * ic_pad in pairs of
// int16; each call converts the input to int16 once (scratch) and runs a 4-pixel x 16-channel
// micro-kernel (AVX2: vpmaddwd; AVX-512 VNNI: an 8-pixel tile on a u8 copy, vpdpbusd, see
// PackedConv::vnni) that reads every filter tap through a table of row pointers, so
// 1x1, 3x3, strided and dilated convolutions and FULLY_CONNECTED share one kernel without im2col.
//
// Why int16 and vpmaddwd, not vpmaddubsw: vpmaddubsw saturates to int16 (255*127*2 > 32767), so a
// kernel built on it is not exact for arbitrary weights. Sign-extended int16 products of int8 (or
// zero-extended uint8) values never saturate in vpmaddwd, which makes uint8 free as well: uint8
// weights are stored as (w - Z_w) in [-255, 255] and uint8 activations zero-extended.
//
// On AVX2 the plain-tap layers run a faster exact u8 x s8 GEMM when they can: the "split" GEMM
// (x86/int8_x86.h, SplitLists) feeds vpmaddubsw activations clamped to a bound T (>= 128) that no
// pair of this layer's weights can saturate, and adds the rare excess u - T from per-pixel lists.
// ReLU-style activations (zero at u = 0) leave 0.2-1.6 % of the values above T on MobileNet-v1; a
// call with more than 4 % runs the int16 GEMM instead (decided per call, after the copy).
//
// Zero points are folded at pack time: acc = sum(w * x) + (bias + input_offset * sum(w)), so the
// inner loop is a plain dot product; a padding tap reads a row filled with Z_in, whose
// contribution w * Z_in cancels against the folded term exactly as the reference skips it.
// All of this is int32 arithmetic modulo 2^32, hence identical to the reference's accumulator.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "kernels/dispatch.h"
#include "kernels/optimized/packing.h"
#include "kernels/optimized/winograd_conv.h"
#include "kernels/reference/fully_connected.h"
#include "kernels/reference/types.h"

namespace qat {
class ThreadPool;
}

namespace qat::kernels::optimized {

using reference::ConvParams;
using reference::FullyConnectedParams;

inline constexpr int kGemmMR = 4;   // output pixels per micro-kernel call
inline constexpr int kGemmNR = 16;  // output channels per packed panel

// The split GEMM's bounds tuned to the activations (conv.cpp, RetuneSplitBounds). Any bounds that
// keep every int16 lane of the split tile inside int16 for these weights are exact; the weight-only
// bounds (PackedConv::split_tk) give every channel of a lane group the same one, while the excess
// above it concentrates in few "hot" channels (docs/kernels.md). The first call counts each input
// channel's values on a sample of >= ~512 pixels (hist); the second retunes each lane group with residuals, moving bound from
// its cold channels to its hot ones within the same weight constraints (checked again before use),
// and later calls use those bounds. Shared by copies of the PackedConv; calls may come from several
// threads (the mutex guards hist and the retune; `bounds` is read once per call).
// Cold input channels (conv.cpp, PlanColdChannels). ReLU-style activations leave some input
// channels of a layer at one value for whole inputs: u = 0 (every value quantizes to the zero
// point), or another constant. A one-tap layer on the 2 x 32 split tile whose first call saw such
// channels permutes its input channels at the retune: the kept ones (every other channel, plus the
// fewest constant ones that round them up to a multiple of 16) first, in channel order, the skipped
// ones after. The tile then runs only the kept depth. A skipped channel's constant c goes into the
// bias (w * c), its bound is 0, and any other value u it gets later is a residual: u - c against
// its weights, or c - u against a negated copy of them placed after input_c (exact, as every
// residual; many of them send the call to the int16 GEMM). The copy compacts each pixel's kept
// values with one vpshufb per 16 channels (order-preserving, so each source chunk's kept values are
// one contiguous run of the permuted row).
struct SplitCold {
  int ic_live = 0;                        // kept channels (a multiple of 16, below input_c)
  int icq_total = 0;                      // quads of a pair's panel: input_c and the negated copies
  AlignedVector<int8_t> weights_split32;  // PackedConv::weights_split32 permuted, icq_total quads
  AlignedVector<int32_t> bias;            // PackedConv::bias_vnni + w * c of the skipped channels
  AlignedVector<uint8_t> tk;              // bounds in the permuted order; 0 from ic_live on
  AlignedVector<uint8_t> ctl;             // [input_c / 16][16]: vpshufb control of each source chunk
  std::vector<int32_t> off;               // [input_c / 16]: position of the chunk's first kept value
  std::vector<uint16_t> skip_mask;        // [input_c / 16]: bit b set: channel 16 k + b is skipped
  AlignedVector<uint8_t> expect;          // [input_c]: a skipped channel's constant c (0 if kept)
  std::vector<int16_t> pos;               // [input_c]: each input channel's permuted position
  std::vector<int16_t> neg;               // [input_c]: position of the negated copy (c > 0), else -1
};

struct SplitTuning {
  std::mutex mu;
  int calls = 0;                           // calls whose histogram was recorded
  bool tuned = false;
  std::vector<int32_t> hist;               // [input_c][32]: values of channel c with u / 8 = b (u > 31)
  AlignedVector<uint8_t> tuned_tk;         // the retuned bounds (same layout as split_tk)
  std::atomic<const uint8_t*> bounds{nullptr};  // null: PackedConv::split_tk
  std::vector<uint8_t> chan_min, chan_max;  // [input_c]: each channel's u range in the first call
  std::unique_ptr<const SplitCold> cold_plan;   // set at the retune (null: no channel skipped)
  std::atomic<const SplitCold*> cold{nullptr};  // cold_plan once it is complete; null again after
                                                // kColdMaxMisses calls in a row fell back to int16
  std::atomic<int> cold_misses{0};
};

struct PackedConv {
  ConvParams p;          // geometry, offsets, clamp and requantization mode (FC: 1x1 over batches)
  bool is_uint8 = false;
  int taps = 1;          // filter_h * filter_w (row_taps: filter_h; im2col: 1)
  int ic_pad = 0;        // depth of one tap rounded up to even (int16 pairs)
  // Few input channels (the first layer of a network: 1 or 3) make the per-pixel runs too short
  // for one tap per filter position. With dilation_w == 1 a tap is a whole filter row instead
  // ("row taps"): filter_w * input_c values that are contiguous in an int16 copy of the input whose
  // left/right padding columns are materialised (Z_in); depth per tap filter_w * input_c rounded up
  // to even (the extra slot has weight 0 and reads the next value, whatever it is). With
  // dilation_w > 1 the int16 copy is an im2col matrix: one row of K = filter_h * filter_w * input_c
  // values per output pixel, padding taps holding Z_in.
  bool row_taps = false;
  bool im2col = false;
  int padded_w = 0;      // row_taps: width of the int16 copy (input_w plus both padding columns)
  int oc_blocks = 0;     // ceil(output_c / 16)
  AlignedVector<int16_t> weights;  // [oc_block][tap][ic_pad/2][16 channels][2]
  AlignedVector<int32_t> bias;     // [oc_blocks*16] bias + input_offset * sum(w) (uint8: w - Z_w)
  RequantArrays rq;                // [oc_blocks*16]
  // kTflite output stage as one 64-bit floor division (x86/gemm_avx2.cpp): per 8 channels 24
  // int64 (K+ / K- for the even and odd lanes, then the shifts 31 + right), and per channel the
  // output zero point minus 2^(31 - right). Empty when a right shift is outside [0, 31].
  AlignedVector<int64_t> k64;
  bool fp32_in_range = false;      // every rq.scale < 1 (x86::GemmOutput::fp32_in_range)
  AlignedVector<int32_t> zp64;
  AlignedVector<int64_t> kshort;   // kTflite's short ReLU stage (x86::GemmOutput::kshort); empty: not eligible
  // That stage as one fp32 FMA where it is exact (optimized/fma_stage.h; x86::GemmOutput::fma_*):
  // per channel scale and offset, per 8-channel group 1 when all its channels have an exact pair.
  // Empty: kshort empty, not kTflite at pack time, no AVX2, or QAT_NO_FMA_STAGE=1. A signed
  // range (act_min below Z_out; only where the VNNI panels are packed) has them without kshort,
  // and fma_offset_neg (the offset for x < 0); otherwise fma_offset_neg is empty.
  AlignedVector<float> fma_scale, fma_offset, fma_offset_neg;
  AlignedVector<int32_t> fma_zero;  // Z_out + the pair's centre
  std::vector<uint8_t> fma_groups;
  int16_t zero_in = 0;             // Z_in: the value of a padding tap
  // The AVX-512 VNNI GEMM (x86/gemm_avx512vnni.cpp, path kAvx512Vnni): a u8 copy of the input
  // (int8 + 128; uint8 as is) in runs of ic_pad4 bytes, int8 panels [oc_block][tap][ic_pad4/4][16][4]
  // and bias_vnni = bias - 128 * sum(w) (int8; uint8: bias). Packed only for plain taps (not
  // row_taps / im2col), where every folded weight fits int8 (always for int8; uint8: w - Z_w in
  // [-128, 127]), and only when the CPU has VNNI (or SetVnniPackingForTests(true)); without it
  // (vnni false) the kAvx512Vnni path runs the AVX2 GEMM.
  bool vnni = false;
  // A first layer (row_taps / im2col) on a VNNI CPU (or SetVnniPackingForTests): weights_vnni,
  // bias_vnni and zero_in_u8 as above, in the im2col order (one tap of filter_h * filter_w *
  // input_c values, ic_pad4 = that rounded up to a quad); the kAvx512Vnni path runs them on a u8
  // im2col copy. vnni stays false (the int16 GEMM keeps its own panels).
  bool vnni_im2col = false;
  int ic_pad4 = 0;
  AlignedVector<int8_t> weights_vnni;
  AlignedVector<int32_t> bias_vnni;
  uint8_t zero_in_u8 = 0;          // Z_in (+ 128 for int8): the u8 value of a padding tap
  // AMX on a layer with VNNI panels whose rows do not step evenly (taps > 1, strides, padding) or
  // are not whole 64-byte K steps (a direct 1x1 layer with 96 input channels): the tile kernel reads
  // each pixel's whole window as one im2col row of amx_icq quads (taps * ic_pad4 / 4, rounded up to
  // a multiple of 16 above 16). weights_amx: the VNNI panels zero-padded to amx_icq quads
  // ([oc_block][amx_icq][16][4]); empty where no padding is needed (weights_vnni serves). amx_icq 0:
  // not packed (no AMX in this process, or a direct 1x1 layer that needs no im2col rows).
  int amx_icq = 0;
  AlignedVector<int8_t> weights_amx;
  // AMX u8 x u8 (tdpbuud) for a uint8 layer whose folded weights w - Z_w do not all fit int8 (a
  // weight zero point other than 128: TF1's asymmetric weights), where AMX runs it: vnni stays
  // false (no vpdpbusd panels), and weights_vnni / weights_amx hold the raw u8 weights in the VNNI
  // layout, bias_vnni = bias - Z_in * sum(w - Z_w) (= bias), and the tile's sum(x * w) less
  // Z_w * sum(x) per pixel (amx_zw; the row sums of the u8 rows) is the reference's
  // sum((x - Z_in) * (w - Z_w)) + bias, modulo 2^32. Output channels a multiple of 32 and at
  // least 64 bytes of depth (every pixel and channel then runs on the tiles: there is no vpdpbusd
  // fallback for these panels); other such layers keep the AVX2 GEMM.
  bool amx_uu = false;
  int32_t amx_zw = 0;
  // The AVX2 split GEMM's bounds (x86/int8_x86.h, SplitLists): split_tk[c] in [64, 255] is the
  // largest u of input channel c for which every int16 lane of the split tile stays inside int16
  // (a lane adds the products of channels 4j + 2l, +1 of split_quads consecutive quads, l = 0, 1:
  // T times the lane's largest same-sign weight sum, over all output channels and taps);
  // split_t is their minimum. ic_pad4 rounded up to 32 entries (255 past input_c).
  int split_t = 128;
  AlignedVector<uint8_t> split_tk;
  // Quads per int16 lane group of the split tile: 4 on the 2-pixel x 32-channel tile (layers with
  // taps * ic_pad4 <= 1024, QAT_SPLIT32_MAX_DEPTH; a lane then sums eight products, channels
  // 4j + 2l, +1 of quads j .. j + 3, j a multiple of 4), else 2 (the 4 x 16 tile on weights_vnni).
  // The bounds above follow it.
  int split_quads = 2;
  // The 2 x 32 tile's panels (split_quads 4): [block pair][tap][quad][8-channel group][8][4] int8,
  // the same weights as weights_vnni, 128 bytes per quad.
  AlignedVector<int8_t> weights_split32;
  std::shared_ptr<SplitTuning> split_tuning;  // one-tap layers with the u8 panels (null: none)
  // 3x3 stride-1 layers on an AVX2 CPU: the exact integer Winograd F(2x2,3x3) twin
  // (optimized/winograd_conv.h), which the kAvx2 path runs instead of the GEMM (2.25x fewer
  // multiplies; measured 1.26-1.54x faster on SmallCNN's layers). Null where it does not apply.
  std::shared_ptr<const PackedWinograd> wino;
};

// Tests: pack the VNNI panels on every CPU. On a CPU without AVX-512 VNNI the kAvx512Vnni path then
// runs the same layout with a scalar twin of the VNNI tile, so packing, copy and bias folding are
// tested everywhere; the vpdpbusd tile itself only where the CPU has it.
void SetVnniPackingForTests(bool always);
// With VNNI panels on a CPU without VNNI (SetVnniPackingForTests), run the VNNI kernel's own source
// compiled with emulated AVX-512 intrinsics (x86/gemm_vnni_emulated_avx2.cpp; needs AVX2) instead
// of its scalar twin.
void SetVnniEmulationForTests(bool on);
// Tests: AMX in the VNNI runs (x86::GemmTilesAmx). -1: where qat::amx_int8_usable() and QAT_NO_AMX
// is unset (the default); 0: off; 1: on, the hardware kernel where usable, else on the emulated
// VNNI path (SetVnniEmulationForTests) the same source on emulated tiles; 2: that emulated twin on
// every VNNI path (needs AVX2), hardware VNNI included.
void SetAmxForTests(int mode);
bool AmxUsableForTests();
// How many tile runs AMX has started so far (tests: proof that it ran).
int64_t AmxRunsForTests();
// Tests: the AVX2 split GEMM on at every depth (by default only from QAT_SPLIT_MIN_DEPTH = 32 values
// per output, and off with QAT_NO_SPLIT=1), or off.
void SetSplitGemmForTests(bool on);
// How many calls have run the split GEMM so far (tests: proof that it ran, not its fallback).
int64_t SplitGemmCallsForTests();
// The split GEMM's bounds the next call uses (split_tk until retuned) and the residual count of the
// last split call (tests).
const uint8_t* SplitBoundsForTests(const PackedConv& pc);
int64_t SplitLastResidualsForTests();
// Off: keep the weight-only bounds (A/B runs; QAT_NO_SPLIT_TUNING=1 does the same).
void SetSplitTuningForTests(bool on);
// Off: no cold-channel plan at the retune (SplitCold; QAT_NO_COLD_SKIP=1 does the same).
void SetSplitColdForTests(bool on);
// Input channels the split tile skips since the retune (SplitCold; 0: none).
int SplitColdSkippedForTests(const PackedConv& pc);

// int8 activations, symmetric int8 weights (OHWI), per-channel requant (requant_count == 1:
// per-tensor). bias may be null.
PackedConv PackConvInt8(const ConvParams& p, const Requant* requant, int requant_count, const int8_t* filter,
                        const int32_t* bias);
// Legacy uint8 with weight zero point -p.filter_offset and one multiplier.
PackedConv PackConvUint8(const ConvParams& p, const Requant& requant, const uint8_t* filter, const int32_t* bias);
// FULLY_CONNECTED as a 1x1 convolution whose pixels are the batches.
PackedConv PackFullyConnectedInt8(const FullyConnectedParams& p, const Requant* requant, int requant_count,
                                  const int8_t* weights, const int32_t* bias);
PackedConv PackFullyConnectedUint8(const FullyConnectedParams& p, const Requant& requant, const uint8_t* weights,
                                   const int32_t* bias);

// Bytes of scratch one call needs (the int16 copy of the input plus the padding row).
size_t ConvScratchBytes(const PackedConv& pc);

// Runs the convolution (or FC) with the packed weights. scratch: ConvScratchBytes bytes, or null to
// let the call allocate (tests, benchmarks). pool: null or size 1 runs on the calling thread.
// path: which code path; default: the one qat::active_isa() selects (GemmPathFor: AVX-512 VNNI
// where the CPU has it). kAvx512Vnni on a layer without VNNI panels runs the AVX2 GEMM.
void ConvInt8(const PackedConv& pc, const int8_t* input, int8_t* output, void* scratch, ThreadPool* pool,
              KernelPath path = ActiveGemmPath());
void ConvUint8(const PackedConv& pc, const uint8_t* input, uint8_t* output, void* scratch, ThreadPool* pool,
               KernelPath path = ActiveGemmPath());

}  // namespace qat::kernels::optimized
