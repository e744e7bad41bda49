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

namespace {

// The row engine of one call: output rows of batch b, input rows through a DwRowSource
// (depthwise_float.h), columns [x0, x1). Both DepthwiseConvFloat and the expand + depthwise
// fusion (ExpandDepthwiseFloat) run it, so a fused layer computes every output with the same taps
// in the same order.
class DwRows {
 public:
  DwRows(const PackedDepthwiseFloat& pd, KernelPath path, FloatMath math) : pd_(pd), p_(pd.p) {
    fused_ = FusesOn(path, math);
    path_ = path;
    row_fn_ = fused_ ? RowPortable<true> : RowPortable<false>;
#if defined(__x86_64__) || defined(_M_X64)
    if (path == KernelPath::kAvx512Vnni)
      row512_ = Float512EmulatedForTests() ? x86::emulated::DepthwiseFloatRowAvx512 : x86::DepthwiseFloatRowAvx512;
    else if (path != KernelPath::kPortable)
      row_fn_ = fused_ ? x86::DepthwiseFloatRowFusedAvx2 : x86::DepthwiseFloatRowAvx2;
#endif
    // Output columns whose taps all lie inside the input: [xa, xb).
    const int span_w = (p_.filter_w - 1) * p_.dilation_w;
    while (xa_ < p_.output_w && xa_ * p_.stride_w - p_.pad_left < 0) ++xa_;
    xb_ = xa_;
    while (xb_ < p_.output_w && xb_ * p_.stride_w - p_.pad_left + span_w < p_.input_w) ++xb_;
  }

  // Output row oy of batch b, columns [x0, x1), into out_row (the row's column 0); a fused ADD
  // (residual, at flat output offset `res_off` of the row's column 0) over them after.
  void Row(const DwRowSource& src, int b, int oy, int x0, int x1, float* out_row, const FloatResidual* residual,
           int64_t res_off) const {
    const reference::ConvParams& p = p_;
    const int C = p.output_c;
    const int iy0 = oy * p.stride_h - p.pad_top;
    const float* in_ptr[kMaxTaps];
    int tap_index[kMaxTaps];
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
          in_ptr[n] = src.Row(b, iy) + (int64_t)ix * C;
          tap_index[n++] = fy * p.filter_w + fx;
        }
      }
      return n;
    };
    if (p.filter_h * p.filter_w > kMaxTaps) {
      // Very large filters: the reference loop, tap by tap.
      for (int ox = x0; ox < x1; ++ox) {
        const int ix0 = ox * p.stride_w - p.pad_left;
        float* out = out_row + (int64_t)ox * C;
        for (int c = 0; c < C; ++c) out[c] = pd_.bias[c];
        for (int fx = 0; fx < p.filter_w; ++fx) {
          const int ix = ix0 + fx * p.dilation_w;
          if (ix < 0 || ix >= p.input_w) continue;
          for (int fy = 0; fy < p.filter_h; ++fy) {
            const int iy = iy0 + fy * p.dilation_h;
            if (iy < 0 || iy >= p.input_h) continue;
            const float* x = src.Row(b, iy) + (int64_t)ix * C;
            const float* w = pd_.weights.data() + (int64_t)(fy * p.filter_w + fx) * pd_.c_pad;
            if (fused_)
              for (int c = 0; c < C; ++c) out[c] = std::fma(w[c], x[c], out[c]);
            else
              for (int c = 0; c < C; ++c) out[c] += w[c] * x[c];
          }
        }
        for (int c = 0; c < C; ++c) out[c] = std::min(std::max(out[c], p.float_act.min), p.float_act.max);
      }
    } else {
      // Border columns one by one; the interior [xa, xb) as one run sharing its tap list.
      const int ia = std::max(x0, xa_), ib = std::min(x1, xb_);
      for (int ox = x0; ox < x1; ++ox) {
        if (ox == ia && ia < ib) {
          const int n = gather(ia);
          RunRow(n, in_ptr, (int64_t)p.stride_w * C, tap_index, out_row + (int64_t)ia * C, ib - ia);
          ox = ib - 1;
          continue;
        }
        const int n = gather(ox);
        RunRow(n, in_ptr, 0, tap_index, out_row + (int64_t)ox * C, 1);
      }
    }
    if (residual)  // the fused ADD over the row, still in cache
      ApplyFloatResidual(*residual, res_off + (int64_t)x0 * C, out_row + (int64_t)x0 * C, (int64_t)(x1 - x0) * C,
                         path_);
  }

 private:
  void RunRow(int n, const float* const* in, int64_t ps, const int* ti, float* out, int npix) const {
    const reference::ConvParams& p = p_;
    if (row512_)
      row512_(fused_, p.output_c, n, in, ps, ti, pd_.weights.data(), pd_.c_pad, pd_.bias.data(), out, npix,
              p.float_act.min, p.float_act.max);
    else
      row_fn_(p.output_c, n, in, ps, ti, pd_.weights.data(), pd_.c_pad, pd_.bias.data(), out, npix, p.float_act.min,
              p.float_act.max);
  }

  const PackedDepthwiseFloat& pd_;
  const reference::ConvParams& p_;
  bool fused_ = false;
  KernelPath path_ = KernelPath::kPortable;
  RowFn row_fn_ = nullptr;
  Row512Fn row512_ = nullptr;
  int xa_ = 0, xb_ = 0;
};

}  // namespace

void DepthwiseConvFloat(const PackedDepthwiseFloat& pd, const float* input, float* output, ThreadPool* pool,
                        KernelPath path, const FloatResidual* residual, FloatMath math) {
  const reference::ConvParams& p = pd.p;
  const int C = p.output_c;
  const int64_t rows = (int64_t)p.batches * p.output_h;
  if (rows == 0 || p.output_w == 0) return;
  const DwRows engine(pd, path, math);
  const DwRowSource src = DwRowSource::Tensor(input, p);
  const int threads = ParallelThreads(pool);
  const bool by_rows = rows >= threads;
  const int tasks = (int)std::min<int64_t>(threads, by_rows ? rows : p.output_w);
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
    for (int64_t r = r0; r < r1; ++r)
      engine.Row(src, (int)(r / p.output_h), (int)(r % p.output_h), x0, x1, output + r * p.output_w * C, residual,
                 r * p.output_w * C);
  });
}

void DepthwiseConvFloatRows(const PackedDepthwiseFloat& pd, const DwRowSource& src, int b, int oy0, int oy1,
                            float* output, KernelPath path, FloatMath math) {
  const reference::ConvParams& p = pd.p;
  const DwRows engine(pd, path, math);
  for (int oy = oy0; oy < oy1; ++oy)
    engine.Row(src, b, oy, 0, p.output_w, output + (int64_t)(oy - oy0) * p.output_w * p.output_c, nullptr, 0);
}

}  // namespace qat::kernels::optimized
