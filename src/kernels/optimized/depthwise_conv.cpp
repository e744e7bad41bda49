// Optimised DEPTHWISE_CONV_2D driver (see depthwise_conv.h): packing, the split into tasks, the
// rings of widened input rows, and the portable row kernel.
#include "kernels/optimized/depthwise_conv.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>

#include "kernels/env_flag.h"
#include "kernels/optimized/fma_stage.h"
#include "kernels/optimized/parallel.h"
#include "kernels/x86/depthwise_x86.h"
#include "qat/thread_pool.h"

namespace qat::kernels::optimized {

namespace {

using x86::kDwFields;

// Lane j of half h of a 16-channel block holds channel kLane[h][j] of the block (vpunpck order).
constexpr int kLane[2][8] = {{0, 1, 2, 3, 8, 9, 10, 11}, {4, 5, 6, 7, 12, 13, 14, 15}};

void Put64(int32_t* field, int lane_pair, int64_t v) { std::memcpy(field + 2 * lane_pair, &v, 8); }

template <class W>
PackedDepthwise PackImpl(const reference::ConvParams& p, const Requant* requant, int requant_count, const W* filter,
                         const int32_t* bias, bool is_uint8) {
  PackedDepthwise pd;
  pd.p = p;
  pd.is_uint8 = is_uint8;
  pd.c_pad = (p.output_c + 15) / 16 * 16;
  const int C = p.output_c, taps = p.filter_h * p.filter_w, blocks = pd.c_pad / 16;
  const int32_t filter_offset = is_uint8 ? p.filter_offset : 0;
  pd.weights.assign((size_t)taps * pd.c_pad, 0);
  pd.bias.assign(pd.c_pad, 0);
  std::vector<int32_t> folded(pd.c_pad, 0);
  for (int t = 0; t < taps; ++t)
    for (int c = 0; c < C; ++c)
      pd.weights[(size_t)t * pd.c_pad + c] = (int32_t)filter[(size_t)t * C + c] + filter_offset;
  for (int c = 0; c < C; ++c) {
    pd.bias[c] = bias ? bias[c] : 0;
    uint32_t sum = 0;
    for (int t = 0; t < taps; ++t) sum += (uint32_t)pd.weights[(size_t)t * pd.c_pad + c];
    folded[c] = (int32_t)((uint32_t)pd.bias[c] + (uint32_t)p.input_offset * sum);
  }
  pd.rq.Init(requant, requant_count, C, pd.c_pad);

  // Pair taps per parity of the window's first input row (see x86/depthwise_x86.h).
  const int fh = p.filter_h, fw = p.filter_w, dh = p.dilation_h;
  size_t wofs[3] = {0, 0, 0};
  for (int e = 0; e < 2; ++e) {
    pd.pair_rows[e] = (e + (fh - 1) * dh) / 2 + 1;
    pd.pair_taps[e] = pd.pair_rows[e] * fw;
    wofs[e + 1] = wofs[e] + (size_t)blocks * pd.pair_taps[e] * 32;
  }
  pd.dw_weights.assign(wofs[2], 0);
  pd.dw_weights_odd = wofs[1];
  // The short output stage needs every channel's right shift in 1..kDwShortMaxRight.
  pd.short_stage = p.requant == RequantMode::kTflite;
  for (int c = 0; c < C; ++c) {
    const Requant& r = requant[requant_count == 1 ? 0 : c];
    pd.short_stage = pd.short_stage && r.shift <= -1 && r.shift >= -x86::kDwShortMaxRight;
  }
  pd.fp32_in_range = true;
  for (int c = 0; c < C; ++c) pd.fp32_in_range = pd.fp32_in_range && requant[requant_count == 1 ? 0 : c].scale < 1.0f;
  pd.dw_params.assign((size_t)blocks * 2 * kDwFields * 8, 0);
  for (int blk = 0; blk < blocks; ++blk)
    for (int h = 0; h < 2; ++h)
      for (int j = 0; j < 8; ++j) {
        const int c = blk * 16 + kLane[h][j];
        for (int e = 0; e < 2; ++e)
          for (int kr = 0; kr < pd.pair_rows[e]; ++kr)
            for (int fx = 0; fx < fw; ++fx)
              for (int s = 0; s < 2; ++s) {
                const int d = 2 * kr + s - e;  // the row's offset from the window's first row
                const int fy = d / dh;
                const bool is_tap = d >= 0 && d % dh == 0 && fy < fh;
                const int32_t w = (is_tap && c < C) ? pd.weights[(size_t)(fy * fw + fx) * pd.c_pad + c] : 0;
                const int t = kr * fw + fx;
                pd.dw_weights[wofs[e] + ((size_t)blk * pd.pair_taps[e] + t) * 32 + h * 16 + j * 2 + s] = (int16_t)w;
              }
        int32_t* f = pd.dw_params.data() + ((size_t)blk * 2 + h) * kDwFields * 8;
        Requant r;  // padding channels: multiplier 0, never stored
        if (c < C) r = requant[requant_count == 1 ? 0 : c];
        const int left = r.shift > 0 ? r.shift : 0, right = r.shift > 0 ? 0 : -r.shift;
        pd.any_left = pd.any_left || left != 0;
        // See x86/depthwise_avx2.cpp: result = (p + K) >> (31 + right) with p = x * m, 2^62 added
        // to keep the sum positive, and 2^(31 - right) removed again through the zero point.
        const int64_t k_pos = (1LL << 62) + (1LL << 30) + (right > 0 ? (1LL << (30 + right)) : 0);
        const int64_t k_neg = k_pos - (right > 0 ? (1LL << 31) : 0);
        // Short stage: floor((p + K') / 2^32) >> (right - 1), the zero point inside K'.
        const int sr = std::clamp(right, 1, x86::kDwShortMaxRight);
        const int64_t ks_pos = (1LL << 30) + (1LL << (30 + sr)) + (int64_t)p.output_offset * (1LL << (31 + sr));
        const int64_t ks_neg = ks_pos - (1LL << 31);
        f[x86::kDwBias * 8 + j] = c < C ? folded[c] : 0;
        f[x86::kDwMult * 8 + j] = r.multiplier;
        f[x86::kDwLeft * 8 + j] = left;
        f[x86::kDwSShift * 8 + j] = sr - 1;
        std::memcpy(&f[x86::kDwScale * 8 + j], &r.scale, 4);
        f[x86::kDwOffset * 8 + j] =
            p.requant == RequantMode::kTflite
                ? (int32_t)((uint32_t)p.output_offset - (uint32_t)(1ULL << (31 - right)))
                : p.output_offset;
        const int odd = j % 2;
        if (odd) f[x86::kDwMultOdd * 8 + j - 1] = r.multiplier;
        Put64(f + (odd ? x86::kDwKPosOdd : x86::kDwKPosEven) * 8, j / 2, k_pos);
        Put64(f + (odd ? x86::kDwKNegOdd : x86::kDwKNegEven) * 8, j / 2, k_neg);
        Put64(f + (odd ? x86::kDwShiftOdd : x86::kDwShiftEven) * 8, j / 2, 31 + right);
        Put64(f + (odd ? x86::kDwSKPosOdd : x86::kDwSKPosEven) * 8, j / 2, ks_pos);
        Put64(f + (odd ? x86::kDwSKNegOdd : x86::kDwSKNegEven) * 8, j / 2, ks_neg);
      }
  // The short ReLU stage's FMA form (optimized/fma_stage.h) for every block whose 16 channels
  // all have an exact pair (padding channels: never stored, any pair).
  if (pd.short_stage && p.act_min >= p.output_offset && isa_supported(Isa::kAvx2) && !NoFmaStage()) {
    FmaStage tensor_st;  // a per-tensor multiplier: one search
    const bool tensor_found = requant_count == 1 &&
                              FindExactFmaStage(requant[0].multiplier, -requant[0].shift, p.act_min - p.output_offset,
                                                p.act_max - p.output_offset, &tensor_st);
    for (int blk = 0; blk < blocks; ++blk) {
      FmaStage st[2][8];
      bool all = true;
      for (int h = 0; h < 2 && all; ++h)
        for (int j = 0; j < 8 && all; ++j) {
          const int c = blk * 16 + kLane[h][j];
          if (c >= C) continue;
          const Requant& r = requant[requant_count == 1 ? 0 : c];
          if (requant_count == 1) {
            all = tensor_found;
            st[h][j] = tensor_st;
          } else {
            all = FindExactFmaStage(r.multiplier, -r.shift, p.act_min - p.output_offset, p.act_max - p.output_offset,
                                    &st[h][j]);
          }
        }
      if (!all) continue;
      for (int h = 0; h < 2; ++h) {
        int32_t* f = pd.dw_params.data() + ((size_t)blk * 2 + h) * kDwFields * 8;
        for (int j = 0; j < 8; ++j) {
          const FmaStage& q = blk * 16 + kLane[h][j] < C ? st[h][j] : st[0][0];
          std::memcpy(&f[x86::kDwFmaScale * 8 + j], &q.scale, 4);
          std::memcpy(&f[x86::kDwFmaOffset * 8 + j], &q.offset, 4);
          f[x86::kDwFmaZero * 8 + j] = p.output_offset + q.center;
        }
      }
    }
  }
  return pd;
}

// Channels [c0, c1) of output row (b, oy), any depth multiplier: the reference's arithmetic.
template <class T>
void RowPortable(const PackedDepthwise& pd, const T* input, T* output, int b, int oy, int c0, int c1) {
  const reference::ConvParams& p = pd.p;
  const int M = p.depth_multiplier;
  for (int ox = 0; ox < p.output_w; ++ox) {
    T* out = output + (((int64_t)b * p.output_h + oy) * p.output_w + ox) * p.output_c;
    const int iy0 = oy * p.stride_h - p.pad_top, ix0 = ox * p.stride_w - p.pad_left;
    for (int c = c0; c < c1; ++c) {
      int32_t acc = 0;
      for (int fy = 0; fy < p.filter_h; ++fy) {
        const int iy = iy0 + fy * p.dilation_h;
        if (iy < 0 || iy >= p.input_h) continue;
        for (int fx = 0; fx < p.filter_w; ++fx) {
          const int ix = ix0 + fx * p.dilation_w;
          if (ix < 0 || ix >= p.input_w) continue;
          const T x = input[(((int64_t)b * p.input_h + iy) * p.input_w + ix) * p.input_c + c / M];
          acc += pd.weights[(size_t)(fy * p.filter_w + fx) * pd.c_pad + c] * ((int32_t)x + p.input_offset);
        }
      }
      acc = (int32_t)((uint32_t)acc + (uint32_t)pd.bias[c]);
      out[c] = (T)OutputStageScalar(p.requant, pd.rq, c, acc, p.output_offset, p.act_min, p.act_max);
    }
  }
}

bool UseAvx2(const PackedDepthwise& pd, KernelPath path) {
  return path == KernelPath::kAvx2 && pd.pair_taps[0] <= x86::kDepthwiseMaxTaps &&
         pd.pair_taps[1] <= x86::kDepthwiseMaxTaps;
}

int Threads(const ThreadPool* pool) { return ParallelThreads(pool); }

// Runs fn(0 .. tasks - 1) on the pool's threads (the caller included), on the spinning team of
// optimized/parallel.h: a futex wake-up per layer would cost more than a small layer's work.
void RunTasks(ThreadPool* pool, int tasks, const std::function<void(int)>& fn) { ParallelTasks(pool, tasks, fn); }

// The AVX2 path's geometry and split into tasks (a function of the shapes and the thread count
// only, so that DepthwiseScratchBytes and the call agree).
struct Plan {
  int wp = 0;         // padded row width: the input columns the output windows touch
  int slots = 0;      // ring slots: the pair rows one output row spans
  int blocks = 0;     // 16-channel blocks
  int rows = 0;       // batches * output_h
  int groups = 1;     // channel groups
  int chunks = 1;     // row chunks
  int group_blocks = 0;
  int pass_blocks = 0;    // blocks of one pass over a task's rows (the ring's width)
  size_t ring_bytes = 0;  // per task: ring slots + a Z_in pair row, then the slots' tags
  size_t task_bytes = 0;
  int tasks() const { return groups * chunks; }
  int GroupBegin(int g) const { return (int)((int64_t)g * blocks / groups); }
  int ChunkBegin(int k) const { return (int)((int64_t)k * rows / chunks); }
};

// A task's ring (slots x pass_blocks pair rows) is kept under this size (L2-resident; measured on
// MobileNet-v1: 24 KiB, an L1-sized ring, made the wide layers take 2-4 passes, each re-reading
// the input rows, and was slower than one pass; 32-64 KiB were alike); wider layers take several
// passes over the rows, a group of blocks each.
constexpr size_t kRingTargetBytes = 64 << 10;

Plan MakePlan(const PackedDepthwise& pd, int threads) {
  const reference::ConvParams& p = pd.p;
  Plan pl;
  pl.wp = (p.output_w - 1) * p.stride_w + (p.filter_w - 1) * p.dilation_w + 1;
  pl.slots = std::max(pd.pair_rows[0], pd.pair_rows[1]);
  pl.blocks = pd.c_pad / 16;
  pl.rows = p.batches * p.output_h;
  if (threads > 1) {
    // Rows, like the convolution that produced the input (conv.cpp splits pixels into one run per
    // thread from 8 tiles of 4 pixels per thread on), so that each core reads what it wrote; tiny
    // inputs (batch-1 7x7) and few rows split by channels, like that convolution's channel blocks.
    const int64_t in_pixels = (int64_t)p.batches * p.input_h * p.input_w;
    if ((pl.rows >= 4 * threads && in_pixels >= 32 * threads) || pl.blocks < threads) {
      pl.chunks = std::min(threads, pl.rows);
    } else {
      pl.groups = threads;
    }
  }
  pl.group_blocks = (pl.blocks + pl.groups - 1) / pl.groups;
  const size_t pair_row_bytes = (size_t)pl.wp * 32 * sizeof(int16_t);  // one block
  pl.pass_blocks = (int)std::clamp<size_t>(kRingTargetBytes / (pl.slots * pair_row_bytes), 1, pl.group_blocks);
  pl.ring_bytes = ((size_t)(pl.slots + 1) * pl.pass_blocks * pair_row_bytes + 63) / 64 * 64;
  pl.task_bytes = pl.ring_bytes + ((size_t)pl.slots * sizeof(int64_t) + 63) / 64 * 64;
  return pl;
}

int FloorDiv2(int v) { return v >= 0 ? v / 2 : -((1 - v) / 2); }

// SetDepthwiseDpwssdEmulationForTests: the row kernel's vpdpwssd build on emulated vpdpwssd.
std::atomic<bool> g_dw_dpwssd_emulate{false};

// The row kernel: its vpdpwssd build where active_isa() is AVX-512 VNNI (QAT_ISA=avx2 keeps the
// vpmaddwd one), the emulated build under the test hook, else the AVX2 one.
using RowKernel = void (*)(const x86::DepthwiseRowArgs&);
// QAT_NO_DPWSSD=1 keeps the vpmaddwd build on VNNI CPUs too (A/B).
const bool g_no_dpwssd = EnvFlag("QAT_NO_DPWSSD");
// QAT_NO_DW_ZMM_STAGE=1: that build with the output stage on ymm halves (A/B).
const bool g_no_dw_zmm_stage = EnvFlag("QAT_NO_DW_ZMM_STAGE");
RowKernel RowKernelFor() {
  if (active_isa() == Isa::kAvx512Vnni && !g_no_dpwssd)
    return g_no_dw_zmm_stage ? &x86::dpwssd_ymm_stage::DepthwiseRowAvx2 : &x86::dpwssd::DepthwiseRowAvx2;
  if (g_dw_dpwssd_emulate.load(std::memory_order_relaxed)) return &x86::dpwssd_emulated::DepthwiseRowAvx2;
  return &x86::DepthwiseRowAvx2;
}

template <class T>
void RunAvx2(const PackedDepthwise& pd, const T* input, T* output, void* scratch, ThreadPool* pool) {
  const reference::ConvParams& p = pd.p;
  const RowKernel row_kernel = RowKernelFor();
  const Plan pl = MakePlan(pd, Threads(pool));
  std::vector<uint8_t> owned;
  if (!scratch) {
    owned.resize(pl.task_bytes * pl.tasks() + 64);
    scratch = owned.data();
  }
  uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t(63));
  const int C = p.output_c, M = p.depth_multiplier, fw = p.filter_w;
  const int16_t zin = (int16_t)(-p.input_offset);
  const int x0 = std::min(p.pad_left, pl.wp), x1 = std::clamp(p.pad_left + p.input_w, x0, pl.wp);
  x86::DwStage stage = pd.fp32_in_range ? x86::DwStage::kXnnpackInRange : x86::DwStage::kXnnpack;
  if (p.requant == RequantMode::kTflite)
    stage = pd.short_stage ? (p.act_min >= p.output_offset ? x86::DwStage::kTfliteShortReluFma
                                                            : x86::DwStage::kTfliteShort)
                           : (pd.any_left ? x86::DwStage::kTfliteLeft : x86::DwStage::kTflite);
  RunTasks(pool, pl.tasks(), [&](int task) {
    const int g = task / pl.chunks, k = task % pl.chunks;
    const int gb0 = pl.GroupBegin(g), gb1 = pl.GroupBegin(g + 1);
    const int r0 = pl.ChunkBegin(k), r1 = pl.ChunkBegin(k + 1);
    if (gb1 <= gb0 || r0 >= r1) return;
    const int64_t block_step = (int64_t)pl.wp * 32;
    int16_t* ring = reinterpret_cast<int16_t*>(base + pl.task_bytes * task);
    int64_t* tags = reinterpret_cast<int64_t*>(base + pl.task_bytes * task + pl.ring_bytes);
    const int16_t* rowp[x86::kDepthwiseMaxTaps];
    const int16_t* tapp[x86::kDepthwiseMaxTaps];
    x86::DepthwiseRowArgs a;
    a.taps = tapp;
    a.ow = p.output_w;
    a.pixel_step = (int64_t)p.stride_w * 32;
    a.block_step = block_step;
    a.out_pixel_stride = C;
    a.act_min = p.act_min;
    a.act_max = p.act_max;
    a.stage = stage;
    a.is_uint8 = pd.is_uint8;
    for (int b0 = gb0; b0 < gb1; b0 += pl.pass_blocks) {
      const int b1 = std::min(gb1, b0 + pl.pass_blocks), nb = b1 - b0;
      const int c0 = b0 * 16, c1 = std::min(C, b1 * 16);
      const int64_t row_elems = block_step * nb;
      int16_t* zrow = ring + row_elems * pl.slots;
      std::fill(zrow, zrow + row_elems, zin);
      std::fill(tags, tags + pl.slots, int64_t{-1});
      // Builds pair row (b, kp): input rows 2 kp, 2 kp + 1 (Z_in outside the image), channels
      // [c0, c1) (or their input channels c / M).
      auto build = [&](int16_t* dst, int b, int kp) {
        for (int blk = 0; blk < nb; ++blk) {
          int16_t* d = dst + blk * block_step;
          std::fill(d, d + (int64_t)x0 * 32, zin);
          std::fill(d + (int64_t)x1 * 32, d + (int64_t)pl.wp * 32, zin);
        }
        if (x1 <= x0) return;
        const T* src[2];
        for (int s = 0; s < 2; ++s) {
          const int iy = 2 * kp + s;
          src[s] = iy >= 0 && iy < p.input_h
                       ? input + (((int64_t)b * p.input_h + iy) * p.input_w + (x0 - p.pad_left)) * p.input_c
                       : nullptr;
        }
        if (M == 1) {
          x86::DepthwisePairRowAvx2(src[0] ? src[0] + c0 : nullptr, src[1] ? src[1] + c0 : nullptr, zin,
                                    pd.is_uint8, x1 - x0, p.input_c, c1 - c0, nb, block_step,
                                    dst + (int64_t)x0 * 32);
          return;
        }
        for (int px = 0; px < x1 - x0; ++px)
          for (int blk = 0; blk < nb; ++blk)
            for (int i = 0; i < 16; ++i) {
              const int c = c0 + blk * 16 + i;
              const int pos = ((i >> 2) & 1) * 16 + ((i >> 3) * 4 + (i & 3)) * 2;
              for (int s = 0; s < 2; ++s)
                dst[blk * block_step + (int64_t)(x0 + px) * 32 + pos + s] =
                    c >= c1 ? 0 : src[s] ? (int16_t)src[s][(int64_t)px * p.input_c + c / M] : zin;
            }
      };
      a.blocks = nb;
      a.tail = c1 - (b1 - 1) * 16;
      a.params = pd.dw_params.data() + (size_t)b0 * 2 * kDwFields * 8;
      for (int r = r0; r < r1; ++r) {
        const int b = r / p.output_h, oy = r % p.output_h;
        const int iy0 = oy * p.stride_h - p.pad_top, k0 = FloorDiv2(iy0), e = iy0 - 2 * k0;
        const int np = pd.pair_rows[e];
        for (int kr = 0; kr < np; ++kr) {
          const int kp = k0 + kr;
          if (2 * kp + 1 < 0 || 2 * kp >= p.input_h) {
            rowp[kr] = zrow;
            continue;
          }
          // The pair rows of one output row are consecutive (at most pl.slots), so their slots differ.
          const int slot = kp % pl.slots;
          int16_t* dst = ring + row_elems * slot;
          const int64_t key = (int64_t)b * p.input_h + kp;
          if (tags[slot] != key) {
            build(dst, b, kp);
            tags[slot] = key;
          }
          rowp[kr] = dst;
        }
        for (int kr = 0; kr < np; ++kr)
          for (int fx = 0; fx < fw; ++fx) tapp[kr * fw + fx] = rowp[kr] + (int64_t)fx * p.dilation_w * 32;
        a.taps_n = pd.pair_taps[e];
        a.weights = pd.dw_weights.data() + (e ? pd.dw_weights_odd : 0) + (size_t)b0 * a.taps_n * 32;
        a.output = reinterpret_cast<uint8_t*>(output + (((int64_t)b * p.output_h + oy) * p.output_w) * C + c0);
        row_kernel(a);
      }
    }
  });
}

template <class T>
void Run(const PackedDepthwise& pd, const T* input, T* output, void* scratch, ThreadPool* pool, KernelPath path) {
  const reference::ConvParams& p = pd.p;
  const int rows = p.batches * p.output_h;
  if (rows == 0 || p.output_w == 0 || p.output_c == 0) return;
  if (UseAvx2(pd, path)) return RunAvx2(pd, input, output, scratch, pool);
  const int threads = std::min(Threads(pool), rows);
  RunTasks(pool, threads, [&](int k) {
    for (int r = (int)((int64_t)k * rows / threads); r < (int)((int64_t)(k + 1) * rows / threads); ++r)
      RowPortable(pd, input, output, r / p.output_h, r % p.output_h, 0, p.output_c);
  });
}

}  // namespace

