// Optimised Convolution2DTransposeBias (see transpose_conv_float.h). Multiply then add, never
// fused (contraction off: the reference's rounding).
#pragma GCC optimize("fp-contract=off")
#include "kernels/optimized/transpose_conv_float.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/optimized/parallel.h"
#include "kernels/reference/conv.h"
#include "kernels/reference/transpose_conv_bias.h"
#include "kernels/x86/float_x86.h"

namespace qat::kernels::optimized {

namespace {
constexpr int kLanes = 8;

bool NoOverlap(const reference::ConvParams& p) { return p.filter_h <= p.stride_h && p.filter_w <= p.stride_w; }

// The transposed row [ic][x] and one output column set (W8 floats).
int64_t RowFloats(const reference::ConvParams& p) {
  return (int64_t)(p.input_c + 1) * ((p.input_w + kLanes - 1) / kLanes * kLanes);
}

// col[x] = b + xt[0][x] w[0] + ... + xt[ic-1][x] w[ic-1] (in order) for x < n (a multiple of 8).
void DotColumns(const float* xt, int64_t ld, int ic, const float* w, float b, int64_t n, float* col,
                KernelPath path) {
#if defined(__x86_64__) || defined(_M_X64)
  if (path != KernelPath::kPortable) return x86::DotColumnsAvx2(xt, ld, ic, w, b, n, col);
#endif
  for (int64_t x = 0; x < n; ++x) {
    float acc = b;
    for (int k = 0; k < ic; ++k) acc += xt[k * ld + x] * w[k];
    col[x] = acc;
  }
}
}  // namespace

size_t TransposeConvFloatScratchBytes(const reference::ConvParams& p, const ThreadPool* pool) {
  if (!NoOverlap(p)) return (size_t)p.filter_h * p.filter_w * p.input_c * p.output_c * sizeof(float);
  return (size_t)ParallelThreads(pool) * RowFloats(p) * sizeof(float);
}

void TransposeConvBiasFloat(const reference::ConvParams& p, const float* input, const float* filter,
                            const float* bias, float* output, void* scratch, ThreadPool* pool, KernelPath path) {
  std::vector<float> owned;
  if (!scratch) {
    owned.resize(TransposeConvFloatScratchBytes(p, pool) / sizeof(float) + 1);
    scratch = owned.data();
  }
  if (!NoOverlap(p)) {
    auto* packed = static_cast<float*>(scratch);
    reference::PackConvFilterHWIO(p, filter, packed);
    reference::TransposeConvBiasFloatHWIO(p, input, packed, bias, output);
    return;
  }
  const int IC = p.input_c, OC = p.output_c, W = p.input_w;
  const int W8 = (W + kLanes - 1) / kLanes * kLanes;
  const int64_t out_row = (int64_t)p.output_w * OC;
  // Pixels no tap reaches keep the bias. With filter == stride the taps of consecutive input
  // pixels tile [-pad, input * stride - pad) without gaps, so when that covers the output (MediaPipe's
  // 2x2 / stride-2 upsampling heads) every output is written below and the fill is skipped (it was
  // a scalar pass over the whole output: selfie_segmentation's 256x256x1 head spent a third of its
  // time there).
  const bool covered = p.filter_h == p.stride_h && p.filter_w == p.stride_w &&
                       p.output_h <= (int64_t)p.input_h * p.stride_h - p.pad_top &&
                       p.output_w <= (int64_t)p.input_w * p.stride_w - p.pad_left;
  if (!covered) {
    const int64_t out_pixels = (int64_t)p.batches * p.output_h * p.output_w;
    ParallelFor(pool, out_pixels, 4096, [&](int64_t b0, int64_t b1) {
      if (!bias) return (void)std::fill(output + b0 * OC, output + b1 * OC, 0.f);
      for (int64_t i = b0; i < b1; ++i) std::memcpy(output + i * OC, bias, sizeof(float) * OC);
    });
  }
  const int threads = ParallelThreads(pool);
  const int64_t rows = (int64_t)p.batches * p.input_h;
  float* xt_all = static_cast<float*>(scratch);
  ParallelTasks(pool, threads, [&](int task) {
    float* xt = xt_all + (size_t)task * RowFloats(p);  // [ic][x], x padded to W8 with zeros
    float* col = xt + (size_t)IC * W8;
    const int64_t r0 = rows * task / threads, r1 = rows * (task + 1) / threads;
    for (int64_t r = r0; r < r1; ++r) {
      const int b = (int)(r / p.input_h), iy = (int)(r % p.input_h);
      const float* in = input + r * W * IC;
#if defined(__x86_64__) || defined(_M_X64)
      if (path != KernelPath::kPortable) {
        x86::TransposeRowAvx2(in, W, IC, xt, W8);
      } else
#endif
      {
        for (int ic = 0; ic < IC; ++ic)
          for (int x = 0; x < W; ++x) xt[(size_t)ic * W8 + x] = in[(int64_t)x * IC + ic];
      }
      for (int ic = 0; ic < IC; ++ic)
        for (int x = W; x < W8; ++x) xt[(size_t)ic * W8 + x] = 0.f;
      for (int fy = 0; fy < p.filter_h; ++fy) {
        const int oy = iy * p.stride_h - p.pad_top + fy;
        if (oy < 0 || oy >= p.output_h) continue;
        float* out_y = output + ((int64_t)b * p.output_h + oy) * out_row;
        for (int fx = 0; fx < p.filter_w; ++fx)
          for (int oc = 0; oc < OC; ++oc) {
            const float* w = filter + (((int64_t)oc * p.filter_h + fy) * p.filter_w + fx) * IC;
            const float b0 = bias ? bias[oc] : 0.f;
            DotColumns(xt, W8, IC, w, b0, W8, col, path);
            for (int x = 0; x < W; ++x) {
              const int ox = x * p.stride_w - p.pad_left + fx;
              if (ox >= 0 && ox < p.output_w) out_y[(int64_t)ox * OC + oc] = col[x];
            }
          }
      }
    }
  });
}

}  // namespace qat::kernels::optimized
