// Optimised float32 CONV_2D / FULLY_CONNECTED (see conv_float.h).
#include "kernels/optimized/conv_float.h"

#include <algorithm>
#include <atomic>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/env_flag.h"
#include "kernels/optimized/parallel.h"
#include "kernels/x86/float_x86.h"

namespace qat::kernels::optimized {
namespace {

constexpr int MR = kFloatGemmMR, NR = kFloatGemmNR;

// Portable micro-kernel: the AVX2 kernel's arithmetic in plain C++ (per output, acc = bias, then
// acc += w * x for k in order; GCC does not reassociate float adds without -ffast-math).
// kFused: acc = std::fma(w, x, acc) per tap instead (the AVX-512 kernel's fused values).
template <bool kFused>
void FloatGemmPortable(int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets, const float* b,
                       const float* bias, float* c, int64_t ldc, float act_min, float act_max, bool /*prefetch_b*/) {
  for (int r = 0; r < mr; ++r) {
    float acc[NR];
    for (int j = 0; j < NR; ++j) acc[j] = bias[j];
    const float* ar = a[r];
    const float* bk = b;
    for (int64_t k = 0; k < K; ++k, bk += NR) {
      const float x = offsets ? ar[offsets[k]] : ar[k];
      for (int j = 0; j < NR; ++j) {
        if constexpr (kFused)
          acc[j] = std::fma(bk[j], x, acc[j]);
        else
          acc[j] += bk[j] * x;
      }
    }
    float* cr = c + r * ldc;
    for (int j = 0; j < nr; ++j) cr[j] = std::min(std::max(acc[j], act_min), act_max);
  }
}

using GemmFn = void (*)(int, int, int64_t, const float* const*, const int32_t*, const float*, const float*, float*,
                        int64_t, float, float, bool);

GemmFn SelectGemm(KernelPath path, bool fused) {
#if defined(__x86_64__) || defined(_M_X64)
  if (path != KernelPath::kPortable) return fused ? x86::FloatGemmFusedAvx2 : x86::FloatGemmAvx2;
#endif
  return fused ? FloatGemmPortable<true> : FloatGemmPortable<false>;
}

// Up to 12 rows and 8 channels (panels with at most 8 live channels).
GemmFn SelectGemm8(KernelPath path, bool fused) {
#if defined(__x86_64__) || defined(_M_X64)
  if (path != KernelPath::kPortable) return fused ? x86::FloatGemm8FusedAvx2 : x86::FloatGemm8Avx2;
#endif
  return fused ? FloatGemmPortable<true> : FloatGemmPortable<false>;
}

// The AVX-512 twins: hardware, or (tests) the same source on emulated intrinsics.
std::atomic<bool> g_float512_emulated{false};
using Gemm512Fn = void (*)(bool, int, int, int64_t, const float* const*, const int32_t*, const float*, int64_t,
                           const float*, float*, int64_t, float, float, bool);
using Rows512Fn = void (*)(bool, int64_t, int, int64_t, const float*, int64_t, const float*, int64_t, const float*,
                           float*, int64_t, float, float, bool);

int64_t OutputRows(const reference::ConvParams& p) { return (int64_t)p.batches * p.output_h * p.output_w; }

// How the work is split: `tasks` tasks, each a range of 6-row tiles x a range of panels.
struct Split {
  int tasks = 1;
  bool by_rows = true;
};

Split ChooseSplit(const PackedConvFloat& pc, int threads) {
  Split s;
  if (threads <= 1) return s;
  const int64_t tiles = (OutputRows(pc.p) + MR - 1) / MR;
  if (tiles >= 8LL * threads || pc.panels < threads) {
    s.tasks = (int)std::min<int64_t>(threads, tiles);
    s.by_rows = true;
  } else {
    s.tasks = threads;
    s.by_rows = false;
  }
  return s;
}

// dst[0, n) = src[0, n), or zeros for a null src; short runs (few input channels) without a call.
inline void CopyOrZero(float* dst, const float* src, int64_t n) {
  if (n <= 16) {
    if (src)
      for (int64_t i = 0; i < n; ++i) dst[i] = src[i];
    else
      for (int64_t i = 0; i < n; ++i) dst[i] = 0.f;
  } else if (src) {
    std::memcpy(dst, src, sizeof(float) * n);
  } else {
    std::memset(dst, 0, sizeof(float) * n);
  }
}

// Scratch floats per tile row: an im2col row, or a gather patch.
int64_t RowFloats(const PackedConvFloat& pc) { return pc.gather ? pc.patch : pc.K; }
// The zero-bordered copy of a padded layer's input (PackedConvFloat::padded).
int64_t PaddedFloats(const PackedConvFloat& pc) {
  return (int64_t)pc.p.batches * pc.pad_h * pc.pad_w * pc.p.input_c;
}

// Tiles per block: a block's rows are gathered first, then each panel runs over the whole block
// (the panel stays in L1 across the block's tiles, the block's rows, ~96 KiB, in L2).
int64_t BlockTiles(const PackedConvFloat& pc) {
  static const int64_t env = [] {
    const char* e = std::getenv("QAT_FLOAT_BLOCK_TILES");
    return e ? (int64_t)std::atoll(e) : (int64_t)0;
  }();
  if (env > 0) return env;
  // Even, so the AVX-512 path's 12-row tiles (two 6-row tiles) stay whole inside a block.
  const int64_t fit = (96 << 10) / (MR * std::max<int64_t>(pc.K, 1) * (int64_t)sizeof(float));
  return std::max<int64_t>(2, std::min<int64_t>(32, fit) / 2 * 2);
}

// Narrow layers: the padded row width of the channel planes, and the planes' floats (every input
// row of every image, then one zero row).
int64_t NarrowWidth(const reference::ConvParams& p) {
  return ((int64_t)p.output_w + p.filter_w - 1 + 7) / 8 * 8 + 8;
}
int64_t NarrowFloats(const PackedConvFloat& pc) {
  const reference::ConvParams& p = pc.p;
  return ((int64_t)p.batches * p.input_h + 1) * p.input_c * NarrowWidth(p);
}

// Portable twin of x86::NarrowConvRowAvx2 (kFused: std::fma per tap).
template <bool kFused>
void NarrowRowPortable(const float* const* rows, int64_t wp, int C, int fh, int fw, const float* w, int64_t w_stride,
                       const float* bias, int OC, int OW, float* out, float lo, float hi) {
  for (int x = 0; x < OW; ++x)
    for (int oc = 0; oc < OC; ++oc) {
      float acc = bias[oc];
      int64_t k = 0;
      for (int fy = 0; fy < fh; ++fy)
        for (int fx = 0; fx < fw; ++fx)
          for (int ic = 0; ic < C; ++ic, ++k) {
            if constexpr (kFused)
              acc = std::fma(rows[fy][ic * wp + x + fx], w[k * w_stride + oc], acc);
            else
              acc += rows[fy][ic * wp + x + fx] * w[k * w_stride + oc];
          }
      out[(int64_t)x * OC + oc] = std::min(std::max(acc, lo), hi);
    }
}

// Panels per L2-resident group: K x 16 floats each, about 192 KiB per group.
int PanelGroup(int64_t K) { return (int)std::max<int64_t>(1, (192 * 1024) / (K * NR * (int64_t)sizeof(float))); }

}  // namespace

void SetFloatAvx512EmulationForTests(bool on) { g_float512_emulated.store(on, std::memory_order_relaxed); }
bool Float512EmulatedForTests() { return g_float512_emulated.load(std::memory_order_relaxed); }

PackedConvFloat PackConvFloat(const reference::ConvParams& p, const float* filter, const float* bias) {
  PackedConvFloat pc;
  pc.p = p;
  pc.K = (int64_t)p.filter_h * p.filter_w * p.input_c;
  pc.panels = (p.output_c + NR - 1) / NR;
  pc.direct = p.filter_h == 1 && p.filter_w == 1 && p.pad_top == 0 && p.pad_left == 0;
  pc.narrow = p.output_c <= kFloatNarrowMaxOC && p.stride_w == 1 && p.dilation_w == 1 && p.output_w >= 8 &&
              p.input_h * p.input_w > 1;
  // Gather needs distinct offsets: a window row narrower than the input row.
  if (!pc.direct && p.input_c <= kFloatGatherMaxC && (int64_t)(p.filter_w - 1) * p.dilation_w < p.input_w) {
    const int64_t row = (int64_t)p.input_w * p.input_c;
    const int64_t last = (int64_t)(p.filter_h - 1) * p.dilation_h * row +
                         (int64_t)(p.filter_w - 1) * p.dilation_w * p.input_c + p.input_c - 1;
    if (last < INT32_MAX) {
      pc.gather = true;
      pc.patch = last + 1;
      for (int fy = 0; fy < p.filter_h; ++fy)
        for (int fx = 0; fx < p.filter_w; ++fx)
          for (int ic = 0; ic < p.input_c; ++ic)
            pc.offsets.push_back((int32_t)(fy * p.dilation_h * row + (int64_t)fx * p.dilation_w * p.input_c + ic));
    }
  }
  static const bool no_padded = EnvFlag("QAT_FLOAT_NO_PADDED");  // A/B: keep the im2col rows
  if (!pc.direct && !pc.narrow && !pc.gather && !no_padded) {
    // The zero-bordered image: rows and columns up to the last window's far edge.
    const int64_t ph = std::max<int64_t>((int64_t)p.pad_top + p.input_h,
                                         (int64_t)(p.output_h - 1) * p.stride_h + (int64_t)(p.filter_h - 1) * p.dilation_h + 1);
    const int64_t pw = std::max<int64_t>((int64_t)p.pad_left + p.input_w,
                                         (int64_t)(p.output_w - 1) * p.stride_w + (int64_t)(p.filter_w - 1) * p.dilation_w + 1);
    const int64_t row = pw * p.input_c;
    const int64_t last = (int64_t)(p.filter_h - 1) * p.dilation_h * row +
                         (int64_t)(p.filter_w - 1) * p.dilation_w * p.input_c + p.input_c - 1;
    if (last < INT32_MAX && ph * row < INT32_MAX && p.output_h > 0 && p.output_w > 0) {
      pc.padded = true;
      pc.pad_h = (int)ph;
      pc.pad_w = (int)pw;
      for (int fy = 0; fy < p.filter_h; ++fy)
        for (int fx = 0; fx < p.filter_w; ++fx)
          for (int ic = 0; ic < p.input_c; ++ic)
            pc.offsets.push_back((int32_t)(fy * p.dilation_h * row + (int64_t)fx * p.dilation_w * p.input_c + ic));
    }
  }
  pc.weights.assign((size_t)pc.panels * pc.K * NR, 0.f);
  pc.bias.assign((size_t)pc.panels * NR, 0.f);
  for (int oc = 0; oc < p.output_c; ++oc) {
    float* dst = pc.weights.data() + (size_t)(oc / NR) * pc.K * NR + oc % NR;
    const float* src = filter + (int64_t)oc * pc.K;
    for (int64_t k = 0; k < pc.K; ++k) dst[k * NR] = src[k];
    if (bias) pc.bias[oc] = bias[oc];
  }
  return pc;
}

PackedConvFloat PackFullyConnectedFloat(const reference::FullyConnectedParams& f, const float* weights,
                                        const float* bias) {
  reference::ConvParams p;
  p.batches = f.batches;
  p.input_h = p.input_w = p.output_h = p.output_w = 1;
  p.input_c = f.input_depth;
  p.output_c = f.output_depth;
  p.float_act = f.float_act;
  return PackConvFloat(p, weights, bias);
}

size_t ConvFloatScratchBytes(const PackedConvFloat& pc, const ThreadPool* pool) {
  if (pc.narrow) return (size_t)NarrowFloats(pc) * sizeof(float) + 64;
  if (pc.direct) return 0;
  if (pc.padded) return (size_t)PaddedFloats(pc) * sizeof(float) + 64;
  const Split s = ChooseSplit(pc, ParallelThreads(pool));
  return (size_t)s.tasks * BlockTiles(pc) * MR * RowFloats(pc) * sizeof(float) + 64;
}

namespace {
void NarrowConv(const PackedConvFloat& pc, const float* input, float* output, void* scratch, ThreadPool* pool,
                KernelPath path, const FloatResidual* residual, bool fused) {
  const reference::ConvParams& p = pc.p;
  const int C = p.input_c, W = p.input_w, OC = p.output_c;
  const int64_t wp = NarrowWidth(p);
  std::vector<float> owned;
  float* planes;
  if (scratch) {
    planes = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t(63));
  } else {
    owned.resize((size_t)NarrowFloats(pc));
    planes = owned.data();
  }
  const int64_t in_rows = (int64_t)p.batches * p.input_h;
  const int64_t plane_row = (int64_t)C * wp;  // one input row as C planes of wp floats
  float* zero_row = planes + in_rows * plane_row;
  std::fill(zero_row, zero_row + plane_row, 0.f);
  // Input row r -> planes: column ix at pad_left + ix, zeros around.
  const int pl = p.pad_left;
  const bool in_place = pl >= 0 && pl + (int64_t)W <= wp;  // every column lands inside its plane
  ParallelFor(pool, in_rows, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* src = input + r * W * C;
      float* dst = planes + r * plane_row;
#if defined(__x86_64__) || defined(_M_X64)
      if (in_place && path != KernelPath::kPortable) {  // 8 x 8 register transposes (pose: 2.5 % scalar)
        for (int ic = 0; ic < C; ++ic) {
          float* d = dst + ic * wp;
          std::fill(d, d + pl, 0.f);
          std::fill(d + pl + W, d + wp, 0.f);
        }
        x86::TransposeRowAvx2(src, W, C, dst + pl, wp);
        continue;
      }
#endif
      for (int ic = 0; ic < C; ++ic) {
        float* d = dst + ic * wp;
        std::fill(d, d + wp, 0.f);
        for (int ix = 0; ix < W; ++ix) {
          const int64_t j = (int64_t)ix + pl;
          if (j >= 0 && j < wp) d[j] = src[(int64_t)ix * C + ic];
        }
      }
    }
  });
  const int64_t out_rows = (int64_t)p.batches * p.output_h;
  ParallelFor(pool, out_rows, 4, [&](int64_t r0, int64_t r1) {
    const float* rows[64];
    std::vector<const float*> big;
    const float** rp = p.filter_h <= 64 ? rows : (big.resize(p.filter_h), big.data());
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / p.output_h;
      const int oy = (int)(r % p.output_h);
      for (int fy = 0; fy < p.filter_h; ++fy) {
        const int iy = oy * p.stride_h - p.pad_top + fy * p.dilation_h;
        rp[fy] = iy >= 0 && iy < p.input_h ? planes + (b * p.input_h + iy) * plane_row : zero_row;
      }
      float* out = output + r * p.output_w * OC;
#if defined(__x86_64__) || defined(_M_X64)
      if (path != KernelPath::kPortable) {
        x86::NarrowConvRowAvx2(fused, rp, wp, C, p.filter_h, p.filter_w, pc.weights.data(), NR, pc.bias.data(), OC,
                               p.output_w, out, p.float_act.min, p.float_act.max);
        continue;
      }
#endif
      (fused ? NarrowRowPortable<true> : NarrowRowPortable<false>)(rp, wp, C, p.filter_h, p.filter_w,
                                                                    pc.weights.data(), NR, pc.bias.data(), OC,
                                                                    p.output_w, out, p.float_act.min, p.float_act.max);
    }
    if (residual) {
      const int64_t row = (int64_t)p.output_w * OC;
      ApplyFloatResidual(*residual, r0 * row, output + r0 * row, (r1 - r0) * row, path);
    }
  });
}
}  // namespace