PackedDepthwise PackDepthwiseInt8(const reference::ConvParams& p, const Requant* requant, int requant_count,
                                  const int8_t* filter, const int32_t* bias) {
  return PackImpl(p, requant, requant_count, filter, bias, false);
}

PackedDepthwise PackDepthwiseUint8(const reference::ConvParams& p, const Requant& requant, const uint8_t* filter,
                                   const int32_t* bias) {
  return PackImpl(p, &requant, 1, filter, bias, true);
}

size_t DepthwiseScratchBytes(const PackedDepthwise& pd, const ThreadPool* pool) {
  if (pd.p.output_h <= 0 || pd.p.output_w <= 0 || pd.p.output_c <= 0) return 64;
  if (!UseAvx2(pd, KernelPath::kAvx2)) return 64;  // sized for AVX2 even when the CPU lacks it
  const Plan pl = MakePlan(pd, Threads(pool));
  return pl.task_bytes * pl.tasks() + 64;
}

void SetDepthwiseDpwssdEmulationForTests(bool on) { g_dw_dpwssd_emulate.store(on, std::memory_order_relaxed); }

void DepthwiseConvInt8(const PackedDepthwise& pd, const int8_t* input, int8_t* output, void* scratch, ThreadPool* pool,
                       KernelPath path) {
  Run(pd, input, output, scratch, pool, path);
}

void DepthwiseConvUint8(const PackedDepthwise& pd, const uint8_t* input, uint8_t* output, void* scratch,
                        ThreadPool* pool, KernelPath path) {
  Run(pd, input, output, scratch, pool, path);
}

}  // namespace qat::kernels::optimized
