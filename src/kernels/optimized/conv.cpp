// Optimised CONV_2D / FULLY_CONNECTED driver (see conv.h): packing, the int16 input copy, the
// pixel x channel work split over the thread pool, and the portable micro-kernel, which does the
// same arithmetic as the AVX2 one in plain C++.
#include "kernels/optimized/conv.h"

#include <emmintrin.h>  // SSE2 (x86-64 baseline): the first layers' im2col copy

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

#include "kernels/env_flag.h"
#include "qat/error.h"
#include "kernels/optimized/fma_stage.h"
#include "kernels/optimized/parallel.h"
#include "kernels/x86/int8_x86.h"
#include "qat/thread_pool.h"

namespace qat::kernels::optimized {

namespace {

std::atomic<bool> g_vnni_pack_always{false};
// SetVnniEmulationForTests: without VNNI hardware the VNNI layout runs the VNNI kernel's own source
// with emulated AVX-512 intrinsics (x86::emulated) instead of its scalar twin.
std::atomic<bool> g_vnni_emulate{false};
// SetAmxForTests: -1 AMX where qat::amx_int8_usable() (and not QAT_NO_AMX=1), 0 off, 1 on: the
// hardware kernel where usable, else (with the emulated VNNI path) its emulated twin.
std::atomic<int> g_amx{-1};
int AmxMinK();
std::atomic<int64_t> g_amx_runs{0};  // runs that AMX started (tests: proof that it ran)
// QAT_NO_SPLIT=1 turns the AVX2 split GEMM off (A/B benchmarks; tests use SetSplitGemmForTests).
std::atomic<int> g_split{-1};
std::atomic<int64_t> g_split_calls{0};
// QAT_NO_WINOGRAD=1: 3x3 stride-1 layers run the GEMM on the AVX2 path too (A/B benchmarks).
const bool g_no_winograd = EnvFlag("QAT_NO_WINOGRAD");
// QAT_NO_KSHORT=1: kTflite layers use the 64-bit form even where the short ReLU one applies (A/B).
const bool g_no_kshort = EnvFlag("QAT_NO_KSHORT");
// QAT_NO_PREFETCH=1: the split 2x32 runs do not prefetch the next block pair's weights (A/B).
// The prefetch is spread over the run's tiles; a run of fewer tiles (FC at batch 1: one) would issue
// it as one burst of up to 512 lines before its only tile, and that burst cost more than it saved:
// mbv1_100's FULLY_CONNECTED 1024 -> 1000 at batch 1 took 0.068-0.079 ms with it, 0.040-0.046
// without (the hardware prefetcher streams its 1 MB of weights well enough).
constexpr int64_t kPrefetchMinTiles = 8;
const bool g_no_prefetch = EnvFlag("QAT_NO_PREFETCH");
// QAT_NO_VNNI_IM2COL=1: first layers keep the int16 row-tap GEMM on VNNI CPUs (A/B).
const bool g_no_vnni_im2col = EnvFlag("QAT_NO_VNNI_IM2COL");
// QAT_VNNI_CHUNK_KB: the VNNI GEMM's pixel chunk, in KiB of u8 rows per panel pass (default 256,
// the int16 GEMM's L2-sized chunk). On a Sapphire Rapids VM core (BM_Conv path 2; docs/kernels.md
// "Measured: thirteenth session") 16 KiB (rows kept in L1) looked faster in one run and slower in
// the next, row-by-row alternating one (28x28x256 -> 256: 219 us at 256 KiB, 285 at 16); the VM's
// +-50 % drift left it undecided, so the default stays and the knob is kept for a quieter machine.
int64_t VnniChunkBytes() {
  static const int64_t v = [] {
    const char* e = std::getenv("QAT_VNNI_CHUNK_KB");
    return (int64_t)(e && *e ? std::max(1, std::atoi(e)) : 256) << 10;
  }();
  return v;
}
// QAT_SPLIT_MIN_DEPTH: the smallest taps * input_c that uses the split GEMM (default 32).
int SplitMinDepth() {
  static const int v = [] {
    const char* e = std::getenv("QAT_SPLIT_MIN_DEPTH");
    return e && *e ? std::atoi(e) : 32;
  }();
  return v;
}
// QAT_SPLIT_DEBUG=1: one line per split call on stderr (residual count, fallback).
const bool g_split_debug = EnvFlag("QAT_SPLIT_DEBUG");
// Split bounds tuned to the activations (SplitTuning): QAT_NO_SPLIT_TUNING=1 keeps the weight-only
// ones (A/B runs; tests use SetSplitTuningForTests).
std::atomic<int> g_split_tuning{-1};
// A switch's value: set by a test hook, else 0 when the environment variable `off` is set (and not
// "0"), else 1; read from the environment once.
int SwitchValue(std::atomic<int>& sw, const char* off) {
  int v = sw.load(std::memory_order_relaxed);
  if (v < 0) {
    const char* e = std::getenv(off);
    v = e && *e && *e != '0' ? 0 : 1;
    sw.store(v, std::memory_order_relaxed);
  }
  return v;
}
bool SplitTuningOn() { return SwitchValue(g_split_tuning, "QAT_NO_SPLIT_TUNING") == 1; }
// Cold input channels skipped from the retune on (SplitCold): QAT_NO_COLD_SKIP=1 keeps every
// channel in the tile (A/B runs; tests use SetSplitColdForTests).
std::atomic<int> g_split_cold{-1};
bool SplitColdOn() { return SwitchValue(g_split_cold, "QAT_NO_COLD_SKIP") == 1; }
// Layers with fewer pixels per call keep every channel: with one or a few tiles per block pair
// (FULLY_CONNECTED at batch 1) the layer streams its weights once, and the gaps the skipped quads
// leave at the end of each pair's panel cost the hardware prefetcher more than the skipped bytes
// save (mbv1_100's FC 1024 -> 1000, 176 channels skipped: 0.046 -> 0.055 ms).
constexpr int64_t kColdMinPixels = 32;
std::atomic<int64_t> g_split_last_residuals{0};
// 0: off, 1: on from SplitMinDepth (default), 2: on at every depth (tests).
int SplitMode() { return SwitchValue(g_split, "QAT_NO_SPLIT"); }

// Per-channel arrays (bias_vnni, rq, k64, kshort) cover whole pairs of 16-channel blocks: the split
// GEMM's 32-channel tile reads a pair (PackedConv::weights_split32).
int OcPad(const PackedConv& pc) { return ((pc.oc_blocks + 1) & ~1) * kGemmNR; }

// QAT_SPLIT32_MAX_DEPTH: the largest taps * ic_pad4 on the 2 x 32 split tile (default 1024, a
// 32 KiB panel: mbv1_100's 7x7x1024 -> 1024 layer still ran 0.55 -> 0.47 ms on it, the batch-1
// FC 1024 -> 1000 no slower); deeper layers keep the 4 x 16 tile.
int Split32MaxDepth() {
  static const int v = [] {
    const char* e = std::getenv("QAT_SPLIT32_MAX_DEPTH");
    return e && *e ? std::atoi(e) : 1024;
  }();
  return v;
}

// result = (x * m + K) >> (31 + right) (logical, low 32 bits), K = 2^62 + 2^30 + 2^(30 + right)
// for a product >= 0, 2^31 less for a negative one (right > 0); see x86/gemm_avx2.cpp.
void InitK64(PackedConv& pc) {
  const int count = OcPad(pc);
  pc.k64.clear();
  pc.zp64.clear();
  for (int c = 0; c < count; ++c)
    if (pc.rq.right[c] < 0 || pc.rq.right[c] > 31) return;
  pc.k64.assign((size_t)count / 8 * 24, 0);
  pc.zp64.assign(count, 0);
  for (int c = 0; c < count; ++c) {
    const int right = pc.rq.right[c];
    const int64_t k_pos = (1LL << 62) + (1LL << 30) + (right > 0 ? (1LL << (30 + right)) : 0);
    const int64_t k_neg = k_pos - (right > 0 ? (1LL << 31) : 0);
    int64_t* g = pc.k64.data() + (c / 8) * 24;
    const int lane = (c % 8) / 2, odd = c % 2;
    g[(odd ? 8 : 0) + lane] = k_pos;
    g[(odd ? 12 : 4) + lane] = k_neg;
    g[(odd ? 20 : 16) + lane] = 31 + right;
    pc.zp64[c] = (int32_t)((uint32_t)pc.p.output_offset - (uint32_t)(1ULL << (31 - right)));
  }
}

void InitFma(PackedConv& pc);

// The short ReLU form of the kTflite stage (x86/gemm_avx2.cpp, Requant4Short): per 8 channels
// K = 2^30 + 2^(30 + right) + Z_out * 2^(31 + right) for the even and the odd channels, then
// right - 1 per channel. Only when every channel has right in 1..kShortMaxRight, no left shift,
// and the activation's lower clamp is at or above the output zero point.
void InitKShort(PackedConv& pc) {
  const int count = OcPad(pc);
  pc.kshort.clear();
  pc.fma_scale.clear();
  pc.fma_offset.clear();
  pc.fma_offset_neg.clear();
  pc.fma_zero.clear();
  pc.fma_groups.clear();
  if (pc.rq.any_left) return;
  for (int c = 0; c < pc.p.output_c; ++c)
    if (pc.rq.right[c] < 1 || pc.rq.right[c] > x86::kShortMaxRight) return;
  // A lower clamp below the output zero point (no fused ReLU): no short form, but the VNNI tile
  // can still take the exact FMA form of the whole signed range where a channel has one
  // (optimized/fma_stage.h; the AVX2 tiles keep the 64-bit stage there).
  const bool relu = pc.p.act_min >= pc.p.output_offset;
  if (!relu) {
    if (isa_supported(Isa::kAvx512Vnni) || g_vnni_pack_always.load(std::memory_order_relaxed)) InitFma(pc);
    return;
  }
  pc.kshort.assign((size_t)count / 8 * 12, 0);
  for (int c = 0; c < count; ++c) {
    const int right = c < pc.p.output_c ? pc.rq.right[c] : 1;  // padding channels: never stored
    int64_t* g = pc.kshort.data() + (c / 8) * 12;
    g[(c % 2 ? 4 : 0) + (c % 8) / 2] =
        (1LL << 30) + (1LL << (30 + right)) + (int64_t)pc.p.output_offset * (1LL << (31 + right));
    reinterpret_cast<int32_t*>(g + 8)[c % 8] = right - 1;
  }
  InitFma(pc);
}

// The exact FMA form per channel, used per group of 8 channels whose every channel has one.
void InitFma(PackedConv& pc) {
  const int count = OcPad(pc);
  if (NoFmaStage() || pc.p.requant != RequantMode::kTflite || !isa_supported(Isa::kAvx2)) return;
  AlignedVector<float> scale(count, 0.f), offset(count, 0.f), offset_neg(count, 0.f);
  AlignedVector<int32_t> zero(count, 0);
  std::vector<uint8_t> groups((size_t)count / 8, 1);
  bool any = false, found = false;
  FmaStage st;
  for (int c = 0; c < pc.p.output_c; ++c) {
    // A channel with the previous one's multiplier (all of them in a per-tensor layer) reuses
    // its result: the search costs ~4 us.
    if (c == 0 || pc.rq.multiplier[c] != pc.rq.multiplier[c - 1] || pc.rq.right[c] != pc.rq.right[c - 1])
      found = FindExactFmaStage(pc.rq.multiplier[c], pc.rq.right[c], pc.p.act_min - pc.p.output_offset,
                                pc.p.act_max - pc.p.output_offset, &st);
    if (found) {
      scale[c] = st.scale;
      offset[c] = st.offset;
      offset_neg[c] = st.offset_neg;
      zero[c] = pc.p.output_offset + st.center;
    } else {
      groups[c / 8] = 0;
    }
  }
  for (int g = 0; g < count / 8; ++g) any |= groups[g] && g * 8 < pc.p.output_c;
  if (!any) return;
  pc.fma_scale = std::move(scale);
  pc.fma_offset = std::move(offset);
  if (pc.p.act_min < pc.p.output_offset) pc.fma_offset_neg = std::move(offset_neg);
  pc.fma_zero = std::move(zero);
  pc.fma_groups = std::move(groups);
}

// The 2 x 32 tile's panels (PackedConv::weights_split32) from the VNNI ones wv
// ([oc_block][tap][icq][16][4]): [block pair][tap][quad][4 groups of 8 channels][8][4], quad q of a
// tap at q * 128 bytes.
AlignedVector<int8_t> Split32Panels(const int8_t* wv, int taps, int icq, int oc_blocks, int output_c) {
  const int64_t panel4 = (int64_t)taps * icq * 4 * kGemmNR;
  const int64_t panel32 = (int64_t)taps * icq * 128;
  AlignedVector<int8_t> w32(panel32 * ((oc_blocks + 1) / 2), 0);
  for (int oc = 0; oc < output_c; ++oc)
    for (int t = 0; t < taps; ++t)
      for (int q = 0; q < icq; ++q)
        for (int e = 0; e < 4; ++e)
          w32[(oc / 32) * panel32 + ((int64_t)t * icq + q) * 128 + (oc % 32) * 4 + e] =
              wv[(oc / kGemmNR) * panel4 + ((int64_t)t * icq + q) * kGemmNR * 4 + (oc % kGemmNR) * 4 + e];
  return w32;
}

// The weight-only split bounds (PackedConv::split_tk) of the VNNI panels wv, sq quads per lane group:
// ic_pad4 rounded up to 32 entries, 255 past the depth.
// The split tiles (x86/gemm_avx2.cpp) add the vpmaddubsw lanes of sq consecutive quads of a tap in
// int16 before widening them (2 on the 4 x 16 tile, 4 on the 2 x 32 one), so each int16 lane sums
// 2 * sq products: bytes 2i, 2i + 1 of a channel's quads j .. j + sq - 1 (j a multiple of sq; a
// tap's last quads fewer). T is the largest u for which the largest positive and negative weight
// sums of the lane stay in int16. Each lane group (tap, quads, lane: 4 or 8 input channels) has its
// own bound, and an input channel takes the smallest over the taps it meets: most groups allow a
// bound well above the layer's worst one, so fewer activations go to the residual lists.
AlignedVector<uint8_t> SplitBounds(const int8_t* wv, int taps, int ic_pad4, int oc_blocks, int sq) {
  const int icq = ic_pad4 / 4;
  const int64_t panel4 = (int64_t)taps * ic_pad4 * kGemmNR;
  AlignedVector<uint8_t> tk((size_t)((ic_pad4 + 31) & ~31), 255);
  for (int t = 0; t < taps; ++t)
    for (int j = 0; j < icq; j += sq) {
      const int quads = std::min(sq, icq - j);
      for (int l = 0; l < 2; ++l) {  // int16 lane l: bytes 2l, 2l + 1 of each channel's quads
        int pos = 1, neg = 1;
        for (int b = 0; b < oc_blocks; ++b) {
          const int8_t* q = wv + b * panel4 + ((int64_t)t * icq + j) * kGemmNR * 4 + 2 * l;
          for (int c = 0; c < kGemmNR; ++c) {
            int ps = 0, ns = 0;
            for (int h = 0; h < quads; ++h)
              for (int e = 0; e < 2; ++e) {
                const int v = q[h * kGemmNR * 4 + c * 4 + e];
                (v > 0 ? ps : ns) += v > 0 ? v : -v;
              }
            pos = std::max(pos, ps);
            neg = std::max(neg, ns);
          }
        }
        const int bound = std::min({255, 32767 / pos, 32768 / neg});
        for (int h = 0; h < quads; ++h)
          for (int e = 0; e < 2; ++e) {
            uint8_t& v = tk[(j + h) * 4 + 2 * l + e];
            v = (uint8_t)std::min<int>(v, bound);
          }
      }
    }
  return tk;
}

// Whether layers packed now may run on AMX: the process's default (amx_int8_enabled()), or the
// tests' switch (SetAmxForTests).
bool AmxWanted() {
  const int m = g_amx.load(std::memory_order_relaxed);
  return m > 0 || (m < 0 && amx_int8_enabled());
}

// AMX's im2col panels (PackedConv::amx_icq, weights_amx) for a layer with VNNI-layout panels in
// weights_vnni (taps x icq quads each): every layer but the direct 1x1 ones whose rows are whole
// K steps already (input channels a multiple of 64, or below 64).
void PackAmxIm2col(PackedConv& pc, int taps, int icq) {
  const ConvParams& p = pc.p;
  const bool direct1x1 = taps == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_top == 0 && p.pad_left == 0 &&
                         p.output_h == p.input_h && p.output_w == p.input_w;
  if (direct1x1 && !(icq > 16 && icq % 16 != 0)) return;
  const int kq = taps * icq;
  pc.amx_icq = kq > 16 ? (kq + 15) / 16 * 16 : kq;
  if (pc.amx_icq == kq) return;  // the VNNI panels are K-contiguous already
  const int64_t panel4 = (int64_t)kq * 64, pa = (int64_t)pc.amx_icq * 64;
  pc.weights_amx.assign(pa * pc.oc_blocks, 0);
  for (int b = 0; b < pc.oc_blocks; ++b)
    std::memcpy(pc.weights_amx.data() + b * pa, pc.weights_vnni.data() + b * panel4, (size_t)panel4);
}

template <class W>
PackedConv PackImpl(const ConvParams& p, const Requant* requant, int requant_count, const W* filter,
                    const int32_t* bias, bool is_uint8) {
  PackedConv pc;
  pc.p = p;
  pc.is_uint8 = is_uint8;
  const int taps = p.filter_h * p.filter_w;
  const bool few_channels = taps > 1 && p.input_c < 8;
  pc.row_taps = few_channels && p.dilation_w == 1 && p.filter_h <= 64;  // BuildTable keeps kh row pointers
  pc.im2col = few_channels && !pc.row_taps;
  pc.taps = pc.im2col ? 1 : (pc.row_taps ? p.filter_h : taps);
  pc.ic_pad = pc.im2col     ? (taps * p.input_c + 1) & ~1
              : pc.row_taps ? (p.filter_w * p.input_c + 1) & ~1
                            : (p.input_c + 1) & ~1;
  if (pc.row_taps)
    pc.padded_w = std::max(p.pad_left + p.input_w, (p.output_w - 1) * p.stride_w + p.filter_w);
  pc.oc_blocks = (p.output_c + kGemmNR - 1) / kGemmNR;
  const int icp = pc.ic_pad / 2;
  const int64_t panel = (int64_t)pc.taps * icp * kGemmNR * 2;
  pc.weights.assign(panel * pc.oc_blocks, 0);
  pc.bias.assign(pc.oc_blocks * kGemmNR, 0);
  const int32_t filter_offset = is_uint8 ? p.filter_offset : 0;  // int8 weights are symmetric
  const int64_t oc_stride = (int64_t)taps * p.input_c;
  std::vector<int32_t> sums(p.output_c);
  bool fits_int8 = true;  // every folded weight in [-128, 127] (the VNNI GEMM's s8 operand)
  for (int oc = 0; oc < p.output_c; ++oc) {
    int16_t* dst = pc.weights.data() + (oc / kGemmNR) * panel + (oc % kGemmNR) * 2;
    int32_t sum = 0;
    for (int t = 0; t < taps; ++t)
      for (int ic = 0; ic < p.input_c; ++ic) {
        const int32_t w = (int32_t)filter[oc * oc_stride + (int64_t)t * p.input_c + ic] + filter_offset;
        sum += w;
        fits_int8 = fits_int8 && w >= -128 && w <= 127;
        // im2col rows hold the OHWI order k = t * input_c + ic, i.e. the filter row as stored; a
        // row tap fy holds fx * input_c + ic.
        const int k = pc.im2col     ? t * p.input_c + ic
                      : pc.row_taps ? (t / p.filter_w) * pc.ic_pad + (t % p.filter_w) * p.input_c + ic
                                    : t * pc.ic_pad + ic;
        dst[(int64_t)(k / 2) * kGemmNR * 2 + (k & 1)] = (int16_t)w;
      }
    // Wrapping int32 arithmetic, as the reference accumulator (exact for any real layer).
    pc.bias[oc] = (int32_t)((uint32_t)(bias ? bias[oc] : 0) + (uint32_t)p.input_offset * (uint32_t)sum);
    sums[oc] = sum;
  }
  pc.rq.Init(requant, requant_count, p.output_c, OcPad(pc));
  InitK64(pc);
  InitKShort(pc);
  pc.fp32_in_range = std::all_of(pc.rq.scale.begin(), pc.rq.scale.end(), [](float s) { return s < 1.0f; });
  if (isa_supported(Isa::kAvx2) && WinogradApplies(p, is_uint8)) {
    if constexpr (std::is_same_v<W, uint8_t>)
      pc.wino = std::make_shared<const PackedWinograd>(PackWinogradUint8(p, requant[0], filter, bias));
    else
      pc.wino = std::make_shared<const PackedWinograd>(PackWinogradInt8(p, requant, requant_count, filter, bias));
  }
  pc.zero_in = (int16_t)(-p.input_offset);

  // The AVX-512 VNNI panels (conv.h, PackedConv::vnni).
  const int32_t shift = is_uint8 ? 0 : 128;  // u8 copy = activation + shift
  const int32_t zero_u8 = -p.input_offset + shift;
  if (!pc.row_taps && !pc.im2col && fits_int8 && zero_u8 >= 0 && zero_u8 <= 255 &&
      (g_vnni_pack_always.load(std::memory_order_relaxed) || isa_supported(Isa::kAvx512Vnni) ||
       isa_supported(Isa::kAvx2))) {
    pc.vnni = true;
    pc.ic_pad4 = (p.input_c + 3) & ~3;
    pc.zero_in_u8 = (uint8_t)zero_u8;
    const int64_t panel4 = (int64_t)taps * pc.ic_pad4 * kGemmNR;
    pc.weights_vnni.assign(panel4 * pc.oc_blocks, 0);
    pc.bias_vnni.assign(OcPad(pc), 0);
    for (int oc = 0; oc < p.output_c; ++oc) {
      int8_t* dst = pc.weights_vnni.data() + (oc / kGemmNR) * panel4 + (oc % kGemmNR) * 4;
      for (int t = 0; t < taps; ++t)
        for (int ic = 0; ic < p.input_c; ++ic) {
          const int32_t w = (int32_t)filter[oc * oc_stride + (int64_t)t * p.input_c + ic] + filter_offset;
          const int k = t * pc.ic_pad4 + ic;
          dst[(int64_t)(k / 4) * kGemmNR * 4 + (k & 3)] = (int8_t)w;
        }
      // sum(w * (x + shift)) = sum(w * x) + shift * sum(w): fold -shift * sum(w), modulo 2^32.
      pc.bias_vnni[oc] = (int32_t)((uint32_t)pc.bias[oc] - (uint32_t)shift * (uint32_t)sums[oc]);
    }
    // The split bounds (SplitBounds) and, up to Split32MaxDepth, the 2 x 32 tile's panels.
    const int icq = pc.ic_pad4 / 4;
    // The 2 x 32 tile (PackedConv::weights_split32) up to Split32MaxDepth.
    pc.split_quads = isa_supported(Isa::kAvx2) && (int64_t)taps * pc.ic_pad4 <= Split32MaxDepth() ? 4 : 2;
    const int sq = pc.split_quads;
    if (sq == 4) pc.weights_split32 = Split32Panels(pc.weights_vnni.data(), taps, icq, pc.oc_blocks, p.output_c);
    pc.split_tk = SplitBounds(pc.weights_vnni.data(), taps, pc.ic_pad4, pc.oc_blocks, sq);
    pc.split_t = *std::min_element(pc.split_tk.begin(), pc.split_tk.end());
    if (taps == 1 && isa_supported(Isa::kAvx2)) pc.split_tuning = std::make_shared<SplitTuning>();
    if (AmxWanted()) PackAmxIm2col(pc, taps, icq);
  }
  // AMX u8 x u8 panels (PackedConv::amx_uu): uint8 weights that do not fit int8 once folded.
  {
    const int ic_pad4 = (p.input_c + 3) & ~3, icq = ic_pad4 / 4;
    if (is_uint8 && !fits_int8 && !pc.row_taps && !pc.im2col && zero_u8 >= 0 && zero_u8 <= 255 &&
        p.output_c % (2 * kGemmNR) == 0 && 4 * taps * icq >= AmxMinK() && AmxWanted()) {
      pc.amx_uu = true;
      pc.amx_zw = -filter_offset;
      pc.ic_pad4 = ic_pad4;
      pc.zero_in_u8 = (uint8_t)zero_u8;
      const int64_t panel4 = (int64_t)taps * ic_pad4 * kGemmNR;
      pc.weights_vnni.assign(panel4 * pc.oc_blocks, 0);
      pc.bias_vnni.assign(OcPad(pc), 0);
      for (int oc = 0; oc < p.output_c; ++oc) {
        int8_t* dst = pc.weights_vnni.data() + (oc / kGemmNR) * panel4 + (oc % kGemmNR) * 4;
        for (int t = 0; t < taps; ++t)
          for (int ic = 0; ic < p.input_c; ++ic) {
            const int k = t * ic_pad4 + ic;
            dst[(int64_t)(k / 4) * kGemmNR * 4 + (k & 3)] = (int8_t)filter[oc * oc_stride + (int64_t)t * p.input_c + ic];
          }
        pc.bias_vnni[oc] = pc.bias[oc];
      }
      PackAmxIm2col(pc, taps, icq);
    }
  }
  // First layers (few input channels: row taps / im2col on the int16 GEMM) on a VNNI CPU: VNNI
  // panels in the im2col order (k = tap * input_c + ic; the whole window is one tap of
  // taps * input_c values, padded to a quad), fed by a u8 im2col copy (ConvRunVnniIm2col).
  if ((pc.row_taps || pc.im2col) && fits_int8 && zero_u8 >= 0 && zero_u8 <= 255 && !g_no_vnni_im2col &&
      (g_vnni_pack_always.load(std::memory_order_relaxed) || isa_supported(Isa::kAvx512Vnni))) {
    pc.vnni_im2col = true;
    pc.ic_pad4 = (taps * p.input_c + 3) & ~3;
    pc.zero_in_u8 = (uint8_t)zero_u8;
    const int64_t panel4 = (int64_t)pc.ic_pad4 * kGemmNR;
    pc.weights_vnni.assign(panel4 * pc.oc_blocks, 0);
    pc.bias_vnni.assign(OcPad(pc), 0);
    for (int oc = 0; oc < p.output_c; ++oc) {
      int8_t* dst = pc.weights_vnni.data() + (oc / kGemmNR) * panel4 + (oc % kGemmNR) * 4;
      for (int k = 0; k < taps * p.input_c; ++k) {
        const int32_t w = (int32_t)filter[oc * oc_stride + k] + filter_offset;
        dst[(int64_t)(k / 4) * kGemmNR * 4 + (k & 3)] = (int8_t)w;
      }
      pc.bias_vnni[oc] = (int32_t)((uint32_t)pc.bias[oc] - (uint32_t)shift * (uint32_t)sums[oc]);
    }
  }
  return pc;
}

// Retunes the split bounds of a one-tap layer from the first call's histogram (SplitTuning). Lane
// group by lane group (its 2-8 input channels share every int16 lane of the split tile): while a
// member still has residuals, the hottest one not yet placed takes the largest bound the weights
// allow once its unplaced group-mates are lowered to a common level L, for the L (the histogram's
// bin ends above kSplitTuneFloor: it counts only values above it, in bins of 8) that leaves the
// fewest residuals in the group by the histogram. Every group's result is checked
// against all its weight rows again and kept only when valid and better; so whatever the
// histogram, the bounds stay exact.
constexpr int kSplitTuneFloor = 31;  // the histogram counts values above it; no bound goes lower

// wv: a one-tap layer's VNNI panels ([oc_block][ic_pad4/4][16][4]), tk0 its bounds, hist the
// histogram of its ic channels in the same order; returns the retuned bounds.
AlignedVector<uint8_t> RetuneBounds(const int8_t* wv, int ic, int ic_pad4, int oc_blocks, int sq,
                                    const AlignedVector<uint8_t>& tk0, const std::vector<int32_t>& hist) {
  const int icq = ic_pad4 / 4;
  const int64_t panel4 = (int64_t)ic_pad4 * kGemmNR;
  // above[c * 256 + t]: values of channel c above t, from bins of 8 values (exact at t = 8b + 7;
  // elsewhere t's whole bin counts, an overestimate).
  std::vector<int32_t> above((size_t)ic * 256);
  for (int c = 0; c < ic; ++c) {
    int32_t n = 0;  // values in the bins above t's
    for (int b = 31; b >= 0; --b) {
      const int32_t in_bin = hist[(size_t)c * 32 + b];
      for (int t = 8 * b + 7; t >= 8 * b; --t) above[(size_t)c * 256 + t] = n + (t % 8 == 7 ? 0 : in_bin);
      n += in_bin;
    }
  }
  AlignedVector<uint8_t> tk(tk0.begin(), tk0.end());
  std::vector<int32_t> wa, wb;  // binding weight rows: positive / negative parts, m per row
  for (int j = 0; j < icq; j += sq)
    for (int l = 0; l < 2; ++l) {
      int members[8], m = 0;
      for (int h = 0; h < sq && j + h < icq; ++h)
        for (int e = 0; e < 2; ++e) {
          const int k = (j + h) * 4 + 2 * l + e;
          if (k < ic) members[m++] = k;
        }
      auto cost = [&](const int* t) {
        int64_t sum = 0;
        for (int i = 0; i < m; ++i) sum += above[(size_t)members[i] * 256 + t[i]];
        return sum;
      };
      int t0[8];
      for (int i = 0; i < m; ++i) t0[i] = tk[members[i]];
      const int64_t cost0 = cost(t0);
      if (cost0 == 0) continue;
      // The weight rows (one per output channel) that can bind at all: sum of 255 * w over the
      // members above the int16 range on either side.
      wa.clear();
      wb.clear();
      for (int blk = 0; blk < oc_blocks; ++blk)
        for (int c = 0; c < kGemmNR; ++c) {
          int ra[8], rb[8], sa = 0, sb = 0;
          for (int i = 0; i < m; ++i) {
            const int k = members[i];
            const int v = wv[blk * panel4 + (k / 4) * kGemmNR * 4 + c * 4 + k % 4];
            ra[i] = v > 0 ? v : 0;
            rb[i] = v < 0 ? -v : 0;
            sa += ra[i];
            sb += rb[i];
          }
          if (255 * sa <= 32767 && 255 * sb <= 32768) continue;
          wa.insert(wa.end(), ra, ra + m);
          wb.insert(wb.end(), rb, rb + m);
        }
      const size_t rows = wa.size() / std::max(m, 1);
      auto feasible = [&](const int* t) {
        for (size_t r = 0; r < rows; ++r) {
          int sa = 0, sb = 0;
          for (int i = 0; i < m; ++i) {
            sa += t[i] * wa[r * m + i];
            sb += t[i] * wb[r * m + i];
          }
          if (sa > 32767 || sb > 32768) return false;
        }
        return true;
      };
      // The largest bound of member h with the others at t (-1: the others alone overflow).
      auto max_for = [&](int h, const int* t) {
        int best = 255;
        for (size_t r = 0; r < rows; ++r) {
          int sa = 0, sb = 0;
          for (int i = 0; i < m; ++i)
            if (i != h) {
              sa += t[i] * wa[r * m + i];
              sb += t[i] * wb[r * m + i];
            }
          if (sa > 32767 || sb > 32768) return -1;
          if (wa[r * m + h]) best = std::min(best, (32767 - sa) / wa[r * m + h]);
          if (wb[r * m + h]) best = std::min(best, (32768 - sb) / wb[r * m + h]);
        }
        return best;
      };
      int t[8], order[8];
      bool placed[8] = {};
      for (int i = 0; i < m; ++i) t[i] = t0[i], order[i] = i;
      // Hottest first (an insertion sort of at most 8: std::sort here drew a false -Warray-bounds).
      auto hot = [&](int i) { return above[(size_t)members[i] * 256 + t[i]]; };
      for (int i = 1; i < m; ++i)
        for (int k = i; k > 0 && hot(order[k]) > hot(order[k - 1]); --k) std::swap(order[k], order[k - 1]);
      for (int oi = 0; oi < m; ++oi) {
        const int h = order[oi];
        if (above[(size_t)members[h] * 256 + t[h]] == 0) break;
        int best[8];
        std::copy(t, t + m, best);
        int64_t best_cost = cost(t);
        int top = kSplitTuneFloor + 1;  // levels above every unplaced mate's bound change nothing
        for (int i = 0; i < m; ++i)
          if (i != h && !placed[i]) top = std::max(top, t[i]);
        for (int level = kSplitTuneFloor + 8; level <= top; level += 8) {  // bin ends: 39, 47, ..
          int c[8];
          for (int i = 0; i < m; ++i) c[i] = (i == h || placed[i]) ? t[i] : std::min(level, t[i]);
          const int th = max_for(h, c);
          if (th <= kSplitTuneFloor) continue;
          c[h] = th;
          const int64_t cc = cost(c);
          if (cc < best_cost) {
            best_cost = cc;
            std::copy(c, c + m, best);
          }
        }
        std::copy(best, best + m, t);
        placed[h] = true;
      }
      if (cost(t) < cost0 && feasible(t))
        for (int i = 0; i < m; ++i) tk[members[i]] = (uint8_t)t[i];
    }
  return tk;
}

void RetuneSplitBounds(const PackedConv& pc, SplitTuning& st) {
  st.tuned_tk = RetuneBounds(pc.weights_vnni.data(), pc.p.input_c, pc.ic_pad4, pc.oc_blocks, pc.split_quads,
                             pc.split_tk, st.hist);
  st.bounds.store(st.tuned_tk.data(), std::memory_order_release);
}

// The cold-channel plan (conv.h, SplitCold) of a one-tap layer on the 2 x 32 tile from its first
// call's channel ranges: null when fewer than 16 channels stayed at one value (nothing to skip),
// when input_c is not a multiple of 16, or when no histogram was recorded.
std::unique_ptr<SplitCold> PlanColdChannels(const PackedConv& pc, const SplitTuning& st) {
  const int ic = pc.p.input_c, ic_pad4 = pc.ic_pad4;
  if (pc.split_quads != 4 || pc.taps != 1 || ic % 16 != 0 || ic != ic_pad4 || (int)st.chan_max.size() != ic ||
      (int)st.chan_min.size() != ic || st.hist.empty())
    return nullptr;
  const int64_t panel4 = (int64_t)ic_pad4 * kGemmNR;
  auto weight = [&](int b, int o, int c) { return pc.weights_vnni[b * panel4 + (c / 4) * kGemmNR * 4 + o * 4 + c % 4]; };
  // Candidates: one value in the whole first call, and (a constant above 0) no weight at -128,
  // whose negation int8 cannot hold.
  std::vector<uint8_t> cand(ic, 0);
  int n_cand = 0;
  for (int c = 0; c < ic; ++c) {
    bool ok = st.chan_min[c] == st.chan_max[c];
    if (ok && st.chan_max[c] > 0)
      for (int b = 0; b < pc.oc_blocks && ok; ++b)
        for (int o = 0; o < kGemmNR; ++o) ok = ok && weight(b, o, c) != -128;
    cand[c] = ok;
    n_cand += ok;
  }
  const int ic_live = (ic - n_cand + 15) & ~15;
  if (ic_live + 16 > ic) return nullptr;
  // Kept: every other channel and the fewest candidates up to ic_live (constant ones first: they
  // would need a negated copy), in channel order; then the skipped ones, then the negated copies.
  std::vector<uint8_t> kept(ic, 0);
  int extra = ic_live - (ic - n_cand);
  for (int pass = 0; pass < 2; ++pass)
    for (int c = 0; c < ic; ++c) {
      if (!cand[c]) kept[c] = 1;
      else if (!kept[c] && extra > 0 && (pass == 1 || st.chan_max[c] > 0)) kept[c] = 1, --extra;
    }
  auto plan = std::make_unique<SplitCold>();
  plan->ic_live = ic_live;
  plan->pos.assign(ic, 0);
  plan->neg.assign(ic, -1);
  plan->expect.assign(ic, 0);
  int next_kept = 0, next_skip = ic_live, next_neg = ic;
  for (int c = 0; c < ic; ++c) {
    plan->pos[c] = (int16_t)(kept[c] ? next_kept++ : next_skip++);
    if (!kept[c] && st.chan_max[c] > 0) {
      plan->expect[c] = st.chan_max[c];
      plan->neg[c] = (int16_t)next_neg++;
    }
  }
  const int ic_total = (next_neg + 15) & ~15;  // whole 16-channel groups, as the bounds' lane groups
  plan->icq_total = ic_total / 4;
  // The VNNI panels (negated copies after input_c), histogram, bounds and bias in the permuted order.
  const int64_t panel_total = (int64_t)ic_total * kGemmNR;
  AlignedVector<int8_t> wv((size_t)(panel_total * pc.oc_blocks), 0);
  plan->bias.assign(pc.bias_vnni.begin(), pc.bias_vnni.end());
  for (int b = 0; b < pc.oc_blocks; ++b)
    for (int c = 0; c < ic; ++c)
      for (int o = 0; o < kGemmNR; ++o) {
        const int w = weight(b, o, c);
        const int k = plan->pos[c];
        wv[b * panel_total + (k / 4) * kGemmNR * 4 + o * 4 + k % 4] = (int8_t)w;
        if (plan->neg[c] >= 0) {
          const int kn = plan->neg[c];
          wv[b * panel_total + (kn / 4) * kGemmNR * 4 + o * 4 + kn % 4] = (int8_t)-w;
          // w * c into the bias, modulo 2^32 as every accumulator.
          const int oc = b * kGemmNR + o;
          plan->bias[oc] = (int32_t)((uint32_t)plan->bias[oc] + (uint32_t)(w * plan->expect[c]));
        }
      }
  std::vector<int32_t> hist(st.hist.size());
  for (int c = 0; c < ic; ++c)
    std::copy_n(st.hist.begin() + (size_t)c * 32, 32, hist.begin() + (size_t)plan->pos[c] * 32);
  plan->tk = RetuneBounds(wv.data(), ic, ic_total, pc.oc_blocks, 4, SplitBounds(wv.data(), 1, ic_total, pc.oc_blocks, 4),
                          hist);
  for (size_t k = ic_live; k < plan->tk.size(); ++k) plan->tk[k] = 0;
  plan->weights_split32 = Split32Panels(wv.data(), 1, plan->icq_total, pc.oc_blocks, pc.p.output_c);
  // The copy's tables: per 16-channel source chunk the vpshufb control that moves its kept values to
  // the front (in order; 0x80 zeroes the rest), their first position, and the skipped channels.
  const int chunks = ic / 16;
  plan->ctl.assign((size_t)chunks * 16, 0x80);
  plan->off.assign(chunks, 0);
  plan->skip_mask.assign(chunks, 0);
  int at = 0;
  for (int k = 0; k < chunks; ++k) {
    plan->off[k] = at;
    int n = 0;
    for (int b = 0; b < 16; ++b) {
      if (kept[16 * k + b])
        plan->ctl[(size_t)k * 16 + n++] = (uint8_t)b;
      else
        plan->skip_mask[k] |= (uint16_t)(1u << b);
    }
    at += n;
  }
  return plan;
}

ConvParams FcAsConv(const FullyConnectedParams& f) {
  ConvParams p;
  p.batches = f.batches;
  p.input_h = p.input_w = p.output_h = p.output_w = 1;
  p.input_c = f.input_depth;
  p.output_c = f.output_depth;
  p.input_offset = f.input_offset;
  p.filter_offset = f.filter_offset;
  p.output_offset = f.output_offset;
  p.act_min = f.act_min;
  p.act_max = f.act_max;
  p.requant = f.requant;
  return p;
}

// Portable twin of x86::GemmTile4x16Avx2: same packed layout, same output stage (scalar).
void GemmTilePortable(int pixels, int taps, int icp, const int16_t* const* rows, const int16_t* w, const PackedConv& pc,
                      int oc0, int n, uint8_t* const* out) {
  int32_t acc[kGemmMR][kGemmNR] = {};
  for (int t = 0; t < taps; ++t)
    for (int j = 0; j < icp; ++j, w += 2 * kGemmNR)
      for (int r = 0; r < pixels; ++r) {
        const int32_t x0 = rows[t * kGemmMR + r][2 * j], x1 = rows[t * kGemmMR + r][2 * j + 1];
        for (int c = 0; c < kGemmNR; ++c) acc[r][c] += x0 * w[2 * c] + x1 * w[2 * c + 1];
      }
  const ConvParams& p = pc.p;
  for (int r = 0; r < pixels; ++r)
    for (int c = 0; c < n; ++c) {
      const int32_t a = (int32_t)((uint32_t)acc[r][c] + (uint32_t)pc.bias[oc0 + c]);
      const int32_t v = OutputStageScalar(p.requant, pc.rq, oc0 + c, a, p.output_offset, p.act_min, p.act_max);
      out[r][c] = pc.is_uint8 ? (uint8_t)v : (uint8_t)(int8_t)v;
    }
}

void WidenRowsPortable(const void* input, bool is_uint8, int64_t rows, int ic, int ic_pad, int16_t* out) {
  for (int64_t r = 0; r < rows; ++r) {
    int16_t* d = out + r * ic_pad;
    if (is_uint8) {
      const uint8_t* s = static_cast<const uint8_t*>(input) + r * ic;
      for (int c = 0; c < ic; ++c) d[c] = s[c];
    } else {
      const int8_t* s = static_cast<const int8_t*>(input) + r * ic;
      for (int c = 0; c < ic; ++c) d[c] = s[c];
    }
    for (int c = ic; c < ic_pad; ++c) d[c] = 0;
  }
}

// Scalar twins (one panel) of x86::GemmTileVnni and x86::CopyRowsVnni (SetVnniPackingForTests on a CPU
// without VNNI): same layouts, same arithmetic.
void GemmTileVnniPortable(int pixels, int taps, int icq, const uint8_t* const* rows_a, const uint8_t* const* rows_b,
                          const int8_t* w, const PackedConv& pc, int oc0, int n, uint8_t* const* out) {
  uint32_t acc[2 * kGemmMR][kGemmNR];
  for (int r = 0; r < 2 * kGemmMR; ++r)
    for (int c = 0; c < kGemmNR; ++c) acc[r][c] = (uint32_t)pc.bias_vnni[oc0 + c];
  for (int t = 0; t < taps; ++t)
    for (int j = 0; j < icq; ++j, w += 4 * kGemmNR)
      for (int r = 0; r < pixels; ++r) {
        const uint8_t* x = (r < kGemmMR ? rows_a[t * kGemmMR + r] : rows_b[t * kGemmMR + r - kGemmMR]) + 4 * j;
        for (int c = 0; c < kGemmNR; ++c)
          for (int q = 0; q < 4; ++q) acc[r][c] += (uint32_t)((int32_t)x[q] * (int32_t)w[4 * c + q]);
      }
  const ConvParams& p = pc.p;
  for (int r = 0; r < pixels; ++r)
    for (int c = 0; c < n; ++c) {
      const int32_t v = OutputStageScalar(p.requant, pc.rq, oc0 + c, (int32_t)acc[r][c], p.output_offset, p.act_min,
                                          p.act_max);
      out[r][c] = pc.is_uint8 ? (uint8_t)v : (uint8_t)(int8_t)v;
    }
}

void CopyRowsVnniPortable(const void* input, bool is_uint8, int64_t rows, int ic, int ic_pad4, uint8_t* out) {
  const uint8_t* in = static_cast<const uint8_t*>(input);
  const uint8_t flip = is_uint8 ? 0 : 0x80;
  for (int64_t r = 0; r < rows; ++r) {
    for (int c = 0; c < ic; ++c) out[r * ic_pad4 + c] = in[r * ic + c] ^ flip;
    for (int c = ic; c < ic_pad4; ++c) out[r * ic_pad4 + c] = 0;
  }
}

// im2col rows of output pixels [m0, m1): each pixel's filter window, tap by tap (padding taps hold
// Z_in), widened to int16. A window row that lies inside the input with dilation 1 is one
// contiguous run of filter_w * input_c values, copied in one loop.
template <class T>
void Im2colRows(const PackedConv& pc, const T* input, int64_t m0, int64_t m1, int16_t* buf, bool avx2) {
  const ConvParams& p = pc.p;
  const int C = p.input_c, run = p.filter_w * C;
  int ox = (int)(m0 % p.output_w);
  int oy = (int)((m0 / p.output_w) % p.output_h);
  int64_t b = m0 / ((int64_t)p.output_w * p.output_h);
  for (int64_t m = m0; m < m1; ++m) {
    int16_t* row = buf + m * pc.ic_pad;
    const int iy0 = oy * p.stride_h - p.pad_top, ix0 = ox * p.stride_w - p.pad_left;
    const bool x_inside = p.dilation_w == 1 && ix0 >= 0 && ix0 + p.filter_w <= p.input_w;
    int k = 0;
    for (int fy = 0; fy < p.filter_h; ++fy) {
      const int iy = iy0 + fy * p.dilation_h;
      if (iy < 0 || iy >= p.input_h) {
        for (int i = 0; i < run; ++i) row[k + i] = pc.zero_in;
        k += run;
        continue;
      }
      const T* src = input + ((b * p.input_h + iy) * p.input_w) * C;
      if (x_inside) {
        src += (int64_t)ix0 * C;
        if (avx2)
          x86::WidenRunAvx2(src, pc.is_uint8, run, row + k);
        else
          for (int i = 0; i < run; ++i) row[k + i] = src[i];
        k += run;
        continue;
      }
      for (int fx = 0; fx < p.filter_w; ++fx, k += C) {
        const int ix = ix0 + fx * p.dilation_w;
        if (ix < 0 || ix >= p.input_w) {
          for (int c = 0; c < C; ++c) row[k + c] = pc.zero_in;
        } else {
          for (int c = 0; c < C; ++c) row[k + c] = src[(int64_t)ix * C + c];
        }
      }
    }
    for (; k < pc.ic_pad; ++k) row[k] = 0;
    if (++ox == p.output_w) {
      ox = 0;
      if (++oy == p.output_h) {
        oy = 0;
        ++b;
      }
    }
  }
}

void RunTasks(ThreadPool* pool, int tasks, const std::function<void(int)>& fn) { ParallelTasks(pool, tasks, fn); }

// The AVX2 split GEMM's residual lists (x86/int8_x86.h, SplitLists): per input pixel at most
// SplitCap entries (8 bytes each), the zero row ic_pad4. A call whose entries exceed
// SplitBudget (1/25 of the activations: each entry costs about as much as 7 values of the main
// loop, and the split's gain over the int16 GEMM is ~25 %) runs the int16 GEMM instead.
int SplitCap(const PackedConv& pc) { return std::max(8, pc.ic_pad4 / 4); }
int64_t SplitPixels(const PackedConv& pc) { return (int64_t)pc.p.batches * pc.p.input_h * pc.p.input_w; }
int64_t SplitBudget(const PackedConv& pc) { return SplitPixels(pc) * pc.p.input_c / 25; }
size_t SplitBytes(const PackedConv& pc) {
  const int64_t pixels = SplitPixels(pc);
  return (size_t)((pixels + 1) * pc.ic_pad4 + 64 + (pixels + 1) * 4 + 64 +
                  (pixels * SplitCap(pc) + pc.ic_pad4) * 8 + 64);
}

// Elements of the int16 copy of the input (im2col: of the im2col matrix), without the zero row.
int64_t CopyElements(const PackedConv& pc) {
  const ConvParams& p = pc.p;
  if (pc.im2col) return (int64_t)p.batches * p.output_h * p.output_w * pc.ic_pad;
  // Row taps: padded rows of padded_w pixels, plus one slack value read by the last odd pair.
  if (pc.row_taps) return (int64_t)p.batches * p.input_h * pc.padded_w * p.input_c + 2;
  return (int64_t)p.batches * p.input_h * p.input_w * pc.ic_pad;
}

// Row-tap copy of input rows [r0, r1) (row r = b * input_h + iy): Z_in in the padding columns.
void PaddedRows(const PackedConv& pc, const void* input, int64_t r0, int64_t r1, int16_t* buf, bool avx2) {
  const ConvParams& p = pc.p;
  const int C = p.input_c, left = p.pad_left * C, mid = p.input_w * C, row = pc.padded_w * C;
  for (int64_t r = r0; r < r1; ++r) {
    int16_t* d = buf + r * row;
    const uint8_t* src = static_cast<const uint8_t*>(input) + r * mid;
    for (int i = 0; i < left; ++i) d[i] = pc.zero_in;
    if (avx2) {
      x86::WidenRunAvx2(src, pc.is_uint8, mid, d + left);
    } else if (pc.is_uint8) {
      for (int i = 0; i < mid; ++i) d[left + i] = src[i];
    } else {
      for (int i = 0; i < mid; ++i) d[left + i] = (int8_t)src[i];
    }
    for (int i = left + mid; i < row; ++i) d[i] = pc.zero_in;
  }
}

// Row pointer table of tiles [tile0, tile1): table[(tile - tile0) * taps * 4 + tap * 4 + r] is the
// int16 run that tap `tap` of the tile's pixel r reads; pixels past M repeat the tile's first.
// E: int16_t (the int16 copy, runs of ic_pad) or uint8_t (the VNNI u8 copy, runs of ic_pad4).
template <class E>
void BuildTable(const PackedConv& pc, const E* buf, const E* zero_row, bool direct, int64_t M, int64_t tile0,
                int64_t tile1, const E** table) {
  const ConvParams& p = pc.p;
  const int ic_pad = std::is_same_v<E, uint8_t> ? pc.ic_pad4 : pc.ic_pad;
  const int taps = pc.taps;
  const int64_t m0 = tile0 * kGemmMR, m1 = std::min(M, tile1 * kGemmMR);
  int ox = (int)(m0 % p.output_w);
  int oy = (int)((m0 / p.output_w) % p.output_h);
  int64_t b = m0 / ((int64_t)p.output_w * p.output_h);
  const int64_t row_stride = pc.row_taps ? (int64_t)pc.padded_w * p.input_c : (int64_t)p.input_w * ic_pad;
  const int kh = p.filter_h, kw = p.filter_w;
  // Direct (one tap, taps == 1: input row m) and row taps (kh taps) in tight loops, one output row
  // segment at a time for the row taps; the per-pixel loop of the other convolutions cost ~10
  // cycles per pixel there (1 % of MobileNet).
  if (direct) {
    const E** tp = table;
    for (int64_t m = m0; m < m1; ++m) *tp++ = buf + m * ic_pad;
  } else if (pc.row_taps) {
    // Padded column of input column ix0 is ix0 + pad_left = ox * stride_w.
    const int64_t x_step = (int64_t)p.stride_w * p.input_c;
    for (int64_t m = m0; m < m1;) {
      const int64_t seg = std::min<int64_t>(m1 - m, p.output_w - ox);  // pixels left in this output row
      const E* image = buf + b * p.input_h * row_stride;
      const E* rows[64];      // each filter row's run for the segment's first pixel (kh <= 64: row taps)
      int64_t steps[64];
      for (int fy = 0; fy < kh; ++fy) {
        const int iy = oy * p.stride_h - p.pad_top + fy * p.dilation_h;
        const bool inside = iy >= 0 && iy < p.input_h;
        rows[fy] = inside ? image + iy * row_stride + ox * x_step : zero_row;
        steps[fy] = inside ? x_step : 0;
      }
      const uint64_t i0 = (uint64_t)(m - tile0 * kGemmMR);
      for (int64_t k = 0; k < seg; ++k) {  // rows[] not advanced in place: no chain through memory
        const E** tp = table + ((i0 + k) / kGemmMR) * taps * kGemmMR + ((i0 + k) & (kGemmMR - 1));
        for (int fy = 0; fy < kh; ++fy) tp[fy * kGemmMR] = rows[fy] + k * steps[fy];
      }
      m += seg;
      ox = 0;
      if (++oy == p.output_h) {
        oy = 0;
        ++b;
      }
    }
  } else {
    // Rows of the current output row's filter window (zero_row where the window leaves the image),
    // recomputed only when the output row changes.
    const E* window[64];
    const bool small_window = kh <= 64;
    int64_t window_row = -1;
    for (int64_t m = m0; m < m1; ++m) {
      const E** tp = table + (m - tile0 * kGemmMR) / kGemmMR * taps * kGemmMR + (m & (kGemmMR - 1));
      const int iy0 = oy * p.stride_h - p.pad_top;
      const E* image = buf + b * p.input_h * row_stride;
      if (small_window && window_row != b * p.output_h + oy) {
        window_row = b * p.output_h + oy;
        for (int fy = 0; fy < kh; ++fy) {
          const int iy = iy0 + fy * p.dilation_h;
          window[fy] = iy >= 0 && iy < p.input_h ? image + iy * row_stride : nullptr;
        }
      }
      const int ix0 = ox * p.stride_w - p.pad_left;
      const bool x_inside = ix0 >= 0 && ix0 + (kw - 1) * p.dilation_w < p.input_w;
      for (int fy = 0; fy < kh; ++fy) {
        const E** tf = tp + fy * kw * kGemmMR;
        const E* row = nullptr;
        if (small_window) {
          row = window[fy];
        } else {
          const int iy = iy0 + fy * p.dilation_h;
          row = iy >= 0 && iy < p.input_h ? image + iy * row_stride : nullptr;
        }
        if (!row) {
          for (int fx = 0; fx < kw; ++fx) tf[fx * kGemmMR] = zero_row;
        } else if (x_inside) {
          const E* x = row + (int64_t)ix0 * ic_pad;
          const int64_t step = (int64_t)p.dilation_w * ic_pad;
          for (int fx = 0; fx < kw; ++fx, x += step) tf[fx * kGemmMR] = x;
        } else {
          for (int fx = 0; fx < kw; ++fx) {
            const int ix = ix0 + fx * p.dilation_w;
            tf[fx * kGemmMR] = ix >= 0 && ix < p.input_w ? row + (int64_t)ix * ic_pad : zero_row;
          }
        }
      }
      if (++ox == p.output_w) {
        ox = 0;
        if (++oy == p.output_h) {
          oy = 0;
          ++b;
        }
      }
    }
  }
  if (m1 < tile1 * kGemmMR) {  // the last tile is partial: repeat its first pixel
    const int64_t tile = tile1 - 1;
    const E** tp = table + (tile - tile0) * taps * kGemmMR;
    for (int r = (int)(m1 - tile * kGemmMR); r < kGemmMR; ++r)
      for (int t = 0; t < taps; ++t) tp[t * kGemmMR + r] = tp[t * kGemmMR];
  }
}

// A call of a layer with a cold-channel plan that (fell_back) ran the int16 GEMM for too many
// residuals, or did not: kColdMaxMisses such calls in a row unpublish the plan (the channels it
// skips have woken up), and later calls use the retuned bounds of every channel. The plan itself
// stays allocated: calls that loaded it may still be running.
constexpr int kColdMaxMisses = 3;
void ColdMiss(SplitTuning* tuning, const SplitCold* cold, bool fell_back) {
  if (!tuning || !cold) return;
  if (!fell_back) {
    tuning->cold_misses.store(0, std::memory_order_relaxed);
    return;
  }
  if (tuning->cold_misses.fetch_add(1, std::memory_order_relaxed) + 1 >= kColdMaxMisses) {
    const SplitCold* expected = cold;
    tuning->cold.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
    if (g_split_debug) std::fprintf(stderr, "split: cold-channel plan dropped after %d int16 fallbacks\n", kColdMaxMisses);
  }
}

// E = int16_t: the int16 copy and the AVX2 / portable 4x16 tiles (avx2 chooses). E = uint8_t: the
// QAT_NO_VNNI_RUN=1: one GemmTileVnni call per tile pair instead of x86::GemmTilesVnni's run (A/B).
const bool g_no_vnni_run = EnvFlag("QAT_NO_VNNI_RUN");

// One VNNI tile call: the vpdpbusd kernel (hw), its source on emulated intrinsics (emu, tests), or
// its scalar twin panel by panel.
void RunVnniTile(bool hw, bool emu, int pixels, int taps, int icq, const uint8_t* const* rows_a,
                 const uint8_t* const* rows_b, const int8_t* w, int64_t panel, int panels, const x86::GemmOutput& os,
                 int n, uint8_t* const* out, const PackedConv& pc, int oc0) {
  if (hw) {
    x86::GemmTileVnni(pixels, taps, icq, rows_a, rows_b, w, panel, panels, os, n, out);
  } else if (emu) {
    x86::emulated::GemmTileVnni(pixels, taps, icq, rows_a, rows_b, w, panel, panels, os, n, out);
  } else {
    for (int q = 0; q < panels; ++q) {
      uint8_t* out_q[2 * kGemmMR];
      for (int r = 0; r < 2 * kGemmMR; ++r) out_q[r] = out[r] + q * kGemmNR;
      GemmTileVnniPortable(pixels, taps, icq, rows_a, rows_b, w + q * panel, pc, oc0 + q * kGemmNR,
                           std::min(kGemmNR, n - q * kGemmNR), out_q);
    }
  }
}

// A run of VNNI tiles: the vpdpbusd kernel (hw) or its source on emulated intrinsics (tests).
// The smallest depth (taps x ic_pad4 bytes) that AMX runs: below 64 (one short K step) the VNNI tile,
// whose accumulators never leave the registers, was faster (mbv1_050's 112x112x16 -> 32 0.065 against
// 0.080 ms, cnn b64's first layer 0.47 against 0.57 ms). QAT_AMX_MIN_K overrides it (A/B).
int AmxMinK() {
  static const int v = [] {
    const char* e = std::getenv("QAT_AMX_MIN_K");
    return e && *e ? std::atoi(e) : 64;
  }();
  return v;
}

// Where the VNNI runs go to AMX: 0 nowhere, 1 the hardware kernel, 2 its emulated twin (tests).
// hw: the VNNI path runs on hardware (else on emulated AVX-512, tests only).
int AmxKind(bool hw) {
  const int forced = g_amx.load(std::memory_order_relaxed);
  if (forced == 0) return 0;
  if (forced == 2) return 2;
  if (hw) return (forced == 1 ? amx_int8_usable() : amx_int8_enabled()) ? 1 : 0;
  return forced == 1 ? 2 : 0;
}

// tail_stride > 0: the rows of one-tap tables step by it and stay readable for 16 rows past the
// last pixel, so AMX also takes the pixels past the last whole 16-pixel block (GemmTilesAmx).
// uu: the u8 x u8 form (PackedConv::amx_uu): every pixel must go to AMX (no vpdpbusd fallback).
void RunVnniTiles(bool hw, x86::TileRun run, int taps, int icq, const uint8_t* const* table, const int8_t* w,
                  int64_t panel, int panels, const x86::GemmOutput& os, int n, int64_t tail_stride = 0,
                  const x86::AmxUU* uu = nullptr) {
  // AMX for the run's leading 16-pixel blocks (two full panels, whole 64-byte K steps or one short one).
  const int min_k = AmxMinK();
  const int amx = panels == 2 && n == 2 * kGemmNR && (icq % 16 == 0 || icq < 16) && 4 * icq * taps >= min_k
                      ? AmxKind(hw) : 0;
  static const bool no_tail = EnvFlag("QAT_AMX_NO_TAIL");  // A/B: tails on the VNNI tile
  if (no_tail) tail_stride = 0;
  if (amx) {
    const int64_t done = amx == 1 ? x86::GemmTilesAmx(run, taps, icq, table, w, panel, os, tail_stride, uu)
                                  : x86::emulated::GemmTilesAmx(run, taps, icq, table, w, panel, os, tail_stride, uu);
    if (done > 0) g_amx_runs.fetch_add(1, std::memory_order_relaxed);
    run.m0 += done * kGemmMR;
    run.tiles -= done;
    table += done * taps * kGemmMR;
    if (run.tiles <= 0 || run.m0 >= run.M) return;
  }
  // The u8 x u8 panels have no vpdpbusd form (an internal error: the packing guarantees AMX).
  QAT_CHECK(!uu, "AMX u8 x u8 run left {} pixels (taps {}, icq {}, channels {})", run.M - run.m0, taps, icq, n);
  if (hw)
    x86::GemmTilesVnni(run, taps, icq, table, w, panel, panels, os, n);
  else
    x86::emulated::GemmTilesVnni(run, taps, icq, table, w, panel, panels, os, n);
}

// The output stage of the panel(s) from channel oc0 on (vnni: the VNNI bias).
x86::GemmOutput MakeGemmOutput(const PackedConv& pc, int oc0, bool vnni) {
  const ConvParams& p = pc.p;
  const int32_t* bias = (vnni ? pc.bias_vnni.data() : pc.bias.data()) + oc0;
  x86::GemmOutput os{bias, pc.rq.multiplier.data() + oc0, pc.rq.left.data() + oc0,
                     pc.rq.right.data() + oc0, pc.rq.mask.data() + oc0, pc.rq.half.data() + oc0,
                     pc.rq.scale.data() + oc0, p.output_offset, p.act_min, p.act_max, p.requant,
                     pc.is_uint8, pc.rq.multiplier_odd.data() + oc0, pc.rq.any_left,
                     pc.k64.empty() ? nullptr : pc.k64.data() + oc0 / 8 * 24,
                     pc.zp64.empty() ? nullptr : pc.zp64.data() + oc0};
  os.fp32_in_range = pc.fp32_in_range;
  // The FMA form without the short one (a signed range) only for the VNNI tile.
  if ((!pc.kshort.empty() || (vnni && !pc.fma_groups.empty())) && !g_no_kshort) {
    if (!pc.kshort.empty()) os.kshort = pc.kshort.data() + oc0 / 8 * 12;
    if (!pc.fma_groups.empty()) {
      os.fma_scale = pc.fma_scale.data() + oc0;
      os.fma_offset = pc.fma_offset.data() + oc0;
      if (!pc.fma_offset_neg.empty()) os.fma_offset_neg = pc.fma_offset_neg.data() + oc0;
      os.fma_zero = pc.fma_zero.data() + oc0;
      os.fma_groups = pc.fma_groups.data() + oc0 / 8;
    }
  }
  return os;
}

// The u8 im2col rows of output pixels [m0, m1) for the VNNI GEMM of a first layer
// (PackedConv::vnni_im2col): pixel m's filter window at buf + m * ic_pad4, k = tap * input_c + ic,
// input + 128 for int8 (as is for uint8), padding taps at Z_in (zero_in_u8), the depth padded to a
// quad (zero weights there). Whole filter rows inside the image are copied 16 bytes at a time into
// a staging row (its slack takes the overshoot), which is then flipped 8 bytes at a time.
void Im2colRowsVnni(const PackedConv& pc, const uint8_t* input, int64_t m0, int64_t m1, uint8_t* buf) {
  const ConvParams& p = pc.p;
  const int C = p.input_c, K = pc.ic_pad4, kh = p.filter_h, kw = p.filter_w, run = kw * C;
  const int64_t in_bytes = (int64_t)p.batches * p.input_h * p.input_w * C;
  const uint64_t flip = pc.is_uint8 ? 0 : 0x8080808080808080ULL;
  const uint8_t zero = (uint8_t)(pc.zero_in_u8 ^ (uint8_t)flip);  // flipped back with the rest
  thread_local std::vector<uint8_t> stage;
  stage.resize((size_t)kh * run + 32);
  uint8_t* tmp = stage.data();
  int ox = (int)(m0 % p.output_w);
  int oy = (int)((m0 / p.output_w) % p.output_h);
  int64_t b = m0 / ((int64_t)p.output_w * p.output_h);
  // Fast path: a window inside the image with filter rows of at most 16 bytes. Each row is one
  // 16-byte load, flip and store at dst + fy * run; the stores run past the window by up to 16 - run
  // bytes, into the quad padding (zero weights: whatever byte lands there adds 0) and the next
  // pixel's row, which is written after it. So the range's last pixel takes the exact path (a
  // neighbouring thread's first pixel follows it), and the buffer has 16 bytes of slack.
  const bool rows16 = run <= 16 && p.dilation_w == 1 && p.dilation_h == 1;
  // The last output column whose window ends inside the image row.
  const int ox_inside = p.input_w - kw + p.pad_left >= 0 ? (p.input_w - kw + p.pad_left) / p.stride_w : -1;
  const __m128i flip16 = _mm_set1_epi8((char)(flip & 0xFF));
  for (int64_t m = m0; m < m1; ++m) {
    const int iy0 = oy * p.stride_h - p.pad_top, ix0 = ox * p.stride_w - p.pad_left;
    const bool x_inside = p.dilation_w == 1 && ix0 >= 0 && ix0 + kw <= p.input_w;
    if (rows16 && x_inside && iy0 >= 0 && iy0 + kh <= p.input_h && m + 1 < m1) {
      const uint8_t* src = input + ((b * p.input_h + iy0) * p.input_w + ix0) * C;
      const int64_t row_bytes = (int64_t)p.input_w * C;
      // The 16-byte load stays inside the input: the row's run plus what follows it in the image,
      // or the exact path for the image's last bytes.
      if ((src - input) + (kh - 1) * row_bytes + 16 <= in_bytes) {
        // The run of pixels of this output row that take the same path: windows inside the image
        // (ox up to ox_inside), the range's last pixel left out, loads inside the input.
        const int64_t xs = (int64_t)p.stride_w * C;
        int64_t cnt = std::min<int64_t>({(int64_t)ox_inside - ox + 1, m1 - 1 - m, (int64_t)p.output_w - ox});
        while (cnt > 1 && (src + (cnt - 1) * xs - input) + (kh - 1) * row_bytes + 16 > in_bytes) --cnt;
        uint8_t* dst = buf + m * K;
        for (int64_t i = 0; i < cnt; ++i, src += xs, dst += K) {
          for (int fy = 0; fy < kh; ++fy) {
            const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + fy * row_bytes));
            _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + fy * run), _mm_xor_si128(v, flip16));
          }
        }
        m += cnt - 1;
        ox += (int)cnt - 1;
        if (++ox == p.output_w) {
          ox = 0;
          if (++oy == p.output_h) {
            oy = 0;
            ++b;
          }
        }
        continue;
      }
    }
    int k = 0;
    for (int fy = 0; fy < kh; ++fy, k += run) {
      const int iy = iy0 + fy * p.dilation_h;
      if (iy < 0 || iy >= p.input_h) {
        for (int j = 0; j < run; ++j) tmp[k + j] = zero;
        continue;
      }
      const int64_t row = (b * p.input_h + iy) * p.input_w;
      if (x_inside) {
        const int64_t off = (row + ix0) * C;
        if (off + ((run + 15) & ~15) <= in_bytes) {
          for (int j = 0; j < run; j += 16) __builtin_memcpy(tmp + k + j, input + off + j, 16);
        } else {
          for (int j = 0; j < run; ++j) tmp[k + j] = input[off + j];
        }
        continue;
      }
      for (int fx = 0; fx < kw; ++fx) {
        const int ix = ix0 + fx * p.dilation_w;
        const bool inside = ix >= 0 && ix < p.input_w;
        for (int c = 0; c < C; ++c) tmp[k + fx * C + c] = inside ? input[(row + ix) * C + c] : zero;
      }
    }
    uint8_t* dst = buf + m * K;
    int j = 0;
    for (; j + 8 <= k; j += 8) {
      uint64_t v;
      __builtin_memcpy(&v, tmp + j, 8);
      v ^= flip;
      __builtin_memcpy(dst + j, &v, 8);
    }
    for (; j < k; ++j) dst[j] = tmp[j] ^ (uint8_t)flip;
    for (; j < K; ++j) dst[j] = 0;  // the quad's padding (zero weights)
    if (++ox == p.output_w) {
      ox = 0;
      if (++oy == p.output_h) {
        oy = 0;
        ++b;
      }
    }
  }
}

