// Optimised DEPTHWISE_CONV_2D driver (see depthwise_conv.h): packing, the split of output rows
// over the thread pool and the portable row kernel.
#include "kernels/optimized/depthwise_conv.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "kernels/x86/int8_x86.h"
#include "qat/thread_pool.h"

namespace qat::kernels::optimized {

namespace {

template <class W>
PackedDepthwise PackImpl(const reference::ConvParams& p, const Requant* requant, int requant_count, const W* filter,
                         const int32_t* bias, bool is_uint8) {
  PackedDepthwise pd;
  pd.p = p;
  pd.is_uint8 = is_uint8;
  pd.c_pad = (p.output_c + 15) / 16 * 16;
  const int taps = p.filter_h * p.filter_w;
  pd.tap_pairs = (taps + 1) / 2;
  const int32_t filter_offset = is_uint8 ? p.filter_offset : 0;
  pd.weights.assign((size_t)taps * pd.c_pad, 0);
  pd.bias.assign(pd.c_pad, 0);
  pd.folded_bias.assign(pd.c_pad, 0);
  for (int t = 0; t < taps; ++t)
    for (int c = 0; c < p.output_c; ++c)
      pd.weights[(size_t)t * pd.c_pad + c] = (int32_t)filter[(size_t)t * p.output_c + c] + filter_offset;
  for (int c = 0; c < p.output_c; ++c) {
    pd.bias[c] = bias ? bias[c] : 0;
    uint32_t sum = 0;
    for (int t = 0; t < taps; ++t) sum += (uint32_t)pd.weights[(size_t)t * pd.c_pad + c];
    pd.folded_bias[c] = (int32_t)((uint32_t)pd.bias[c] + (uint32_t)p.input_offset * sum);
  }
  // AVX2 layout: for tap pair (a, b) and 16-channel block, vpunpck{l,h}wd of the two taps' int16
  // inputs gives lanes (ch0-3 | ch8-11) and (ch4-7 | ch12-15), each channel as (x_a, x_b); the
  // weights are stored in the same order, (w_a, w_b) per channel. A missing odd tap has weight 0.
  const int blocks = pd.c_pad / 16;
  pd.pairs.assign((size_t)pd.tap_pairs * blocks * 32, 0);
  for (int tp = 0; tp < pd.tap_pairs; ++tp)
    for (int blk = 0; blk < blocks; ++blk) {
      int16_t* dst = pd.pairs.data() + ((size_t)tp * blocks + blk) * 32;
      for (int half = 0; half < 2; ++half)
        for (int lane = 0; lane < 2; ++lane)
          for (int i = 0; i < 4; ++i) {
            const int c = blk * 16 + lane * 8 + half * 4 + i;
            for (int k = 0; k < 2; ++k) {
              const int t = 2 * tp + k;
              const int32_t w = (t < taps && c < p.output_c) ? pd.weights[(size_t)t * pd.c_pad + c] : 0;
              dst[half * 16 + lane * 8 + i * 2 + k] = (int16_t)w;
            }
          }
    }
  pd.rq.Init(requant, requant_count, p.output_c, pd.c_pad);
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

// The padded image the AVX2 path reads: exactly the rows and columns the output windows touch.
void PaddedSize(const reference::ConvParams& p, int* hp, int* wp) {
  *hp = (p.output_h - 1) * p.stride_h + (p.filter_h - 1) * p.dilation_h + 1;
  *wp = (p.output_w - 1) * p.stride_w + (p.filter_w - 1) * p.dilation_w + 1;
}

template <class T>
void Run(const PackedDepthwise& pd, const T* input, T* output, void* scratch, ThreadPool* pool, KernelPath path) {
  const reference::ConvParams& p = pd.p;
  const int rows = p.batches * p.output_h;
  if (rows == 0 || p.output_w == 0 || p.output_c == 0) return;
  const bool simd = path == KernelPath::kAvx2 && p.depth_multiplier == 1 &&
                    p.filter_h * p.filter_w <= x86::kDepthwiseMaxTaps;
  const int c16 = simd ? p.output_c / 16 * 16 : 0;
  const int C = p.output_c;
  int hp = 0, wp = 0;
  PaddedSize(p, &hp, &wp);
  std::vector<uint8_t> owned;
  if (!scratch && c16 > 0) {
    owned.resize(DepthwiseScratchBytes(pd));
    scratch = owned.data();
  }
  int16_t* padded = reinterpret_cast<int16_t*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t(63));
  const int threads = pool ? pool->size() : 1;
  auto run_rows = [&](int64_t n, const std::function<void(int64_t, int64_t)>& fn) {
    if (threads > 1 && n > 1)
      pool->parallel_for(n, fn, 1);
    else
      fn(0, n);
  };
  if (c16 > 0) {
    // The int16 copy of the input with its padding materialised: padded pixel (py, px) is input
    // pixel (py - pad_top, px - pad_left), or Z_in outside the input.
    const int16_t zin = (int16_t)(-p.input_offset);
    run_rows((int64_t)p.batches * hp, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int b = (int)(r / hp), py = (int)(r % hp), iy = py - p.pad_top;
        int16_t* dst = padded + r * wp * C;
        if (iy < 0 || iy >= p.input_h) {
          std::fill(dst, dst + (int64_t)wp * C, zin);
          continue;
        }
        const int x0 = std::min(p.pad_left, wp), x1 = std::clamp(p.pad_left + p.input_w, x0, wp);
        std::fill(dst, dst + (int64_t)x0 * C, zin);
        const T* src = input + (((int64_t)b * p.input_h + iy) * p.input_w + (x0 - p.pad_left)) * C;
        x86::WidenRowsAvx2(src, pd.is_uint8, 1, (x1 - x0) * C, (x1 - x0) * C, dst + (int64_t)x0 * C);
        std::fill(dst + (int64_t)x1 * C, dst + (int64_t)wp * C, zin);
      }
    });
  }
  run_rows(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int b = (int)(r / p.output_h), oy = (int)(r % p.output_h);
      if (c16 > 0) {
        x86::DepthwiseRow row;
        row.padded = padded + (int64_t)b * hp * wp * C;
        row.padded_w = wp;
        row.channels = C;
        row.filter_h = p.filter_h;
        row.filter_w = p.filter_w;
        row.stride_h = p.stride_h;
        row.stride_w = p.stride_w;
        row.dilation_h = p.dilation_h;
        row.dilation_w = p.dilation_w;
        row.oy = oy;
        row.ow = p.output_w;
        row.pairs = pd.pairs.data();
        row.tap_pairs = pd.tap_pairs;
        row.c_pad = pd.c_pad;
        row.os = x86::GemmOutput{pd.folded_bias.data(), pd.rq.multiplier.data(), pd.rq.left.data(), pd.rq.right.data(),
                                 pd.rq.mask.data(), pd.rq.half.data(), pd.rq.scale.data(), p.output_offset,
                                 p.act_min, p.act_max, p.requant, pd.is_uint8, pd.rq.multiplier_odd.data(),
                                 pd.rq.any_left};
        row.output = reinterpret_cast<uint8_t*>(output + (((int64_t)b * p.output_h + oy) * p.output_w) * C);
        x86::DepthwiseRowAvx2(row, c16);
      }
      if (c16 < p.output_c) RowPortable(pd, input, output, b, oy, c16, p.output_c);
    }
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

size_t DepthwiseScratchBytes(const PackedDepthwise& pd) {
  int hp = 0, wp = 0;
  PaddedSize(pd.p, &hp, &wp);
  if (pd.p.output_h <= 0 || pd.p.output_w <= 0) return 64;
  return (size_t)pd.p.batches * hp * wp * pd.p.output_c * 2 + 64;
}

void DepthwiseConvInt8(const PackedDepthwise& pd, const int8_t* input, int8_t* output, void* scratch, ThreadPool* pool,
                       KernelPath path) {
  Run(pd, input, output, scratch, pool, path);
}

void DepthwiseConvUint8(const PackedDepthwise& pd, const uint8_t* input, uint8_t* output, void* scratch,
                        ThreadPool* pool, KernelPath path) {
  Run(pd, input, output, scratch, pool, path);
}

}  // namespace qat::kernels::optimized