namespace {
// ConvFloat over output rows (pixels) [0, M) of the GEMM; M < OutputRows(p) only for a contiguous
// direct layer (ConvFloatPixels).
void ConvFloatImpl(const PackedConvFloat& pc, const float* input, float* output, void* scratch, ThreadPool* pool,
                   KernelPath path, const FloatResidual* residual, FloatMath math, int64_t M) {
  const reference::ConvParams& p = pc.p;
  const int64_t K = pc.K;
  if (M == 0) return;
  if (pc.narrow) return NarrowConv(pc, input, output, scratch, pool, path, residual, FusesOn(path, math));
  const int64_t tiles = (M + MR - 1) / MR;
  const Split s = ChooseSplit(pc, ParallelThreads(pool));
  std::vector<float> owned;
  float* cols = nullptr;
  float* padded = nullptr;  // pc.padded: the zero-bordered input
  if (pc.padded) {
    if (scratch) {
      padded = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t(63));
    } else {
      owned.resize((size_t)PaddedFloats(pc) + 16);
      padded = owned.data();
    }
    const int C = p.input_c, PW = pc.pad_w;
    const int64_t prow = (int64_t)PW * C;
    ParallelFor(pool, (int64_t)p.batches * pc.pad_h, 8, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = r / pc.pad_h;
        const int iy = (int)(r % pc.pad_h) - p.pad_top;
        float* dst = padded + r * prow;
        if (iy < 0 || iy >= p.input_h) {
          std::fill(dst, dst + prow, 0.f);
          continue;
        }
        const int64_t left = (int64_t)p.pad_left * C, run = (int64_t)p.input_w * C;
        std::fill(dst, dst + left, 0.f);
        std::memcpy(dst + left, input + (b * p.input_h + iy) * run, (size_t)run * sizeof(float));
        std::fill(dst + left + run, dst + prow, 0.f);
      }
    });
  } else if (!pc.direct) {
    if (scratch) {
      cols = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t(63));
    } else {
      owned.resize((size_t)s.tasks * BlockTiles(pc) * MR * RowFloats(pc) + 16);
      cols = owned.data();
    }
  }
  const bool fused = FusesOn(path, math);
  const GemmFn gemm = SelectGemm(path, fused), gemm8 = SelectGemm8(path, fused);