// A first layer (few input channels) on the VNNI GEMM: the u8 im2col copy, then the 8 x 32 tile
// over one-tap rows of ic_pad4 bytes. Threads take contiguous runs of pixel tiles (even
// boundaries), as the other layers do; inside a run, chunks of 64 tiles meet every panel pair.
void ConvRunVnniIm2col(const PackedConv& pc, const void* input, uint8_t* output, void* scratch, ThreadPool* pool) {
  const ConvParams& p = pc.p;
  const int64_t M = (int64_t)p.batches * p.output_h * p.output_w;
  if (M == 0 || p.output_c == 0) return;
  std::unique_ptr<uint8_t[]> owned;
  if (!scratch) {
    owned.reset(new uint8_t[ConvScratchBytes(pc)]);
    scratch = owned.get();
  }
  const bool vnni_hw = isa_supported(Isa::kAvx512Vnni);
  const bool vnni_emu = !vnni_hw && g_vnni_emulate.load(std::memory_order_relaxed) && isa_supported(Isa::kAvx2);
  uint8_t* buf = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t(63));
  const int K = pc.ic_pad4, icq = K / 4;
  const int threads = ParallelThreads(pool);
  const uint8_t* in = static_cast<const uint8_t*>(input);
  {
    const int tasks = (int)std::clamp<int64_t>(M * K / 8192, 1, threads);
    const int64_t per = (M + tasks - 1) / tasks;
    RunTasks(pool, tasks, [&](int t) {
      const int64_t a = t * per, e = std::min(M, a + per);
      if (a < e) Im2colRowsVnni(pc, in, a, e, buf);
    });
  }
  const int64_t tiles = (M + kGemmMR - 1) / kGemmMR;
  const int64_t panel = (int64_t)K * kGemmNR;
  constexpr int64_t kChunkTiles = 64;
  auto run_tiles = [&](int64_t t0, int64_t t1) {
    for (int64_t c0 = t0; c0 < t1; c0 += kChunkTiles) {
      const int64_t c1 = std::min(t1, c0 + kChunkTiles);
      // Tile runs: the chunk's row table (one tap per pixel; rows past the last pixel repeat the
      // last one: read, never stored), then one run per panel pair.
      const bool runs = (vnni_hw || vnni_emu) && !g_no_vnni_run;
      const uint8_t* table[kChunkTiles * kGemmMR];
      if (runs)
        for (int64_t m = c0 * kGemmMR; m < c1 * kGemmMR; ++m) table[m - c0 * kGemmMR] = buf + std::min(m, M - 1) * K;
      for (int blk = 0; blk < pc.oc_blocks; blk += 2) {
        const int oc0 = blk * kGemmNR;
        const int panels = std::min(2, pc.oc_blocks - blk);
        const int n = std::min(panels * kGemmNR, p.output_c - oc0);
        const x86::GemmOutput os = MakeGemmOutput(pc, oc0, true);
        const int8_t* w = pc.weights_vnni.data() + blk * panel;
        if (runs) {
          const x86::TileRun run{c0 * kGemmMR, M, c1 - c0, output + oc0, p.output_c};
          RunVnniTiles(vnni_hw, run, 1, icq, table, w, panel, panels, os, n);
          continue;
        }
        for (int64_t tile = c0; tile < c1; tile += 2) {
          const bool two = tile + 1 < c1;
          const int pixels = (int)std::min<int64_t>(two ? 2 * kGemmMR : kGemmMR, M - tile * kGemmMR);
          uint8_t* out[2 * kGemmMR];
          const uint8_t* rows[2 * kGemmMR];
          for (int r = 0; r < 2 * kGemmMR; ++r) {
            // Rows past the last pixel repeat the first pixel of their 4-pixel tile (read, never stored).
            const int64_t m = tile * kGemmMR + (r < pixels ? r : r / kGemmMR * kGemmMR);
            out[r] = output + (tile * kGemmMR + std::min(r, pixels - 1)) * p.output_c + oc0;
            rows[r] = buf + std::min(m, M - 1) * K;
          }
          const uint8_t* const* rows_b = two ? rows + kGemmMR : rows;
          RunVnniTile(vnni_hw, vnni_emu, pixels, 1, icq, rows, rows_b, w, panel, panels, os, n, out, pc, oc0);
        }
      }
    }
  };
  const int tasks = threads > 1 && tiles >= 8 * (int64_t)threads ? threads : 1;
  RunTasks(pool, tasks, [&](int t) {
    int64_t t0 = tiles * t / tasks, t1 = tiles * (t + 1) / tasks;
    t0 = t == 0 ? 0 : t0 & ~int64_t(1);
    t1 = t + 1 == tasks ? tiles : t1 & ~int64_t(1);
    run_tiles(t0, t1);
  });
}

