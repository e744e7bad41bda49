// AVX2 float32 micro-kernels of kernels/optimized/conv_float.h and depthwise_float.h
// (x86/float_avx2.cpp, compiled with -mavx2 -mfma, but no FMA is used: one multiply and one add
// per tap, the reference's rounding).
#pragma once
#include <cstdint>

namespace qat::kernels::x86 {

// c[r][0..nr) = clamp(bias[0..16) + sum_k a[r][k'] * b[k][0..16)) for r < mr (1..6), nr 1..16,
// the sum in k order, with k' = k, or k' = offsets[k] when offsets is not null (a convolution
// window read in place). b: one packed panel [K][16]; c row r at c + r * ldc. prefetch_b:
// software-prefetch the panel ahead of its use (same results; for the first tile to read a panel
// that is not in cache).
void FloatGemmAvx2(int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets, const float* b,
                   const float* bias, float* c, int64_t ldc, float act_min, float act_max, bool prefetch_b);
// ... and with one FMA per tap (FloatMath::kFused's values; so are every *FusedAvx2 below).
void FloatGemmFusedAvx2(int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets, const float* b,
                        const float* bias, float* c, int64_t ldc, float act_min, float act_max, bool prefetch_b);

// FloatGemmAvx2 over `rows` consecutive rows (any count) whose inputs are rows of one matrix, row
// r at a + r * lda (1x1 convolutions without padding at stride 1, FULLY_CONNECTED): the 6-row tiles
// in one call, with the tile body inlined (no call, row table or tile-size switch per tile).
void FloatGemmRowsAvx2(int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b, const float* bias,
                       float* c, int64_t ldc, float act_min, float act_max, bool prefetch_b);
void FloatGemmRowsFusedAvx2(int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b,
                            const float* bias, float* c, int64_t ldc, float act_min, float act_max, bool prefetch_b);
// The same with FloatGemm8Avx2's 12 x 8 tiles (panels with at most 8 live channels, nr <= 8).
void FloatGemm8RowsAvx2(int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b,
                        const float* bias, float* c, int64_t ldc, float act_min, float act_max);

// npix output pixels of a depthwise conv with depth multiplier 1, C channels, that share their
// tap list: pixel i (i < npix) is
//   out[i * C + c] = clamp(bias[c] + sum_t w[t][c] * in[t][i * pixel_stride + c]) over t < taps
// in order, taps <= 64, with w[t] = weights + tap_index[t] * c_stride (c_stride a multiple of 8, weights and
// bias 32-byte aligned and readable up to the next multiple of 8 channels).
void DepthwiseFloatRowAvx2(int C, int taps, const float* const* in, int64_t pixel_stride, const int* tap_index,
                           const float* weights, int64_t c_stride, const float* bias, float* out, int npix,
                           float act_min, float act_max);
void DepthwiseFloatRowFusedAvx2(int C, int taps, const float* const* in, int64_t pixel_stride, const int* tap_index,
                                const float* weights, int64_t c_stride, const float* bias, float* out, int npix,
                                float act_min, float act_max);

// n outputs out[i] = clamp(a[i * sa] op b[i * sb]) (op 0: +, 1: -, 2: *; sa, sb: 0 or 1), the clamp
// std::min(std::max(v, lo), hi) (NaN kept), as the reference's float ADD / SUB / MUL.
void BinaryFloatRowAvx2(int op, const float* a, int sa, const float* b, int sb, float* out, int64_t n, float lo,
                        float hi);

// rows x L outputs (L a multiple of 8) of BinaryFloatRowAvx2's op where one operand is a single row
// of L values repeated for every row (a per-channel broadcast, e.g. MUL of [1,H,W,C] by [C]):
// a_repeats ? a[j] op b[r * L + j] : a[r * L + j] op b[j], in that operand order.
void BinaryFloatRowsRepeatAvx2(int op, const float* a, const float* b, bool a_repeats, float* out, int64_t rows,
                               int L, float lo, float hi);

// t[c * ld + x] = in[x * C + c] for x < W, c < C: one NHWC row to channel rows (8 x 8 blocks in
// registers when C is a multiple of 8, element by element otherwise and for the last W % 8 pixels).
void TransposeRowAvx2(const float* in, int W, int C, float* t, int64_t ld);

// out[i] = std::min(std::max(in[i], lo), hi) for i < n (NaN kept): float RELU / RELU6 / RELU_N1_TO_1.
void ClampRowAvx2(const float* in, float* out, int64_t n, float lo, float hi);

// FloatGemmAvx2 for up to 12 rows (mr 1..12) and the first nr <= 8 channels of the panel b (still
// [K][16]): panels with at most 8 live channels.
void FloatGemm8Avx2(int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets, const float* b,
                    const float* bias, float* c, int64_t ldc, float act_min, float act_max, bool prefetch_b);
// FloatGemm8Avx2 and FloatGemm8RowsAvx2 with one FMA per tap (also the AVX-512 path's tiles for
// panels with at most 8 live channels).
void FloatGemm8FusedAvx2(int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets, const float* b,
                         const float* bias, float* c, int64_t ldc, float act_min, float act_max, bool prefetch_b);
void FloatGemm8RowsFusedAvx2(int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b,
                             const float* bias, float* c, int64_t ldc, float act_min, float act_max);

// One output row of the float RESIZE_BILINEAR (optimized/resize_bilinear_float.h): input rows r0
// (y0) and r1 (y1), per output column x the columns x0[x], x1[x] and weight wx[x].
void ResizeBilinearRowAvx2(const float* r0, const float* r1, int C, int ow, const int* x0, const int* x1,
                           const float* wx, float wy, float* out);

// out[i] = x * std::min(std::max(x + 3, 0), 6) / 6, x = in[i] (float HARD_SWISH).
void HardSwishRowAvx2(const float* in, float* out, int64_t n);

// out[j] = (0 + in[0][j] + in[1][j] + ... + in[rows - 1][j]) / n for j < inner, in[r] = in + r * inner
// (float MEAN over a contiguous block of reduced axes).
void MeanRowsAvx2(const float* in, int64_t rows, int64_t inner, float n, float* out);

// out[x] = b + xt[0][x] * w[0] + xt[1][x] * w[1] + ... + xt[ic - 1][x] * w[ic - 1] for x < n, in that
// order (n a multiple of 8; xt[k] = xt + k * ld): the transposed-conv columns
// (optimized/transpose_conv_float.h).
void DotColumnsAvx2(const float* xt, int64_t ld, int ic, const float* w, float b, int64_t n, float* out);

// One output row of a narrow float conv (optimized/conv_float.h): out[x * OC + oc] =
// clamp(bias[oc] + sum over (fy, fx, ic) in that order of rows[fy][ic * wp + x + fx] *
// w[k * w_stride + oc]), k = (fy * fw + fx) * C + ic, for x < OW; 8 pixels per vector. fused: one
// FMA per tap (the FloatMath::kFused value) instead of a multiply and an add.
void NarrowConvRowAvx2(bool fused, const float* const* rows, int64_t wp, int C, int fh, int fw, const float* w,
                       int64_t w_stride, const float* bias, int OC, int OW, float* out, float lo, float hi);


// AVX-512 twins (x86/float_avx512vnni.cpp; run on CPUs whose active ISA is avx512vnni). fused:
// acc = fma(w, x, acc) per tap (one rounding, std::fma's value) instead of a multiply then an add
// (the reference's value); the tap order is the same either way.
// FloatGemmAvx2 for up to 12 rows (mr 1..12) and up to two panels: nr 1..32 live channels, channels
// 16..31 from the panel at b + panel_stride (read only when nr > 16); bias readable for 16 or 32
// channels accordingly. prefetch_b: as FloatGemmAvx2's (two-panel tiles only).
void FloatGemmAvx512(bool fused, int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets,
                     const float* b, int64_t panel_stride, const float* bias, float* c, int64_t ldc, float act_min,
                     float act_max, bool prefetch_b);
// FloatGemmRowsAvx2's AVX-512 twin: 12-row tiles over `rows` rows a + r * lda, one or two panels.
void FloatGemmRowsAvx512(bool fused, int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b,
                         int64_t panel_stride, const float* bias, float* c, int64_t ldc, float act_min, float act_max,
                         bool prefetch_b);
// DepthwiseFloatRowAvx2's AVX-512 twin: 16-channel vectors, weights and bias 64-byte aligned and
// readable up to the next multiple of 16 channels (c_stride a multiple of 16).
void DepthwiseFloatRowAvx512(bool fused, int C, int taps, const float* const* in, int64_t pixel_stride,
                             const int* tap_index, const float* weights, int64_t c_stride, const float* bias,
                             float* out, int npix, float act_min, float act_max);

// The same three compiled on emulated AVX-512 intrinsics (x86/float_avx512_emulated_avx2.cpp, AVX2
// flags): tests only, on CPUs without AVX-512.
namespace emulated {
void FloatGemmAvx512(bool fused, int mr, int nr, int64_t K, const float* const* a, const int32_t* offsets,
                     const float* b, int64_t panel_stride, const float* bias, float* c, int64_t ldc, float act_min,
                     float act_max, bool prefetch_b);
void FloatGemmRowsAvx512(bool fused, int64_t rows, int nr, int64_t K, const float* a, int64_t lda, const float* b,
                         int64_t panel_stride, const float* bias, float* c, int64_t ldc, float act_min, float act_max,
                         bool prefetch_b);
void DepthwiseFloatRowAvx512(bool fused, int C, int taps, const float* const* in, int64_t pixel_stride,
                             const int* tap_index, const float* weights, int64_t c_stride, const float* bias,
                             float* out, int npix, float act_min, float act_max);
}  // namespace emulated

}  // namespace qat::kernels::x86
