// Winograd F(2x2, 3x3) driver (winograd_conv.h): weight transform and packing, the tile loop over
// the thread pool, and the portable twins of the AVX2 input transform and tile kernel
// (x86/winograd_avx2.cpp), which do the same integer arithmetic in plain C++.
//
// Work: the 2x2 output tiles of all batches, numbered b * tiles_h * tiles_w + ty * tiles_w + tx,
// one contiguous run per thread. A run is cut into blocks of kWinoNT tiles: the block's input
// transform V [pos][tile][cin16] (int16, 16 KiB for 64 channels) stays in L1 while every
// 16-channel panel of U passes over it in groups of kWinoMR tiles.
#include "kernels/optimized/winograd_conv.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/optimized/parallel.h"
#include "kernels/x86/winograd_x86.h"
#include "qat/cpu_features.h"

namespace qat::kernels::optimized {

namespace {

constexpr int64_t kInt31 = int64_t(1) << 31;

// The same constants as conv.cpp's InitK64 (PackedConv::k64, x86/gemm_avx2.cpp): per 8 channels
// K+ / K- for the even and odd lanes and the shifts 31 + right; per channel Z_out - 2^(31 - right).
void InitK64(PackedWinograd& pw) {
  const int count = pw.oc_blocks * kWinoNR;
  pw.k64.clear();
  pw.zp64.clear();
  for (int c = 0; c < count; ++c)
    if (pw.rq.right[c] < 0 || pw.rq.right[c] > 31) return;
  pw.k64.assign((size_t)count / 8 * 24, 0);
  pw.zp64.assign(count, 0);
  for (int c = 0; c < count; ++c) {
    const int right = pw.rq.right[c];
    const int64_t k_pos = (1LL << 62) + (1LL << 30) + (right > 0 ? (1LL << (30 + right)) : 0);
    const int64_t k_neg = k_pos - (right > 0 ? (1LL << 31) : 0);
    int64_t* g = pw.k64.data() + (c / 8) * 24;
    const int lane = (c % 8) / 2, odd = c % 2;
    g[(odd ? 8 : 0) + lane] = k_pos;
    g[(odd ? 12 : 4) + lane] = k_neg;
    g[(odd ? 20 : 16) + lane] = 31 + right;
    pw.zp64[c] = (int32_t)((uint32_t)pw.p.output_offset - (uint32_t)(1ULL << (31 - right)));
  }
}

template <class W>
PackedWinograd PackImpl(const ConvParams& p, const Requant* requant, int requant_count, const W* filter,
                        const int32_t* bias, bool is_uint8) {
  PackedWinograd pw;
  pw.p = p;
  pw.is_uint8 = is_uint8;
  pw.kp = (p.input_c + 1) / 2;
  pw.cin16 = (p.input_c + 15) & ~15;
  pw.oc_blocks = (p.output_c + kWinoNR - 1) / kWinoNR;
  pw.tiles_h = (p.output_h + 1) / 2;
  pw.tiles_w = (p.output_w + 1) / 2;
  const int64_t panel = (int64_t)16 * pw.kp * kWinoNR * 2;  // one 16-channel block, 16 positions
  pw.u.assign(panel * pw.oc_blocks, 0);
  pw.bias.assign(pw.oc_blocks * kWinoNR, 0);
  const int32_t filter_offset = is_uint8 ? p.filter_offset : 0;  // int8 weights are symmetric
  // 2G = [[2,0,0],[1,1,1],[1,-1,1],[0,0,2]]: U = (2G) g (2G)^T = 4 G g G^T, integer.
  static constexpr int kG2[4][3] = {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}};
  for (int oc = 0; oc < p.output_c; ++oc) {
    int32_t sum = 0;
    int16_t* dst = pw.u.data() + (oc / kWinoNR) * panel + (oc % kWinoNR) * 2;
    for (int ic = 0; ic < p.input_c; ++ic) {
      int32_t g[3][3];
      for (int fy = 0; fy < 3; ++fy)
        for (int fx = 0; fx < 3; ++fx) {
          g[fy][fx] = (int32_t)filter[((int64_t)oc * 9 + fy * 3 + fx) * p.input_c + ic] + filter_offset;
          sum += g[fy][fx];
        }
      int32_t t[4][3];
      for (int i = 0; i < 4; ++i)
        for (int fx = 0; fx < 3; ++fx)
          t[i][fx] = kG2[i][0] * g[0][fx] + kG2[i][1] * g[1][fx] + kG2[i][2] * g[2][fx];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          const int32_t u = t[i][0] * kG2[j][0] + t[i][1] * kG2[j][1] + t[i][2] * kG2[j][2];  // |u| <= 9 * 255
          dst[((int64_t)(i * 4 + j) * pw.kp + ic / 2) * kWinoNR * 2 + (ic & 1)] = (int16_t)u;
        }
    }
    // Wrapping int32 arithmetic, as the reference accumulator (same fold as PackedConv::bias).
    pw.bias[oc] = (int32_t)((uint32_t)(bias ? bias[oc] : 0) + (uint32_t)p.input_offset * (uint32_t)sum);
  }
  pw.rq.Init(requant, requant_count, p.output_c, pw.oc_blocks * kWinoNR);
  InitK64(pw);
  const int32_t zero_in = -p.input_offset;  // Z_in as the raw activation (int8: two's complement byte)
  pw.zero_row.assign(pw.cin16, (uint8_t)zero_in);
  return pw;
}