// AVX-512 VNNI u8 copy and 8x16 tiles (vnni_hw: the vpdpbusd kernel, else its scalar twin).
// split (E = uint8_t, AVX2): the split GEMM (min(u, 128) panels + residual lists); returns false
// without writing the output when the residuals are too many (the caller runs the int16 GEMM).
template <class E>
bool ConvRunImpl(const PackedConv& pc, const void* input, uint8_t* output, void* scratch, ThreadPool* pool, bool avx2,
                 bool vnni_hw, bool split = false, bool uu = false) {
  constexpr bool kVnni = std::is_same_v<E, uint8_t>;
  const ConvParams& p = pc.p;
  const int64_t in_pixels = (int64_t)p.batches * p.input_h * p.input_w;
  const int64_t M = (int64_t)p.batches * p.output_h * p.output_w;
  if (M == 0 || p.output_c == 0) return true;
  std::unique_ptr<uint8_t[]> owned;
  if (!scratch) {
    owned.reset(new uint8_t[ConvScratchBytes(pc)]);
    scratch = owned.get();
  }
  const int ic_pad = kVnni ? pc.ic_pad4 : pc.ic_pad;
  const bool vnni_emu = kVnni && !split && !vnni_hw && g_vnni_emulate.load(std::memory_order_relaxed) &&
                        isa_supported(Isa::kAvx2);
  E* buf = reinterpret_cast<E*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t(63));
  E* zero_row = buf + (kVnni ? in_pixels * ic_pad : CopyElements(pc));
  // Split lists after the u8 copy and its zero row.
  int32_t* split_counts = nullptr;
  int32_t* split_entries = nullptr;
  const int split_cap = split ? SplitCap(pc) : 0;
  if (split) {
    auto align = [](void* q) { return (reinterpret_cast<uintptr_t>(q) + 63) & ~uintptr_t(63); };
    split_counts = reinterpret_cast<int32_t*>(align(zero_row + ic_pad));
    split_entries = reinterpret_cast<int32_t*>(align(split_counts + in_pixels + 1));
  }
  // A 1x1 stride-1 convolution without padding reads input row m for output pixel m ("direct");
  // with one channel group, each work unit widens its own rows, saving one hand-off to the threads.
  const bool direct = pc.im2col || (pc.taps == 1 && !pc.row_taps && p.stride_h == 1 && p.stride_w == 1 &&
                                    p.pad_top == 0 && p.pad_left == 0 && p.output_h == p.input_h &&
                                    p.output_w == p.input_w);
  // Split bounds: tuned to the activations from the second call on (SplitTuning); the first call
  // records each input channel's histogram (once per layer, a few ms) and largest value. Direct
  // layers whose first call left input channels at zero skip them from then on (SplitCold).
  SplitTuning* const tuning = split && SplitTuningOn() ? pc.split_tuning.get() : nullptr;
  bool record = false;
  if (tuning) {
    std::lock_guard<std::mutex> lk(tuning->mu);
    if (tuning->calls == 0) {
      record = true;
      tuning->hist.assign((size_t)p.input_c * 32, 0);
      tuning->chan_min.assign((size_t)p.input_c, 255);
      tuning->chan_max.assign((size_t)p.input_c, 0);
    } else if (!tuning->tuned) {
      const auto t0 = std::chrono::steady_clock::now();
      if (direct && SplitColdOn() && in_pixels >= kColdMinPixels) tuning->cold_plan = PlanColdChannels(pc, *tuning);
      RetuneSplitBounds(pc, *tuning);  // also the bounds the layer returns to if it drops the plan
      if (g_split_debug)
        std::fprintf(stderr, "split bounds of %dx%dx%d -> %d retuned in %.2f ms, %d cold input channels skipped\n",
                     p.input_h, p.input_w, p.input_c, p.output_c,
                     std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
                     tuning->cold_plan ? p.input_c - tuning->cold_plan->ic_live : 0);
      tuning->cold.store(tuning->cold_plan.get(), std::memory_order_release);
      tuning->hist = {};
      tuning->chan_min = {};
      tuning->chan_max = {};
      tuning->tuned = true;
    }
  }
  // The cold-channel plan, read once per call (only direct layers have one: no zero row is read).
  const SplitCold* const cold = tuning ? tuning->cold.load(std::memory_order_acquire) : nullptr;
  // The 2 x 32 split tile (PackedConv::split_quads 4): 32-channel panels, pairs of 16-channel
  // blocks, so every unit's block range starts and ends on a pair.
  const bool split32 = split && pc.split_quads == 4;
  const int quad_bytes = split32 ? 128 : 64;  // a residual entry's panel offset per quad
  const uint8_t* const split_tk = [&] {
    const uint8_t* b = tuning ? tuning->bounds.load(std::memory_order_acquire) : nullptr;
    return b ? b : pc.split_tk.data();
  }();
  struct CountCall {  // the recorded call counts even when it returns early (int16 fallback)
    SplitTuning* t;
    ~CountCall() {
      if (t) {
        std::lock_guard<std::mutex> lk(t->mu);
        ++t->calls;
      }
    }
  } count_call{record ? tuning : nullptr};
  if constexpr (kVnni) {
    for (int c = 0; c < ic_pad; ++c) zero_row[c] = c < p.input_c ? pc.zero_in_u8 : 0;
    if (split) {
      // The zero row: min(Z_u8, T_c) and one residual per input channel whose T_c is below Z_u8
      // (its list holds up to ic_pad4 entries, SplitBytes).
      int count = 0;
      int32_t* e = split_entries + in_pixels * 2 * split_cap;
      for (int c = 0; c < p.input_c; ++c) {
        const int tc = split_tk[c];
        if (pc.zero_in_u8 <= tc) continue;
        zero_row[c] = (uint8_t)tc;
        e[2 * count] = c / 4 * quad_bytes;
        e[2 * count + 1] = (int32_t)((uint32_t)(pc.zero_in_u8 - tc) << (8 * (c & 3)));
        ++count;
      }
      split_counts[in_pixels] = count;
    }
  } else {
    for (int c = 0; c < ic_pad; ++c) zero_row[c] = c < p.input_c || pc.row_taps ? pc.zero_in : 0;
    if (pc.row_taps) zero_row[-1] = zero_row[-2] = 0;  // the slack after the copy
  }
  const int threads = ParallelThreads(pool);

  // The GEMM's work split. A work unit is (a chunk of pixel tiles, a group of 16-channel panels);
  // inside a unit the panels are the outer loop, so one panel stays in L1 while the chunk's rows
  // (sized to stay in L2; VNNI: VnniChunkBytes) stream past it. Channel groups are split only when there are too few
  // pixel chunks to keep every thread busy (batch 1, 7x7 layers). VNNI: chunks of an even number
  // of tiles (the 8-pixel tile takes two).
  const int icp = pc.ic_pad / 2, icq = pc.ic_pad4 / 4;
  const int64_t tiles = (M + kGemmMR - 1) / kGemmMR;
  const int64_t row_bytes = (int64_t)pc.taps * ic_pad * (int64_t)sizeof(E) * kGemmMR;
  const int64_t chunk_bytes = kVnni && !split ? VnniChunkBytes() : (256 << 10);
  int64_t chunk_tiles = std::clamp<int64_t>(chunk_bytes / std::max<int64_t>(row_bytes, 1), 1, 64);
  if (kVnni) chunk_tiles = std::max<int64_t>(2, chunk_tiles & ~int64_t(1));
  const int64_t chunks = (tiles + chunk_tiles - 1) / chunk_tiles;
  // Several threads and at least 8 tiles per thread: pixels only (each thread one contiguous run,
  // below), so that each core keeps its part of the activations from layer to layer.
  int groups = 1;
  const bool pixel_split = threads > 1 && tiles >= 8 * (int64_t)threads;
  while (!pixel_split && threads > 1 && chunks * groups < 4 * threads && groups < pc.oc_blocks) groups *= 2;
  groups = std::min(groups, pc.oc_blocks);
  int blocks_per_group = (pc.oc_blocks + groups - 1) / groups;
  if (split32 || uu) blocks_per_group = (blocks_per_group + 1) & ~1;  // uu: whole panel pairs for AMX
  groups = (pc.oc_blocks + blocks_per_group - 1) / blocks_per_group;  // no empty group
  const int64_t panel = kVnni ? (int64_t)pc.taps * pc.ic_pad4 * kGemmNR : (int64_t)pc.taps * icp * kGemmNR * 2;
  const int taps = pc.taps;

  // Copies `rows` input pixels starting at pixel m0 into the copy (the plain-tap layout).
  std::atomic<int64_t> split_total{0};
  std::atomic<bool> any_unit_int16{false};  // a unit ran the int16 tile (too many residuals)
  // Split: returns the rows' residual count (-1: a pixel over its list capacity).
  auto copy_rows = [&](int64_t m0, int64_t rows) -> int64_t {
    const uint8_t* src = static_cast<const uint8_t*>(input) + m0 * p.input_c;
    if constexpr (kVnni) {
      if (split) {
        int64_t n;
        if (cold) {
          const x86::SplitColdCopy cc{cold->ic_live,       cold->ctl.data(), cold->off.data(), cold->skip_mask.data(),
                                      cold->expect.data(), cold->pos.data(), cold->neg.data()};
          n = x86::CopyRowsSplitColdAvx2(src, pc.is_uint8, rows, p.input_c, ic_pad, (uint8_t*)buf + m0 * ic_pad,
                                         split_counts + m0, split_entries + m0 * 2 * split_cap, split_cap,
                                         cold->tk.data(), quad_bytes, cc);
        } else {
          n = x86::CopyRowsSplitAvx2(src, pc.is_uint8, rows, p.input_c, ic_pad, (uint8_t*)buf + m0 * ic_pad,
                                     split_counts + m0, split_entries + m0 * 2 * split_cap, split_cap, split_tk,
                                     quad_bytes);
        }
        split_total.fetch_add(n < 0 ? (int64_t(1) << 40) : n, std::memory_order_relaxed);
        if (record) {
          std::vector<uint8_t> mn((size_t)p.input_c, 255), mx((size_t)p.input_c, 0);
          x86::ChannelRangeAvx2(src, pc.is_uint8, rows, p.input_c, mn.data(), mx.data());
          // A sample of at least ~512 pixels: every stride-th pixel of the input.
          const int64_t stride = std::max<int64_t>(1, in_pixels / 512);
          std::lock_guard<std::mutex> lk(tuning->mu);
          for (int c = 0; c < p.input_c; ++c) {
            tuning->chan_min[c] = std::min(tuning->chan_min[c], mn[c]);
            tuning->chan_max[c] = std::max(tuning->chan_max[c], mx[c]);
          }
          for (int64_t m = (m0 + stride - 1) / stride * stride; m < m0 + rows; m += stride)
            x86::SplitHistogramAvx2(src + (m - m0) * p.input_c, pc.is_uint8, 1, p.input_c, kSplitTuneFloor,
                                    tuning->hist.data());
        }
        return n;
      } else if (vnni_hw)
        x86::CopyRowsVnni(src, pc.is_uint8, rows, p.input_c, ic_pad, buf + m0 * ic_pad);
      else if (vnni_emu)
        x86::emulated::CopyRowsVnni(src, pc.is_uint8, rows, p.input_c, ic_pad, buf + m0 * ic_pad);
      else
        CopyRowsVnniPortable(src, pc.is_uint8, rows, p.input_c, ic_pad, buf + m0 * ic_pad);
    } else if (avx2) {
      x86::WidenRowsAvx2(src, pc.is_uint8, rows, p.input_c, ic_pad, buf + m0 * ic_pad);
    } else {
      WidenRowsPortable(src, pc.is_uint8, rows, p.input_c, ic_pad, buf + m0 * ic_pad);
    }
    return 0;
  };

  // The split GEMM copies in the unit too (its residual lists are per pixel, so units own theirs); a
  // unit whose residuals exceed the budget runs the int16 tile on an int16 copy of its own rows.
  const bool widen_in_unit = direct && !pc.im2col && groups == 1;
  // With several channel groups the chunks' row tables are built once, in the copy pass, into a
  // table on the calling thread that every unit reads (few chunks: at most 4 * threads).
  const bool shared_table = groups > 1;
  thread_local std::vector<const E*> caller_table;
  if (shared_table) caller_table.resize((size_t)(tiles * taps * kGemmMR));
  const E** table_all = shared_table ? caller_table.data() : nullptr;

  // 1. The copy of the input (int16: row taps with padding columns, im2col the im2col matrix;
  //    VNNI: plain taps only), split over the threads; the shared table is built in the same pass.
  if (!widen_in_unit) {
    const int64_t units = pc.im2col ? M : (pc.row_taps ? (int64_t)p.batches * p.input_h : in_pixels);
    const int64_t unit_values = pc.im2col ? pc.ic_pad : (pc.row_taps ? (int64_t)pc.padded_w * p.input_c : p.input_c);
    const int64_t work = units * unit_values + (shared_table ? tiles * taps * kGemmMR * 4 : 0);
    const int tasks = (int)std::clamp<int64_t>(work / 8192, 1, threads);
    const int64_t per = (units + tasks - 1) / tasks;
    const int64_t tiles_per = (tiles + tasks - 1) / tasks;
    RunTasks(pool, tasks, [&](int t) {
      const int64_t b0 = t * per, e = std::min(units, b0 + per);
      if (b0 < e) {
        if constexpr (!kVnni) {
          if (pc.im2col) {
            if (pc.is_uint8)
              Im2colRows(pc, static_cast<const uint8_t*>(input), b0, e, buf, avx2);
            else
              Im2colRows(pc, static_cast<const int8_t*>(input), b0, e, buf, avx2);
          } else if (pc.row_taps) {
            PaddedRows(pc, input, b0, e, buf, avx2);
          } else {
            copy_rows(b0, e - b0);
          }
        } else {
          copy_rows(b0, e - b0);
        }
      }
      if (shared_table) {
        const int64_t t0 = t * tiles_per, t1 = std::min(tiles, t0 + tiles_per);
        if (t0 < t1) BuildTable(pc, (const E*)buf, (const E*)zero_row, direct, M, t0, t1, table_all + t0 * taps * kGemmMR);
      }
    });
  }
  if (split && !widen_in_unit) {
    if (g_split_debug)
      std::fprintf(stderr, "split GEMM %dx%dx%d -> %d, %d taps: %lld residuals (%.2f %% of the input)%s\n", p.input_h,
                   p.input_w, p.input_c, p.output_c, pc.taps, (long long)split_total.load(),
                   100.0 * split_total.load() / (double)std::max<int64_t>(1, in_pixels * p.input_c),
                   split_total.load() > SplitBudget(pc) ? ": int16 GEMM instead" : "");
    if (split_total.load() > SplitBudget(pc)) {
      ColdMiss(tuning, cold, true);
      return false;
    }
  }
  if (split) g_split_calls.fetch_add(1, std::memory_order_relaxed);
  const x86::SplitLists lists{reinterpret_cast<const uint8_t*>(buf), ic_pad, split_counts, split_entries, split_cap,
                              1.0 / ic_pad, (ic_pad & (ic_pad - 1)) == 0 ? __builtin_ctz(ic_pad) : -1};

  // AMX's im2col rows per unit (see run_unit) where AMX runs this layer and its rows do not step evenly.
  const bool amx_im2col = kVnni && !split && (vnni_hw || vnni_emu) && !g_no_vnni_run && pc.amx_icq > 0 &&
                          p.output_c >= 2 * kGemmNR && 4 * icq * taps >= AmxMinK() && AmxKind(vnni_hw) != 0;

  // 2. The GEMM. Work unit: tiles [tile0, tile1) (at most chunk_tiles), 16-channel blocks [blk0, blk1).
  auto run_unit = [&](int64_t tile0, int64_t tile1, int blk0, int blk1) {
    bool unit_int16 = false;                // split: this unit runs the int16 tile instead
    const int16_t* unit_rows16 = nullptr;   // and its int16 rows, indexed by the pixel
    const E** table;
    if (shared_table) {
      table = table_all + tile0 * taps * kGemmMR;
    } else {
      thread_local std::vector<const E*> unit_table;
      unit_table.resize((size_t)(tile1 - tile0) * taps * kGemmMR);
      table = unit_table.data();
      if (widen_in_unit) {
        const int64_t m0 = tile0 * kGemmMR, m1 = std::min(M, tile1 * kGemmMR);
        const int64_t n = copy_rows(m0, m1 - m0);
        if (split) {
          unit_int16 = n < 0 || n > (m1 - m0) * p.input_c / 25;
          if (unit_int16) any_unit_int16.store(true, std::memory_order_relaxed);
          if (unit_int16) {
            thread_local AlignedVector<int16_t> rows16;
            rows16.resize((size_t)((m1 - m0) * pc.ic_pad));
            x86::WidenRowsAvx2(static_cast<const uint8_t*>(input) + m0 * p.input_c, pc.is_uint8, m1 - m0, p.input_c,
                               pc.ic_pad, rows16.data());
            unit_rows16 = rows16.data() - m0 * pc.ic_pad;  // indexed by the pixel
          }
        }
      }
      if (!amx_im2col) BuildTable(pc, (const E*)buf, (const E*)zero_row, direct, M, tile0, tile1, table);
    }
    // AMX on a layer whose rows do not step evenly (several taps, strides, padding): the unit's
    // pixels as im2col rows of amx_icq quads (Im2colRowsAmx, straight from the u8 copy: no row
    // table), once for all its panels, and every panel runs on them as one tap, so that every A tile
    // is one strided load (the tile kernel would otherwise copy a block's rows for every pass of
    // two panels). The VNNI tiles of the pixel and channel tails read the same rows.
    int run_taps = taps, run_icq = icq;
    const uint8_t* run_w = nullptr;  // the panels, else weights_vnni
    int64_t run_panel = panel;
    if constexpr (kVnni) {
      if (amx_im2col) {
        const int64_t m0 = tile0 * kGemmMR, rows = std::min(M, tile1 * kGemmMR) - m0;
        const int64_t slots = (tile1 - tile0) * kGemmMR;
        const int kbytes = 4 * pc.amx_icq;
        thread_local std::vector<uint8_t> i2c_buf;
        thread_local std::vector<const uint8_t*> i2c_table;
        i2c_buf.resize((size_t)((rows + 16) * kbytes + 64));  // + 16 rows: AMX's partial block reads past
        i2c_table.resize((size_t)slots);
        uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(i2c_buf.data()) + 63) & ~uintptr_t(63));
        const x86::AmxIm2colRows ir{(const uint8_t*)buf, (const uint8_t*)zero_row, ic_pad, p.input_h, p.input_w,
                                    p.output_h, p.output_w, p.filter_h, p.filter_w, p.stride_h, p.stride_w,
                                    p.dilation_h, p.dilation_w, p.pad_top, p.pad_left, kbytes};
        if (vnni_hw)
          x86::Im2colRowsAmx(ir, m0, rows, base);
        else
          x86::emulated::Im2colRowsAmx(ir, m0, rows, base);
        // Slots past the last pixel repeat the first pixel of their 4-pixel tile (read, never stored).
        for (int64_t i = 0; i < slots; ++i) i2c_table[i] = base + (i < rows ? i : i / kGemmMR * kGemmMR) * kbytes;
        table = (const E**)i2c_table.data();
        run_taps = 1;
        run_icq = pc.amx_icq;
        run_w = reinterpret_cast<const uint8_t*>(pc.weights_amx.empty() ? pc.weights_vnni.data()
                                                                         : pc.weights_amx.data());
        if (!pc.weights_amx.empty()) run_panel = (int64_t)pc.amx_icq * 64;
      }
    }
    // The u8 x u8 AMX form: each pixel's row sum (its window's u8 bytes).
    x86::AmxUU uu_unit{nullptr, pc.amx_zw};
    if constexpr (kVnni) {
      if (uu) {
        const int64_t m0 = tile0 * kGemmMR, rows = std::min(M, tile1 * kGemmMR) - m0;
        thread_local std::vector<int32_t> sums;
        thread_local std::vector<const uint8_t*> rp;
        sums.resize((size_t)rows);
        rp.resize((size_t)rows);
        const int t1 = amx_im2col ? 1 : taps;
        for (int64_t i = 0; i < rows; ++i) rp[i] = (const uint8_t*)table[(i / kGemmMR) * t1 * kGemmMR + (i % kGemmMR)];
        const int bytes = amx_im2col ? taps * ic_pad : ic_pad;
        if (vnni_hw)
          x86::RowSumsU8(rp.data(), rows, bytes, sums.data());
        else
          x86::emulated::RowSumsU8(rp.data(), rows, bytes, sums.data());
        uu_unit.rowsum = sums.data() - m0;  // indexed by the pixel
      }
    }
    // VNNI: two panels per tile call (32 channels, 16 accumulators).
    const int step = kVnni && !split ? 2 : 1;
    for (int blk = blk0; blk < blk1; blk += step) {
      const int oc0 = blk * kGemmNR;
      const int panels = std::min(step, blk1 - blk);
      const int n = std::min(panels * kGemmNR, p.output_c - oc0);
      x86::GemmOutput os = MakeGemmOutput(pc, oc0, kVnni);
      if constexpr (kVnni) {
        const int8_t* w = pc.weights_vnni.data() + blk * panel;
        if (split && unit_int16) {
          // This unit's residuals are too many: the int16 GEMM on its own int16 rows (direct layer).
          x86::GemmOutput os16 = os;
          os16.bias = pc.bias.data() + oc0;
          const int16_t* w16 = pc.weights.data() + (int64_t)blk * pc.taps * (pc.ic_pad / 2) * kGemmNR * 2;
          for (int64_t tile = tile0; tile < tile1; ++tile) {
            const int pixels = (int)std::min<int64_t>(kGemmMR, M - tile * kGemmMR);
            uint8_t* out[kGemmMR];
            const int16_t* rows[kGemmMR];
            for (int r = 0; r < kGemmMR; ++r) {
              const int64_t m = tile * kGemmMR + std::min(r, pixels - 1);
              out[r] = output + m * p.output_c + oc0;
              rows[r] = unit_rows16 + (r < pixels ? tile * kGemmMR + r : tile * kGemmMR) * pc.ic_pad;
            }
            x86::GemmTile4x16Avx2(pixels, 1, pc.ic_pad / 2, rows, w16, os16, n, out);
          }
          continue;
        }
        if (split32) {
          if (blk & 1) continue;  // run with its pair's even block
          x86::TileRun run{tile0 * kGemmMR, M, tile1 - tile0, output + oc0, p.output_c};
          // With skipped channels (one tap): the permuted panels and their bias, the tile's loop over
          // the kept quads only (the others are read by residual entries alone).
          const int64_t pair_bytes = (int64_t)pc.taps * (cold ? cold->icq_total : icq) * 128;
          const int8_t* w32 = (cold ? cold->weights_split32.data() : pc.weights_split32.data()) +
                              (int64_t)(blk / 2) * pair_bytes;
          if (cold) os.bias = cold->bias.data() + oc0;
          const int icq_run = cold ? cold->ic_live / 4 : icq;
          // The next pair's weights when they may not be in cache (8 KiB and more: K >= 256). With
          // skipped channels the whole pair too, their quads and negated copies included: the tile
          // loop never streams them, so a residual entry of a channel that woke up (an input other
          // than the recorded one) read them from L3 or memory. mbv1_100 batch 64 (64 different
          // images), 7x7x1024 -> 1024: 0.411 -> 0.383 ms per image; batch 1 unchanged.
          if (blk + 2 < blk1 && pair_bytes >= (8 << 10) && tile1 - tile0 >= kPrefetchMinTiles && !g_no_prefetch) {
            run.prefetch = w32 + pair_bytes;
            run.prefetch_bytes = pair_bytes;
          }
          x86::GemmTilesSplit32Avx2(run, taps, icq_run, table, w32, os, std::min(2 * kGemmNR, p.output_c - oc0),
                                    lists);
          continue;
        }
        if (split) {
          const x86::TileRun run{tile0 * kGemmMR, M, tile1 - tile0, output + oc0, p.output_c};
          x86::GemmTilesSplitAvx2(run, taps, icq, table, w, os, n, lists);
          continue;
        }
        if ((vnni_hw || vnni_emu) && !g_no_vnni_run) {
          const x86::TileRun run{tile0 * kGemmMR, M, tile1 - tile0, output + oc0, p.output_c};
          if (run_w)
            RunVnniTiles(vnni_hw, run, run_taps, run_icq, table, reinterpret_cast<const int8_t*>(run_w) + blk * run_panel,
                         run_panel, panels, os, n, 4 * (int64_t)pc.amx_icq, uu ? &uu_unit : nullptr);
          else
            RunVnniTiles(vnni_hw, run, taps, icq, table, w, panel, panels, os, n, direct ? ic_pad : 0,
                         uu ? &uu_unit : nullptr);
          continue;
        }
        for (int64_t tile = tile0; tile < tile1; tile += 2) {
          const bool two = tile + 1 < tile1;
          const int pixels = (int)std::min<int64_t>(two ? 2 * kGemmMR : kGemmMR, M - tile * kGemmMR);
          uint8_t* out[2 * kGemmMR];
          for (int r = 0; r < 2 * kGemmMR; ++r)
            out[r] = output + (tile * kGemmMR + std::min(r, pixels - 1)) * p.output_c + oc0;
          const uint8_t* const* rows_a = table + (tile - tile0) * taps * kGemmMR;
          const uint8_t* const* rows_b = two ? rows_a + taps * kGemmMR : rows_a;
          RunVnniTile(vnni_hw, vnni_emu, pixels, taps, icq, rows_a, rows_b, w, panel, panels, os, n, out, pc, oc0);
        }
      } else {
        const int16_t* w = pc.weights.data() + blk * panel;
        if (avx2) {
          const x86::TileRun run{tile0 * kGemmMR, M, tile1 - tile0, output + oc0, p.output_c};
          x86::GemmTiles4x16Avx2(run, taps, icp, table, w, os, n);
          continue;
        }
        for (int64_t tile = tile0; tile < tile1; ++tile) {
          const int pixels = (int)std::min<int64_t>(kGemmMR, M - tile * kGemmMR);
          uint8_t* out[kGemmMR];
          for (int r = 0; r < kGemmMR; ++r)
            out[r] = output + (tile * kGemmMR + std::min(r, pixels - 1)) * p.output_c + oc0;
          GemmTilePortable(pixels, taps, icp, table + (tile - tile0) * taps * kGemmMR, w, pc, oc0, n, out);
        }
      }
    }
  };
  if (groups == 1 && threads > 1) {
    // One contiguous run of pixels per thread (the caller claims task 0, the top of the image), cut
    // into units of chunk_tiles: every layer of a batch-1 network then leaves the same part of its
    // output in the same core's cache for the next layer (the depthwise split is by rows too),
    // instead of interleaving units claimed dynamically over both cores. VNNI: even boundaries.
    RunTasks(pool, threads, [&](int t) {
      int64_t t0 = tiles * t / threads, t1 = tiles * (t + 1) / threads;
      if constexpr (kVnni) {
        t0 = t == 0 ? 0 : t0 & ~int64_t(1);
        t1 = t + 1 == threads ? tiles : t1 & ~int64_t(1);
      }
      for (int64_t c = t0; c < t1; c += chunk_tiles) run_unit(c, std::min(t1, c + chunk_tiles), 0, pc.oc_blocks);
    });
  } else if (threads > 1) {
    // Several channel groups (few pixel chunks): one contiguous run of 16-channel blocks per thread,
    // every chunk. The depthwise layers of these sizes split by channels too (depthwise_conv.cpp),
    // so they read what this core wrote.
    RunTasks(pool, threads, [&](int t) {
      int b0 = (int)((int64_t)pc.oc_blocks * t / threads);
      int b1 = (int)((int64_t)pc.oc_blocks * (t + 1) / threads);
      if (split32 || uu) {  // whole block pairs (the 2 x 32 split tile; AMX's u8 x u8 panels)
        b0 &= ~1;
        b1 = t + 1 == threads ? pc.oc_blocks : b1 & ~1;
      }
      if (b0 >= b1) return;
      for (int64_t c = 0; c < chunks; ++c) run_unit(c * chunk_tiles, std::min(tiles, (c + 1) * chunk_tiles), b0, b1);
    });
  } else {
    RunTasks(pool, (int)(chunks * groups), [&](int unit) {
      const int64_t chunk = unit / groups;
      const int64_t tile0 = chunk * chunk_tiles, tile1 = std::min(tiles, tile0 + chunk_tiles);
      const int blk0 = unit % groups * blocks_per_group;
      run_unit(tile0, tile1, blk0, std::min(pc.oc_blocks, blk0 + blocks_per_group));
    });
  }
  if (split) g_split_last_residuals.store(split_total.load(), std::memory_order_relaxed);
  ColdMiss(tuning, cold, widen_in_unit && any_unit_int16.load());
  if (split && widen_in_unit && g_split_debug) {
    // split_total: the units' residuals, plus 2^40 for each unit whose list of some pixel was full.
    const int64_t residuals = split_total.load() & ((int64_t(1) << 40) - 1);
    const bool list_full = (split_total.load() >> 40) != 0;
    std::fprintf(stderr, "split GEMM %dx%dx%d -> %d (copied per unit): %lld residuals (%.2f %% of the input)%s\n",
                 p.input_h, p.input_w, p.input_c, p.output_c, (long long)residuals,
                 100.0 * residuals / (double)std::max<int64_t>(1, in_pixels * p.input_c),
                 !any_unit_int16.load() ? "" : list_full ? ", a unit ran int16 (a list was full)" : ", a unit ran int16");
  }
  return true;
}