#if defined(__x86_64__) || defined(_M_X64)
  const bool avx512 = path == KernelPath::kAvx512Vnni;
  const bool emu512 = g_float512_emulated.load(std::memory_order_relaxed);
  const Gemm512Fn gemm512 = emu512 ? x86::emulated::FloatGemmAvx512 : x86::FloatGemmAvx512;
  const Rows512Fn rows512 = emu512 ? x86::emulated::FloatGemmRowsAvx512 : x86::FloatGemmRowsAvx512;
#else
  const bool avx512 = false;
#endif
  // AVX-512: panel pairs, so an even group (two panels' weights still fit the L2 for any K here).
  const int group = avx512 ? std::max(2, PanelGroup(K) / 2 * 2) : PanelGroup(K);
  const float lo = p.float_act.min, hi = p.float_act.max;
  const int OC = p.output_c;
  const int64_t ohw = (int64_t)p.output_h * p.output_w;
  // 1x1, stride 1, no padding: output row m reads input row m.
  const bool contiguous = pc.direct && p.stride_h == 1 && p.stride_w == 1;
  // Those run a block's tiles in one call (x86::FloatGemmRowsAvx2: the tile body inlined, no row
  // table; small-depth layers gain most: 96x96x8 -> 32 126 -> 108 us, 112x112x16 -> 64 480 -> 428
  // us). QAT_FLOAT_NO_ROW_RUNS=1 keeps the per-tile calls (A/B).
  static const bool no_row_runs = EnvFlag("QAT_FLOAT_NO_ROW_RUNS");