// Portable twin of x86::WinogradInputTileAvx2.
void InputTilePortable(const uint8_t* const* src, bool is_uint8, int input_c, int cin16, int16_t* v,
                       int64_t pos_stride) {
  for (int c = 0; c < cin16; ++c) {
    int32_t d[16];
    for (int pos = 0; pos < 16; ++pos)
      d[pos] = c >= input_c ? 0 : (is_uint8 ? (int32_t)src[pos][c] : (int32_t)(int8_t)src[pos][c]);
    int32_t t[16];
    for (int j = 0; j < 4; ++j) {
      t[0 + j] = d[0 + j] - d[8 + j];
      t[4 + j] = d[4 + j] + d[8 + j];
      t[8 + j] = d[8 + j] - d[4 + j];
      t[12 + j] = d[4 + j] - d[12 + j];
    }
    for (int i = 0; i < 4; ++i) {
      const int32_t* r = t + 4 * i;
      int16_t* o = v + (int64_t)(4 * i) * pos_stride + c;
      o[0] = (int16_t)(r[0] - r[2]);
      o[pos_stride] = (int16_t)(r[1] + r[2]);
      o[2 * pos_stride] = (int16_t)(r[2] - r[1]);
      o[3 * pos_stride] = (int16_t)(r[1] - r[3]);
    }
  }
}

// Portable twin of x86::WinogradGroupAvx2: same layouts, same modulo-2^32 arithmetic.
void GroupPortable(const x86::WinogradGroup& g, const PackedWinograd& pw, int oc0) {
  for (int pos = 0; pos < 16; ++pos) {
    const int16_t* u = g.u + (int64_t)pos * g.kp * 32;
    for (int r = 0; r < g.tiles; ++r) {
      const int16_t* v = g.v + pos * g.pos_stride + r * g.cin16;
      uint32_t acc[kWinoNR] = {};
      for (int k = 0; k < g.kp; ++k)
        for (int c = 0; c < kWinoNR; ++c)
          acc[c] += (uint32_t)(v[2 * k] * u[k * 32 + 2 * c] + v[2 * k + 1] * u[k * 32 + 2 * c + 1]);
      for (int c = 0; c < kWinoNR; ++c) g.m[pos * 64 + r * 16 + c] = (int32_t)acc[c];
    }
  }
  const ConvParams& p = pw.p;
  for (int r = 0; r < g.tiles; ++r)
    for (int c = 0; c < g.n; ++c) {
      uint32_t m[16];
      for (int pos = 0; pos < 16; ++pos) m[pos] = (uint32_t)g.m[pos * 64 + r * 16 + c];
      uint32_t t0[4], t1[4];
      for (int j = 0; j < 4; ++j) {
        t0[j] = m[j] + m[4 + j] + m[8 + j];
        t1[j] = m[4 + j] - m[8 + j] - m[12 + j];
      }
      const uint32_t y[4] = {t0[0] + t0[1] + t0[2], t0[1] - t0[2] - t0[3], t1[0] + t1[1] + t1[2],
                             t1[1] - t1[2] - t1[3]};
      for (int q = 0; q < 4; ++q) {
        uint8_t* dst = g.out[r * 4 + q];
        if (!dst) continue;
        const int32_t s = (int32_t)y[q] >> 2;  // exact: Y = 4 * S
        const int32_t acc = (int32_t)((uint32_t)s + (uint32_t)pw.bias[oc0 + c]);
        const int32_t o = OutputStageScalar(p.requant, pw.rq, oc0 + c, acc, p.output_offset, p.act_min, p.act_max);
        dst[c] = pw.is_uint8 ? (uint8_t)o : (uint8_t)(int8_t)o;
      }
    }
}