void ConvRun(const PackedConv& pc, const void* input, uint8_t* output, void* scratch, ThreadPool* pool,
             KernelPath path) {
  if (path == KernelPath::kAvx2 && pc.wino && !g_no_winograd) {
    if (pc.is_uint8)
      WinogradConvUint8(*pc.wino, static_cast<const uint8_t*>(input), output, scratch, pool, path);
    else
      WinogradConvInt8(*pc.wino, static_cast<const int8_t*>(input), reinterpret_cast<int8_t*>(output), scratch, pool,
                       path);
    return;
  }
  if (path == KernelPath::kAvx512Vnni) {
    if (pc.amx_uu && AmxKind(isa_supported(Isa::kAvx512Vnni)) != 0 &&
        (isa_supported(Isa::kAvx512Vnni) || (g_vnni_emulate.load(std::memory_order_relaxed) && isa_supported(Isa::kAvx2)))) {
      ConvRunImpl<uint8_t>(pc, input, output, scratch, pool, false, isa_supported(Isa::kAvx512Vnni), false, true);
      return;
    }
    if (pc.vnni) {
      ConvRunImpl<uint8_t>(pc, input, output, scratch, pool, false, isa_supported(Isa::kAvx512Vnni));
      return;
    }
    if (pc.vnni_im2col) {
      ConvRunVnniIm2col(pc, input, output, scratch, pool);
      return;
    }
    path = isa_supported(Isa::kAvx2) ? KernelPath::kAvx2 : KernelPath::kPortable;
  }
  // Depths below 32 per output stay on the int16 GEMM. Measured on MobileNet-v1 at batch 1: with
  // the tuned bounds (SplitTuning) 112x112x32 -> 64 runs 0.52 ms split vs 0.58 ms int16 (0.67 ms
  // split with the weight-only bounds of the first call: the per-tile residual check weighs on 32
  // values per output); 56x56x64 -> 128: 0.35 vs 0.45 ms; 14x14x512 -> 512: 0.50 vs 0.63 ms.
  const int split_mode = SplitMode();
  if (path == KernelPath::kAvx2 && pc.vnni && split_mode &&
      (split_mode == 2 || (int64_t)pc.taps * pc.p.input_c >= SplitMinDepth()) &&
      ConvRunImpl<uint8_t>(pc, input, output, scratch, pool, true, false, true))
    return;
  ConvRunImpl<int16_t>(pc, input, output, scratch, pool, path == KernelPath::kAvx2, false);
}

}  // namespace

