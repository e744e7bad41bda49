// Optimised float32 DEPTHWISE_CONV_2D (see depthwise_float.h).
#include "kernels/optimized/depthwise_float.h"

#include <algorithm>
#include <cmath>

#include "kernels/optimized/conv_float.h"
#include "kernels/optimized/parallel.h"
#include "kernels/x86/float_x86.h"

namespace qat::kernels::optimized {
namespace {

template <bool kFused>
void RowPortable(int C, int taps, const float* const* in, int64_t pixel_stride, const int* tap_index,
                 const float* weights, int64_t c_stride, const float* bias, float* out, int npix, float act_min,
                 float act_max) {
  for (int i = 0; i < npix; ++i, out += C) {
    const int64_t off = i * pixel_stride;
    for (int c = 0; c < C; ++c) {
      float acc = bias[c];
      for (int t = 0; t < taps; ++t) {
        const float w = weights[tap_index[t] * c_stride + c], x = in[t][off + c];
        if constexpr (kFused)
          acc = std::fma(w, x, acc);
        else
          acc += w * x;
      }
      out[c] = std::min(std::max(acc, act_min), act_max);
    }
  }
}

using RowFn = void (*)(int, int, const float* const*, int64_t, const int*, const float*, int64_t, const float*,
                       float*, int, float, float);
using Row512Fn = void (*)(bool, int, int, const float* const*, int64_t, const int*, const float*, int64_t,
                          const float*, float*, int, float, float);

constexpr int kMaxTaps = 64;

}  // namespace

PackedDepthwiseFloat PackDepthwiseFloat(const reference::ConvParams& p, const float* filter, const float* bias) {
  PackedDepthwiseFloat pd;
  pd.p = p;
  const int C = p.output_c, taps = p.filter_h * p.filter_w;
  pd.c_pad = (C + 15) / 16 * 16;
  pd.weights.assign((size_t)taps * pd.c_pad, 0.f);
  pd.bias.assign(pd.c_pad, 0.f);
  for (int t = 0; t < taps; ++t)
    for (int c = 0; c < C; ++c) pd.weights[(size_t)t * pd.c_pad + c] = filter[(int64_t)t * C + c];
  if (bias)
    for (int c = 0; c < C; ++c) pd.bias[c] = bias[c];
  return pd;
}

void DepthwiseConvFloat(const PackedDepthwiseFloat& pd, const float* input, float* output, ThreadPool* pool,
                        KernelPath path, const FloatResidual* residual, FloatMath math) {
  const reference::ConvParams& p = pd.p;
  const int C = p.output_c;
  const int64_t rows = (int64_t)p.batches * p.output_h;
  if (rows == 0 || p.output_w == 0) return;
  const bool fused = FusesOn(path, math);
  RowFn row_fn = fused ? RowPortable<true> : RowPortable<false>;
  Row512Fn row512 = nullptr;
#if defined(__x86_64__) || defined(_M_X64)
  if (path == KernelPath::kAvx512Vnni)
    row512 = Float512EmulatedForTests() ? x86::emulated::DepthwiseFloatRowAvx512 : x86::DepthwiseFloatRowAvx512;
  else if (path != KernelPath::kPortable)
    row_fn = fused ? x86::DepthwiseFloatRowFusedAvx2 : x86::DepthwiseFloatRowAvx2;
#endif
  auto run_row = [&](int n, const float* const* in, int64_t ps, const int* ti, float* out, int npix) {
    if (row512)
      row512(fused, C, n, in, ps, ti, pd.weights.data(), pd.c_pad, pd.bias.data(), out, npix, p.float_act.min,
             p.float_act.max);
    else
      row_fn(C, n, in, ps, ti, pd.weights.data(), pd.c_pad, pd.bias.data(), out, npix, p.float_act.min,
             p.float_act.max);
  };
  const int threads = ParallelThreads(pool);
  const bool by_rows = rows >= threads;
  const int tasks = (int)std::min<int64_t>(threads, by_rows ? rows : p.output_w);
  const int taps_total = p.filter_h * p.filter_w;
  // Output columns whose taps all lie inside the input: [xa, xb).
  const int span_w = (p.filter_w - 1) * p.dilation_w;
  int xa = 0;
  while (xa < p.output_w && xa * p.stride_w - p.pad_left < 0) ++xa;
  int xb = xa;
  while (xb < p.output_w && xb * p.stride_w - p.pad_left + span_w < p.input_w) ++xb;
  ParallelTasks(pool, tasks, [&](int task) {
    int64_t r0 = 0, r1 = rows;
    int x0 = 0, x1 = p.output_w;
    if (by_rows) {
      r0 = rows * task / tasks;
      r1 = rows * (task + 1) / tasks;
    } else {
      x0 = (int)((int64_t)p.output_w * task / tasks);
      x1 = (int)((int64_t)p.output_w * (task + 1) / tasks);
    }
    const float* in_ptr[kMaxTaps];
    int tap_index[kMaxTaps];
    for (int64_t r = r0; r < r1; ++r) {
      const int b = (int)(r / p.output_h), oy = (int)(r % p.output_h);
      const int iy0 = oy * p.stride_h - p.pad_top;
      float* out_row = output + r * p.output_w * C;
      // The taps (fx outer, fy inner, the reference's order) of output column ox that are inside
      // the input; returns their count.
      auto gather = [&](int ox) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        int n = 0;
        for (int fx = 0; fx < p.filter_w; ++fx) {
          const int ix = ix0 + fx * p.dilation_w;
          if (ix < 0 || ix >= p.input_w) continue;
          for (int fy = 0; fy < p.filter_h; ++fy) {
            const int iy = iy0 + fy * p.dilation_h;
            if (iy < 0 || iy >= p.input_h) continue;
            in_ptr[n] = input + (((int64_t)b * p.input_h + iy) * p.input_w + ix) * C;
            tap_index[n++] = fy * p.filter_w + fx;
          }
        }
        return n;
      };
      if (taps_total > kMaxTaps) {
        // Very large filters: the reference loop, tap by tap.
        for (int ox = x0; ox < x1; ++ox) {
          const int ix0 = ox * p.stride_w - p.pad_left;
          float* out = out_row + (int64_t)ox * C;
          for (int c = 0; c < C; ++c) out[c] = pd.bias[c];
          for (int fx = 0; fx < p.filter_w; ++fx) {
            const int ix = ix0 + fx * p.dilation_w;
            if (ix < 0 || ix >= p.input_w) continue;
            for (int fy = 0; fy < p.filter_h; ++fy) {
              const int iy = iy0 + fy * p.dilation_h;
              if (iy < 0 || iy >= p.input_h) continue;
              const float* x = input + (((int64_t)b * p.input_h + iy) * p.input_w + ix) * C;
              const float* w = pd.weights.data() + (int64_t)(fy * p.filter_w + fx) * pd.c_pad;
              if (fused)
                for (int c = 0; c < C; ++c) out[c] = std::fma(w[c], x[c], out[c]);
              else
                for (int c = 0; c < C; ++c) out[c] += w[c] * x[c];
            }
          }
          for (int c = 0; c < C; ++c) out[c] = std::min(std::max(out[c], p.float_act.min), p.float_act.max);
        }
        if (residual) {
          const int64_t o = (r * p.output_w + x0) * C;
          ApplyFloatResidual(*residual, o, output + o, (int64_t)(x1 - x0) * C, path);
        }
        continue;
      }
      // Border columns one by one; the interior [xa, xb) as one run sharing its tap list.
      const int ia = std::max(x0, xa), ib = std::min(x1, xb);
      for (int ox = x0; ox < x1; ++ox) {
        if (ox == ia && ia < ib) {
          const int n = gather(ia);
          run_row(n, in_ptr, (int64_t)p.stride_w * C, tap_index, out_row + (int64_t)ia * C, ib - ia);
          ox = ib - 1;
          continue;
        }
        const int n = gather(ox);
        run_row(n, in_ptr, 0, tap_index, out_row + (int64_t)ox * C, 1);
      }
      if (residual) {  // the fused ADD over the row, still in cache
        const int64_t o = (r * p.output_w + x0) * C;
        ApplyFloatResidual(*residual, o, output + o, (int64_t)(x1 - x0) * C, path);
      }
    }
  });
}

}  // namespace qat::kernels::optimized