size_t VBytes(const PackedWinograd& pw) { return ((size_t)16 * kWinoNT * pw.cin16 * 2 + 63) & ~size_t(63); }
constexpr size_t kMBytes = 16 * kWinoMR * kWinoNR * 4;
size_t SlotBytes(const PackedWinograd& pw) { return VBytes(pw) + kMBytes; }

void Run(const PackedWinograd& pw, const uint8_t* input, uint8_t* output, void* scratch, ThreadPool* pool,
         KernelPath path) {
  const ConvParams& p = pw.p;
  const bool avx2 = path != KernelPath::kPortable && isa_supported(Isa::kAvx2);
  const int64_t per_image = (int64_t)pw.tiles_h * pw.tiles_w;
  const int64_t tiles = p.batches * per_image;
  if (tiles == 0) return;
  const int threads = ParallelThreads(pool);
  const int tasks = (int)std::min<int64_t>({threads, kWinoScratchSlots, (tiles + kWinoMR - 1) / kWinoMR});
  const size_t slot_bytes = SlotBytes(pw);
  uint8_t* base = scratch ? reinterpret_cast<uint8_t*>(((uintptr_t)scratch + 63) & ~uintptr_t(63)) : nullptr;
  const int64_t pos_stride = (int64_t)kWinoNT * pw.cin16;
  const int64_t in_row = (int64_t)p.input_w * p.input_c;
  const int64_t out_row = (int64_t)p.output_w * p.output_c;
  const int64_t panel = (int64_t)16 * pw.kp * kWinoNR * 2;

  ParallelTasks(pool, tasks, [&](int task) {
    uint8_t* slot;
    if (base) {
      slot = base + task * slot_bytes;
    } else {
      thread_local AlignedVector<uint8_t> local;
      if (local.size() < slot_bytes) local.resize(slot_bytes);
      slot = local.data();
    }
    int16_t* v = reinterpret_cast<int16_t*>(slot);
    int32_t* m = reinterpret_cast<int32_t*>(slot + VBytes(pw));
    const int64_t t0 = tiles * task / tasks, t1 = tiles * (task + 1) / tasks;
    uint8_t* out[kWinoNT * 4];
    // The tile t0's coordinates, then stepped tile by tile (no division per tile).
    int64_t b = t0 / per_image;
    int ty = (int)(t0 % per_image / pw.tiles_w), tx = (int)(t0 % pw.tiles_w);
    for (int64_t blk = t0; blk < t1; blk += kWinoNT) {
      const int nt = (int)std::min<int64_t>(kWinoNT, t1 - blk);
      // 1. Input transform of the block's tiles (padding positions read the Z_in row), and the
      //    output pixel of each tile position (null past the output's edge).
      for (int i = 0; i < nt; ++i) {
        const int iy0 = 2 * ty - p.pad_top, ix0 = 2 * tx - p.pad_left;
        const uint8_t* src[16];
        for (int dy = 0; dy < 4; ++dy)
          for (int dx = 0; dx < 4; ++dx) {
            const int iy = iy0 + dy, ix = ix0 + dx;
            src[dy * 4 + dx] = iy < 0 || iy >= p.input_h || ix < 0 || ix >= p.input_w
                                   ? pw.zero_row.data()
                                   : input + (b * p.input_h + iy) * in_row + (int64_t)ix * p.input_c;
          }
        if (avx2)
          x86::WinogradInputTileAvx2(src, pw.is_uint8, p.input_c, pw.cin16, v + i * pw.cin16, pos_stride);
        else
          InputTilePortable(src, pw.is_uint8, p.input_c, pw.cin16, v + i * pw.cin16, pos_stride);
        for (int q = 0; q < 4; ++q) {
          const int oy = 2 * ty + q / 2, ox = 2 * tx + q % 2;
          out[i * 4 + q] = oy < p.output_h && ox < p.output_w
                               ? output + (b * p.output_h + oy) * out_row + (int64_t)ox * p.output_c
                               : nullptr;
        }
        if (++tx == pw.tiles_w) {
          tx = 0;
          if (++ty == pw.tiles_h) {
            ty = 0;
            ++b;
          }
        }
      }
      // 2. Every 16-channel panel over the block, kWinoMR tiles at a time.
      for (int ob = 0; ob < pw.oc_blocks; ++ob) {
        const int oc0 = ob * kWinoNR;
        uint8_t* group_out[kWinoMR * 4];
        for (int g0 = 0; g0 < nt; g0 += kWinoMR) {
          const int gt = std::min(kWinoMR, nt - g0);
          for (int i = 0; i < gt * 4; ++i) group_out[i] = out[g0 * 4 + i] ? out[g0 * 4 + i] + oc0 : nullptr;
          const x86::WinogradGroup g{gt, pw.kp, v + g0 * pw.cin16, pos_stride, pw.cin16, pw.u.data() + ob * panel,
                                     m,  group_out, std::min(kWinoNR, p.output_c - oc0)};
          if (avx2) {
            // Field by field (robust to GemmOutput growing): the panel's bias and requantization.
            x86::GemmOutput os{};
            os.bias = pw.bias.data() + oc0;
            os.multiplier = pw.rq.multiplier.data() + oc0;
            os.left = pw.rq.left.data() + oc0;
            os.right = pw.rq.right.data() + oc0;
            os.mask = pw.rq.mask.data() + oc0;
            os.half = pw.rq.half.data() + oc0;
            os.scale = pw.rq.scale.data() + oc0;
            os.output_offset = p.output_offset;
            os.act_min = p.act_min;
            os.act_max = p.act_max;
            os.mode = p.requant;
            os.is_uint8 = pw.is_uint8;
            os.multiplier_odd = pw.rq.multiplier_odd.data() + oc0;
            os.any_left = pw.rq.any_left;
            os.k64 = pw.k64.empty() ? nullptr : pw.k64.data() + oc0 / 8 * 24;
            os.zp64 = pw.zp64.empty() ? nullptr : pw.zp64.data() + oc0;
            x86::WinogradGroupAvx2(g, os);
          } else {
            GroupPortable(g, pw, oc0);
          }
        }
      }
    }
  });
}

}  // namespace