PackedConv PackConvInt8(const ConvParams& p, const Requant* requant, int requant_count, const int8_t* filter,
                        const int32_t* bias) {
  return PackImpl(p, requant, requant_count, filter, bias, false);
}

PackedConv PackConvUint8(const ConvParams& p, const Requant& requant, const uint8_t* filter, const int32_t* bias) {
  return PackImpl(p, &requant, 1, filter, bias, true);
}

PackedConv PackFullyConnectedInt8(const FullyConnectedParams& p, const Requant* requant, int requant_count,
                                  const int8_t* weights, const int32_t* bias) {
  return PackImpl(FcAsConv(p), requant, requant_count, weights, bias, false);
}

PackedConv PackFullyConnectedUint8(const FullyConnectedParams& p, const Requant& requant, const uint8_t* weights,
                                   const int32_t* bias) {
  return PackImpl(FcAsConv(p), &requant, 1, weights, bias, true);
}

size_t ConvScratchBytes(const PackedConv& pc) {
  // The copy, the zero row (ic_pad values) and the 64-byte alignment; VNNI: the u8 copy likewise.
  const int64_t int16_bytes = (CopyElements(pc) + pc.ic_pad) * 2;
  const ConvParams& p = pc.p;
  const int64_t u8_bytes =
      // + 16 rows: the AMX tile's partial block reads up to 15 rows past the last pixel (GemmTilesAmx).
      pc.vnni || pc.amx_uu ? std::max<int64_t>(((int64_t)p.batches * p.input_h * p.input_w + 17) * pc.ic_pad4,
                                               pc.vnni ? SplitBytes(pc) : 0)
      : pc.vnni_im2col ? (int64_t)p.batches * p.output_h * p.output_w * pc.ic_pad4 + 16  // Im2colRowsVnni's slack
                       : 0;
  const int64_t wino_bytes = pc.wino ? (int64_t)WinogradScratchBytes(*pc.wino) : 0;
  return (size_t)(std::max({int16_bytes, u8_bytes, wino_bytes}) + 64);
}

