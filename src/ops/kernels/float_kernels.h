// Float training kernels used by the graph engine (src/ops): convolution (regular and depthwise),
// matmul, pooling and batch norm, forward and backward. TF layouts throughout: activations NHWC,
// conv filter HWIO [KH,KW,Cin,Cout], depthwise filter [KH,KW,C,M] (output channel c*M+m).
// All buffers are dense (no strides) except matmul's leading dimensions. Outputs are overwritten
// (never accumulated into), except matmul with beta != 0. Kernels use qat::num_threads() threads
// and cache their oneDNN primitives / plans per geometry, so calling them every training step
// allocates nothing after the first call with a given shape. Thread-safe.
#pragma once
#include <cstdint>

namespace qat::ops::kernels {

struct ConvGeom {
  int N, H, W, C;
  int KH, KW, O;
  int stride_h, stride_w, dil_h, dil_w;  // dilation 1 = dense
  int pad_top, pad_left, pad_bottom, pad_right;
  int OH, OW;
  bool depthwise; /* O = C*M when depthwise */
};

// y[N,OH,OW,O] = conv(x[N,H,W,C], w) (+ bias[O]).
void conv2d_forward(const ConvGeom&, const float* x, const float* w, const float* bias_or_null, float* y);
// 3x3 stride-1 convolutions with channel counts in multiples of 8 use a Winograd F(2x2,3x3)
// kernel for forward and backward data when the CPU has AVX2 (2.25x fewer multiplies, results
// within ~1e-6 relative of direct convolution). On by default unless QAT_WINOGRAD=0 is set.
void set_conv_winograd(bool enabled);
bool conv_winograd_enabled();
// dx[N,H,W,C] = d(loss)/dx given dy[N,OH,OW,O].
void conv2d_backward_data(const ConvGeom&, const float* dy, const float* w, float* dx);
// dw (filter layout as above) and, when non-null, dbias[O] = sum of dy over N,OH,OW.
void conv2d_backward_weights(const ConvGeom&, const float* x, const float* dy, float* dw, float* dbias_or_null);

// C[M,N] = alpha * op(A) * op(B) + beta * C, row-major. op(A) is M x K (A is K x M, lda >= M,
// when trans_a), op(B) is K x N (B is N x K, ldb >= K, when trans_b). beta == 0 ignores C's
// previous contents (NaNs included).
void matmul(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
            const float* B, int ldb, float beta, float* C, int ldc);

struct PoolGeom {
  int N, H, W, C, KH, KW, stride_h, stride_w, pad_top, pad_left, pad_bottom, pad_right, OH, OW;
};
// argmax (optional) receives, per output element, the flat NHWC index into x of the maximum
// (first one on ties); max_pool_backward scatters dy there (dx is overwritten). A window lying
// entirely in padding (impossible with TF SAME / VALID) gives y = 0 and argmax -1.
void max_pool_forward(const PoolGeom&, const float* x, float* y, int32_t* argmax_or_null);
void max_pool_backward(const PoolGeom&, const float* dy, const int32_t* argmax, float* dx);
void avg_pool_forward(const PoolGeom&, const float* x, float* y);  // TF: count excludes padding
void avg_pool_backward(const PoolGeom&, const float* dy, float* dx);

// Batch norm over rows = N*H*W per channel C (x is [rows, C]); training mode writes batch mean /
// biased var (divide by rows). y = (x - mean) / sqrt(var + eps) * gamma + beta.
void batch_norm_forward_training(int64_t rows, int C, const float* x, const float* gamma, const float* beta,
                                 float eps, float* y, float* batch_mean, float* batch_var);
// dx, dgamma[C], dbeta[C] for the training-mode forward above (batch statistics depend on x).
void batch_norm_backward(int64_t rows, int C, const float* x, const float* dy, const float* gamma,
                         const float* batch_mean, const float* batch_var, float eps, float* dx, float* dgamma,
                         float* dbeta);

// ---- Fused variants (optional; same math as chaining the kernels above, fewer memory passes) ----
// A training step of SmallCNN spends more time streaming activations through BN, ReLU and
// pooling than computing them; these fuse the elementwise / pooling tail of a conv.
enum class Act : int { kNone = 0, kRelu = 1, kRelu6 = 2 };

// y = act(batch_norm(x)), batch statistics as batch_norm_forward_training.
void batch_norm_act_forward_training(int64_t rows, int C, const float* x, const float* gamma, const float* beta,
                                     float eps, Act act, float* y, float* batch_mean, float* batch_var);
// dy is the gradient w.r.t. the activation output y (the forward's y, used for the act mask:
// ReLU passes where y > 0, ReLU6 where 0 < y < 6); dx, dgamma, dbeta as batch_norm_backward.
// y is ignored (may be null) for Act::kNone.
void batch_norm_act_backward(int64_t rows, int C, const float* x, const float* y, const float* dy,
                             const float* gamma, const float* batch_mean, const float* batch_var, float eps, Act act,
                             float* dx, float* dgamma, float* dbeta);

// q = max_pool(act(batch_norm(x))) without materialising act(batch_norm(x)): x is [N,H,W,C]
// (geometry pg), q is [N,OH,OW,C], argmax as max_pool_forward (indexes into x). When the
// activated values tie (e.g. ReLU of negatives), argmax may name another element of the window
// than max_pool_forward would; the gradient is identical (the act mask is 0 there).
void batch_norm_act_max_pool_forward_training(const PoolGeom& pg, const float* x, const float* gamma,
                                              const float* beta, float eps, Act act, float* q, int32_t* argmax,
                                              float* batch_mean, float* batch_var);
// Backward of the above given dq (gradient w.r.t. q) and the forward's q and argmax: dx [N,H,W,C],
// dgamma, dbeta.
void batch_norm_act_max_pool_backward(const PoolGeom& pg, const float* x, const float* q, const float* dq,
                                      const int32_t* argmax, const float* gamma, const float* batch_mean,
                                      const float* batch_var, float eps, Act act, float* dx, float* dgamma,
                                      float* dbeta);

}  // namespace qat::ops::kernels