bool WinogradApplies(const ConvParams& p, bool is_uint8) {
  if (p.filter_h != 3 || p.filter_w != 3 || p.stride_h != 1 || p.stride_w != 1 || p.dilation_h != 1 ||
      p.dilation_w != 1)
    return false;
  if (p.output_h < 2 || p.output_w < 2 || p.input_c < 8 || p.output_c < 1 || p.batches < 1) return false;
  // |Y| = 4 |S| <= 4 * 9 * input_c * max|w| * max|x| must stay below 2^31 (winograd_conv.h).
  const int64_t wx = is_uint8 ? 255 * 255 : 128 * 128;
  return 36 * (int64_t)p.input_c * wx < kInt31;
}

PackedWinograd PackWinogradInt8(const ConvParams& p, const Requant* requant, int requant_count, const int8_t* filter,
                                const int32_t* bias) {
  return PackImpl(p, requant, requant_count, filter, bias, false);
}

PackedWinograd PackWinogradUint8(const ConvParams& p, const Requant& requant, const uint8_t* filter,
                                 const int32_t* bias) {
  return PackImpl(p, &requant, 1, filter, bias, true);
}

size_t WinogradScratchBytes(const PackedWinograd& pw) { return SlotBytes(pw) * kWinoScratchSlots + 64; }

size_t WinogradScratchBytes(const PackedWinograd& pw, const ThreadPool* pool) {
  return SlotBytes(pw) * std::min(ParallelThreads(pool), kWinoScratchSlots) + 64;
}

void WinogradConvInt8(const PackedWinograd& pw, const int8_t* input, int8_t* output, void* scratch, ThreadPool* pool,
                      KernelPath path) {
  Run(pw, reinterpret_cast<const uint8_t*>(input), reinterpret_cast<uint8_t*>(output), scratch, pool, path);
}

void WinogradConvUint8(const PackedWinograd& pw, const uint8_t* input, uint8_t* output, void* scratch,
                       ThreadPool* pool, KernelPath path) {
  Run(pw, input, output, scratch, pool, path);
}

}  // namespace qat::kernels::optimized