#if defined(__x86_64__) || defined(_M_X64)
  const bool rows_in_place = contiguous && path != KernelPath::kPortable && !no_row_runs;
#else
  const bool rows_in_place = false;
#endif

  ParallelTasks(pool, s.tasks, [&](int task) {
    int64_t t0 = 0, t1 = tiles;
    int p0 = 0, p1 = pc.panels;
    if (s.by_rows) {
      t0 = tiles * task / s.tasks;
      t1 = tiles * (task + 1) / s.tasks;
    } else {
      p0 = (int)((int64_t)pc.panels * task / s.tasks);
      p1 = (int)((int64_t)pc.panels * (task + 1) / s.tasks);
    }
    const int64_t row_floats = RowFloats(pc);
    const int64_t bt = BlockTiles(pc);
    float* my_cols = cols ? cols + (size_t)task * bt * MR * row_floats : nullptr;
    const int32_t* offsets = pc.gather || pc.padded ? pc.offsets.data() : nullptr;
    std::vector<const float*> block_rows((size_t)bt * MR);
    // The rows of the block's output rows m in [m0, m1) into rows[m - m0]; cols: their scratch
    // (row_floats each). The layer's fields are copied to locals first: read through `p` they were
    // reloaded after every store into rows[] (which may alias them), and with a division per tile
    // that bookkeeping took 23 % of a first layer's time (224x224x3 -> 24, K = 27).
    auto block_rows_of = [&](int64_t m0, int64_t m1, float* cols, const float** rows) {
      const float* const in = input;
      const int64_t C = p.input_c;
      if (contiguous) {  // 1x1, stride 1, no padding: output row m reads input row m
        for (int64_t m = m0; m < m1; ++m) rows[m - m0] = in + m * C;
        return;
      }
      const int in_h = p.input_h, in_w = p.input_w, out_h = p.output_h, out_w = p.output_w;
      const int sh = p.stride_h, sw = p.stride_w, pt = p.pad_top, pl = p.pad_left;
      if (padded) {  // the window's top-left pixel in the zero-bordered image
        const int64_t ph = pc.pad_h, pw = pc.pad_w;
        int64_t b = m0 / ohw;
        int oy = (int)((m0 % ohw) / out_w), ox = (int)((m0 % ohw) % out_w);
        for (int64_t m = m0; m < m1; ++m) {
          rows[m - m0] = padded + ((b * ph + (int64_t)oy * sh) * pw + (int64_t)ox * sw) * C;
          if (++ox == out_w) {
            ox = 0;
            if (++oy == out_h) {
              oy = 0;
              ++b;
            }
          }
        }
        return;
      }
      const int fh = p.filter_h, fw = p.filter_w, dh = p.dilation_h, dw = p.dilation_w;
      const bool direct = pc.direct, gather = pc.gather;
      const int64_t rf = row_floats;
      // (b, oy, ox) of row m0 by division, then stepped.
      int64_t b = m0 / ohw;
      int oy = (int)((m0 % ohw) / out_w), ox = (int)((m0 % ohw) % out_w);
      for (int64_t m = m0; m < m1; ++m) {
        if (m > m0 && ++ox == out_w) {
          ox = 0;
          if (++oy == out_h) {
            oy = 0;
            ++b;
          }
        }
        const float** row = rows + (m - m0);
        if (direct) {  // 1x1 without padding, strided: the input pixel in place
          *row = in + ((b * in_h + (int64_t)oy * sh) * in_w + (int64_t)ox * sw) * C;
          continue;
        }
        float* col = cols + (m - m0) * rf;
        const int iy0 = oy * sh - pt, ix0 = ox * sw - pl;
        if (gather) {
          const int iy1 = iy0 + (fh - 1) * dh, ix1 = ix0 + (fw - 1) * dw;
          if (iy0 >= 0 && ix0 >= 0 && iy1 < in_h && ix1 < in_w) {
            *row = in + ((b * in_h + iy0) * in_w + ix0) * C;
            continue;
          }
          // A window across the padding: its values (zeros for padding) at the same offsets.
          const int32_t* o = offsets;
          for (int fy = 0; fy < fh; ++fy) {
            const int iy = iy0 + fy * dh;
            const bool y_in = iy >= 0 && iy < in_h;
            for (int fx = 0; fx < fw; ++fx) {
              const int ix = ix0 + fx * dw;
              const float* src = y_in && ix >= 0 && ix < in_w ? in + ((b * in_h + iy) * in_w + ix) * C : nullptr;
              CopyOrZero(col + *o, src, C);  // a tap's input_c offsets are consecutive
              o += C;
            }
          }
          *row = col;
          continue;
        }
        // Per filter row: the filter_w taps are one contiguous run of filter_w * input_c floats when
        // the run lies inside the input and dilation_w is 1 (NHWC: adjacent pixels are adjacent).
        const bool x_inside = dw == 1 && ix0 >= 0 && ix0 + fw <= in_w;
        const int64_t run = (int64_t)fw * C;
        for (int fy = 0; fy < fh; ++fy) {
          const int iy = iy0 + fy * dh;
          float* dst_row = col + fy * run;
          if (iy < 0 || iy >= in_h) {
            CopyOrZero(dst_row, nullptr, run);
            continue;
          }
          const float* src_row = in + (b * in_h + iy) * in_w * C;
          if (x_inside) {
            CopyOrZero(dst_row, src_row + (int64_t)ix0 * C, run);
            continue;
          }
          for (int fx = 0; fx < fw; ++fx) {
            const int ix = ix0 + fx * dw;
            const bool pad = ix < 0 || ix >= in_w;
            CopyOrZero(dst_row + (int64_t)fx * C, pad ? nullptr : src_row + (int64_t)ix * C, C);
          }
        }
        *row = col;
      }
    };
    for (int g0 = p0; g0 < p1; g0 += group) {
      const int g1 = std::min(p1, g0 + group);
      for (int64_t tb = t0; tb < t1; tb += bt) {
        const int64_t te = std::min(t1, tb + bt);
        if (!rows_in_place) block_rows_of(tb * MR, std::min(M, te * MR), my_cols, block_rows.data());
        for (int pn = g0; pn < g1; pn += avx512 ? 2 : 1) {
          const int n0 = pn * NR;
          const float* w = pc.weights.data() + (size_t)pn * K * NR;
#if defined(__x86_64__) || defined(_M_X64)
          if (avx512) {  // two panels (up to 32 channels) x two 6-row tiles per call
            const int nr = std::min(OC, std::min(pn + 2, g1) * NR) - n0;
            if (nr <= NR / 2) {  // at most 8 live channels: the AVX2 file's 12 x 8 ymm tiles
              if (rows_in_place) {
                const int64_t m0 = tb * MR, m1 = std::min(M, te * MR);
                (fused ? x86::FloatGemm8RowsFusedAvx2 : x86::FloatGemm8RowsAvx2)(
                    m1 - m0, nr, K, input + m0 * p.input_c, p.input_c, w, pc.bias.data() + n0,
                    output + m0 * OC + n0, OC, lo, hi);
                continue;
              }
              for (int64_t t = tb; t < te; t += 2) {
                const int64_t m0 = t * MR;
                const int mr = (int)std::min<int64_t>((t + 1 < te ? 2 : 1) * MR, M - m0);
                (fused ? x86::FloatGemm8FusedAvx2 : x86::FloatGemm8Avx2)(
                    mr, nr, K, block_rows.data() + (t - tb) * MR, offsets, w, pc.bias.data() + n0,
                    output + m0 * OC + n0, OC, lo, hi, false);
              }
              continue;
            }
            if (rows_in_place) {
              const int64_t m0 = tb * MR, m1 = std::min(M, te * MR);
              rows512(fused, m1 - m0, nr, K, input + m0 * p.input_c, p.input_c, w, K * NR, pc.bias.data() + n0,
                      output + m0 * OC + n0, OC, lo, hi, tb == t0);
              continue;
            }
            for (int64_t t = tb; t < te; t += 2) {
              const int64_t m0 = t * MR;
              const int mr = (int)std::min<int64_t>((t + 1 < te ? 2 : 1) * MR, M - m0);
              gemm512(fused, mr, nr, K, block_rows.data() + (t - tb) * MR, offsets, w, K * NR, pc.bias.data() + n0,
                      output + m0 * OC + n0, OC, lo, hi, t == t0);
            }
            continue;
          }
          if (rows_in_place) {  // the block's tiles in one call: rows m of the input in place
            const int64_t m0 = tb * MR, m1 = std::min(M, te * MR);
            if (OC - n0 <= NR / 2)
              (fused ? x86::FloatGemm8RowsFusedAvx2 : x86::FloatGemm8RowsAvx2)(
                  m1 - m0, OC - n0, K, input + m0 * p.input_c, p.input_c, w, pc.bias.data() + n0,
                  output + m0 * OC + n0, OC, lo, hi);
            else
              (fused ? x86::FloatGemmRowsFusedAvx2 : x86::FloatGemmRowsAvx2)(
                  m1 - m0, std::min(NR, OC - n0), K, input + m0 * p.input_c, p.input_c, w, pc.bias.data() + n0,
                  output + m0 * OC + n0, OC, lo, hi, tb == t0);
            continue;
          }
#endif
          if (OC - n0 <= NR / 2) {  // at most 8 live channels: 12 x 8 tiles (two 6-row tiles each)
            for (int64_t t = tb; t < te; t += 2) {
              const int64_t m0 = t * MR;
              // Tile t + 1 only when it is in this block (its rows are in block_rows).
              const int mr = (int)std::min<int64_t>((t + 1 < te ? 2 : 1) * MR, M - m0);
              gemm8(mr, OC - n0, K, block_rows.data() + (t - tb) * MR, offsets, w, pc.bias.data() + n0,
                    output + m0 * OC + n0, OC, lo, hi, t == t0);
            }
            continue;
          }
          for (int64_t t = tb; t < te; ++t) {
            const int64_t m0 = t * MR;
            const int mr = (int)std::min<int64_t>(MR, M - m0);
            // The first tile to read a panel prefetches it (it comes from L3 or memory).
            gemm(mr, std::min(NR, OC - n0), K, block_rows.data() + (t - tb) * MR, offsets, w, pc.bias.data() + n0,
                 output + m0 * OC + n0, OC, lo, hi, t == t0);
          }
        }
        if (residual && g1 == p1) {  // the block's outputs of the task's channels are final: the fused ADD
          const int c0 = p0 * NR, c1 = std::min(OC, p1 * NR);
          const int64_t m1 = std::min(M, te * MR);
          if (c0 == 0 && c1 == OC) {
            ApplyFloatResidual(*residual, tb * MR * OC, output + tb * MR * OC, (m1 - tb * MR) * OC, path);
          } else {
            for (int64_t m = tb * MR; m < m1; ++m)
              ApplyFloatResidual(*residual, m * OC + c0, output + m * OC + c0, c1 - c0, path);
          }
        }
      }
    }
  });
}

}  // namespace

void ConvFloat(const PackedConvFloat& pc, const float* input, float* output, void* scratch, ThreadPool* pool,
               KernelPath path, const FloatResidual* residual, FloatMath math) {
  ConvFloatImpl(pc, input, output, scratch, pool, path, residual, math, OutputRows(pc.p));
}

bool ConvFloatContiguous(const PackedConvFloat& pc) {
  return pc.direct && !pc.narrow && pc.p.stride_h == 1 && pc.p.stride_w == 1;
}

void ConvFloatPixels(const PackedConvFloat& pc, const float* input, int64_t pixels, float* output, KernelPath path,
                     FloatMath math) {
  ConvFloatImpl(pc, input, output, nullptr, nullptr, path, nullptr, math, pixels);
}

}  // namespace qat::kernels::optimized