int64_t SplitGemmCallsForTests() { return g_split_calls.load(); }

const uint8_t* SplitBoundsForTests(const PackedConv& pc) {
  const uint8_t* b = pc.split_tuning ? pc.split_tuning->bounds.load(std::memory_order_acquire) : nullptr;
  return b ? b : pc.split_tk.data();
}

int64_t SplitLastResidualsForTests() { return g_split_last_residuals.load(); }

void SetSplitTuningForTests(bool on) { g_split_tuning.store(on ? 1 : 0, std::memory_order_relaxed); }

void SetSplitColdForTests(bool on) { g_split_cold.store(on ? 1 : 0, std::memory_order_relaxed); }

int SplitColdSkippedForTests(const PackedConv& pc) {
  const SplitCold* c = pc.split_tuning ? pc.split_tuning->cold.load(std::memory_order_acquire) : nullptr;
  return c ? pc.p.input_c - c->ic_live : 0;
}

void SetSplitGemmForTests(bool on) { g_split.store(on ? 2 : 0, std::memory_order_relaxed); }

void SetVnniPackingForTests(bool always) { g_vnni_pack_always.store(always, std::memory_order_relaxed); }
void SetVnniEmulationForTests(bool on) { g_vnni_emulate.store(on, std::memory_order_relaxed); }
void SetAmxForTests(int mode) { g_amx.store(mode, std::memory_order_relaxed); }
bool AmxUsableForTests() { return amx_int8_usable(); }
int64_t AmxRunsForTests() { return g_amx_runs.load(std::memory_order_relaxed); }

void ConvInt8(const PackedConv& pc, const int8_t* input, int8_t* output, void* scratch, ThreadPool* pool,
              KernelPath path) {
  ConvRun(pc, input, reinterpret_cast<uint8_t*>(output), scratch, pool, path);
}

void ConvUint8(const PackedConv& pc, const uint8_t* input, uint8_t* output, void* scratch, ThreadPool* pool,
               KernelPath path) {
  ConvRun(pc, input, output, scratch, pool, path);
}

}  // namespace qat::kernels::optimized
