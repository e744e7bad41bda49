// Winograd F(2x2, 3x3) convolution, AVX2 + FMA (see winograd.h). Y = A^T [ (G g G^T) . (B^T d B) ] A
// per 2x2 output tile: 16 multiplies per tile and channel pair instead of 36, i.e. 2.25x fewer
// FLOPs than direct convolution, paid for with three cheap linear transforms.
//
// Data flow per block of kTile tiles (sized so that one thread's buffers stay in L2):
//   input transform   x  -> V[16][kTile][IC]       (8 channels per vector)
//   16 GEMMs          V[k] x U[k][IC][OC] -> M[16][kTile][OC]   (6x16 register-blocked FMA kernel)
//   output transform  M  -> y (+ bias)
// U (the transformed filter) is computed once per call, since SGD changes the filter every step.
//
// This translation unit is compiled for AVX2 (pragma below) and must only be entered after a
// run-time check; it includes no C++ library headers so that no inline library function compiled
// for AVX2 can be picked by the linker for the rest of the program.
#pragma GCC target("avx2,fma")
#include <immintrin.h>
#include <omp.h>

#include "ops/kernels/winograd.h"

namespace qat::ops::kernels::detail {
namespace {

constexpr int kTile = 36;  // tiles per block: a multiple of the 6-row micro-kernel

inline int tiles_h(const WinogradConv& p) { return (p.OH + 1) / 2; }
inline int tiles_w(const WinogradConv& p) { return (p.OW + 1) / 2; }
inline size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }
inline size_t filter_floats(const WinogradConv& p) { return round8((size_t)16 * p.IC * p.OC); }
inline size_t thread_floats(const WinogradConv& p) { return round8((size_t)16 * kTile * (p.IC + p.OC)); }

// U[k][ic][oc] = (G g G^T)[k], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
void transform_filter(const WinogradConv& p, const float* w, float* U) {
  const int IC = p.IC, OC = p.OC;
  for (int ic = 0; ic < IC; ++ic)
    for (int oc = 0; oc < OC; ++oc) {
      float g[3][3];
      for (int kh = 0; kh < 3; ++kh)
        for (int kw = 0; kw < 3; ++kw)
          g[kh][kw] = p.flip ? w[(((size_t)(2 - kh) * 3 + (2 - kw)) * OC + oc) * IC + ic]
                             : w[(((size_t)kh * 3 + kw) * IC + ic) * OC + oc];
      float t[4][3];
      for (int j = 0; j < 3; ++j) {
        t[0][j] = g[0][j];
        t[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);
        t[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);
        t[3][j] = g[2][j];
      }
      for (int i = 0; i < 4; ++i) {
        float u[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
        for (int j = 0; j < 4; ++j) U[((size_t)(i * 4 + j) * IC + ic) * OC + oc] = u[j];
      }
    }
}

// V[k][t][ic] = (B^T d B)[k] for the tiles [t0, t0 + nt), B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
void transform_input(const WinogradConv& p, const float* x, int64_t t0, int nt, float* V) {
  const int TH = tiles_h(p), TW = tiles_w(p), IC = p.IC;
  const size_t kstride = (size_t)kTile * IC;
  for (int t = 0; t < nt; ++t) {
    int64_t tile = t0 + t;
    int64_t n = tile / (TH * TW);
    int rem = (int)(tile % (TH * TW));
    int h0 = (rem / TW) * 2 - p.pad_top, w0 = (rem % TW) * 2 - p.pad_left;
    bool inside = h0 >= 0 && w0 >= 0 && h0 + 4 <= p.IH && w0 + 4 <= p.IW;
    const float* base = x + ((n * p.IH + h0) * p.IW + w0) * (int64_t)IC;
    for (int c = 0; c < IC; c += 8) {
      __m256 d[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) {
          if (inside || (h0 + i >= 0 && h0 + i < p.IH && w0 + j >= 0 && w0 + j < p.IW))
            d[i][j] = _mm256_loadu_ps(base + ((int64_t)i * p.IW + j) * IC + c);
          else
            d[i][j] = _mm256_setzero_ps();
        }
      __m256 r[4][4];
      for (int j = 0; j < 4; ++j) {
        r[0][j] = _mm256_sub_ps(d[0][j], d[2][j]);
        r[1][j] = _mm256_add_ps(d[1][j], d[2][j]);
        r[2][j] = _mm256_sub_ps(d[2][j], d[1][j]);
        r[3][j] = _mm256_sub_ps(d[1][j], d[3][j]);
      }
      float* out = V + (size_t)t * IC + c;
      for (int i = 0; i < 4; ++i) {
        _mm256_storeu_ps(out + (i * 4 + 0) * kstride, _mm256_sub_ps(r[i][0], r[i][2]));
        _mm256_storeu_ps(out + (i * 4 + 1) * kstride, _mm256_add_ps(r[i][1], r[i][2]));
        _mm256_storeu_ps(out + (i * 4 + 2) * kstride, _mm256_sub_ps(r[i][2], r[i][1]));
        _mm256_storeu_ps(out + (i * 4 + 3) * kstride, _mm256_sub_ps(r[i][1], r[i][3]));
      }
    }
  }
}

// C[R][16 or 8] = A[R][K] x B[K][ldb] (columns j0..), A rows lda apart, C rows ldc apart.
template <int R, int NV>
inline void micro_kernel(int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  __m256 acc[R][NV];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
  for (int k = 0; k < K; ++k) {
    __m256 b[NV];
    for (int v = 0; v < NV; ++v) b[v] = _mm256_loadu_ps(B + (size_t)k * ldb + 8 * v);
    for (int r = 0; r < R; ++r) {
      __m256 a = _mm256_broadcast_ss(A + (size_t)r * lda + k);
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(a, b[v], acc[r][v]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < NV; ++v) _mm256_storeu_ps(C + (size_t)r * ldc + 8 * v, acc[r][v]);
}

// The main 6x16 tile, with named accumulators: written as arrays in loops, GCC kept a copy of the
// accumulators on the stack and stored them on every k (3x slower).
inline void kernel_6x16(int K, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00,
         c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const float* a0 = A;
  const float* a1 = A + lda;
  const float* a2 = A + 2 * lda;
  const float* a3 = A + 3 * lda;
  const float* a4 = A + 4 * lda;
  const float* a5 = A + 5 * lda;
  for (int k = 0; k < K; ++k) {
    const __m256 b0 = _mm256_loadu_ps(B + (size_t)k * ldb), b1 = _mm256_loadu_ps(B + (size_t)k * ldb + 8);
    __m256 a = _mm256_broadcast_ss(a0 + k);
    c00 = _mm256_fmadd_ps(a, b0, c00), c01 = _mm256_fmadd_ps(a, b1, c01);
    a = _mm256_broadcast_ss(a1 + k);
    c10 = _mm256_fmadd_ps(a, b0, c10), c11 = _mm256_fmadd_ps(a, b1, c11);
    a = _mm256_broadcast_ss(a2 + k);
    c20 = _mm256_fmadd_ps(a, b0, c20), c21 = _mm256_fmadd_ps(a, b1, c21);
    a = _mm256_broadcast_ss(a3 + k);
    c30 = _mm256_fmadd_ps(a, b0, c30), c31 = _mm256_fmadd_ps(a, b1, c31);
    a = _mm256_broadcast_ss(a4 + k);
    c40 = _mm256_fmadd_ps(a, b0, c40), c41 = _mm256_fmadd_ps(a, b1, c41);
    a = _mm256_broadcast_ss(a5 + k);
    c50 = _mm256_fmadd_ps(a, b0, c50), c51 = _mm256_fmadd_ps(a, b1, c51);
  }
  _mm256_storeu_ps(C, c00), _mm256_storeu_ps(C + 8, c01);
  _mm256_storeu_ps(C + ldc, c10), _mm256_storeu_ps(C + ldc + 8, c11);
  _mm256_storeu_ps(C + 2 * ldc, c20), _mm256_storeu_ps(C + 2 * ldc + 8, c21);
  _mm256_storeu_ps(C + 3 * ldc, c30), _mm256_storeu_ps(C + 3 * ldc + 8, c31);
  _mm256_storeu_ps(C + 4 * ldc, c40), _mm256_storeu_ps(C + 4 * ldc + 8, c41);
  _mm256_storeu_ps(C + 5 * ldc, c50), _mm256_storeu_ps(C + 5 * ldc + 8, c51);
}

template <int R>
inline void row_block(int K, int N, const float* A, const float* B, float* C) {
  int j = 0;
  for (; j + 16 <= N; j += 16) {
    if constexpr (R == 6)
      kernel_6x16(K, A, K, B + j, N, C + j, N);
    else
      micro_kernel<R, 2>(K, A, K, B + j, N, C + j, N);
  }
  if (j < N) micro_kernel<R, 1>(K, A, K, B + j, N, C + j, N);
}

// C[nt][N] = A[nt][K] x B[K][N] (all dense).
void gemm(int nt, int K, int N, const float* A, const float* B, float* C) {
  int r = 0;
  for (; r + 6 <= nt; r += 6) row_block<6>(K, N, A + (size_t)r * K, B, C + (size_t)r * N);
  const float* a = A + (size_t)r * K;
  float* c = C + (size_t)r * N;
  switch (nt - r) {
    case 5: row_block<5>(K, N, a, B, c); break;
    case 4: row_block<4>(K, N, a, B, c); break;
    case 3: row_block<3>(K, N, a, B, c); break;
    case 2: row_block<2>(K, N, a, B, c); break;
    case 1: row_block<1>(K, N, a, B, c); break;
    default: break;
  }
}

// y tile = A^T m A (+ bias), A^T = [1 1 1 0; 0 1 -1 -1], clipped to the output.
void transform_output(const WinogradConv& p, const float* M, int64_t t0, int nt, const float* bias, float* y) {
  const int TH = tiles_h(p), TW = tiles_w(p), OC = p.OC;
  const size_t kstride = (size_t)kTile * OC;
  for (int t = 0; t < nt; ++t) {
    int64_t tile = t0 + t;
    int64_t n = tile / (TH * TW);
    int rem = (int)(tile % (TH * TW));
    int oh = (rem / TW) * 2, ow = (rem % TW) * 2;
    bool full_h = oh + 1 < p.OH, full_w = ow + 1 < p.OW;
    float* base = y + ((n * p.OH + oh) * p.OW + ow) * (int64_t)OC;
    const float* in = M + (size_t)t * OC;
    for (int c = 0; c < OC; c += 8) {
      __m256 m[4][4];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) m[i][j] = _mm256_loadu_ps(in + (i * 4 + j) * kstride + c);
      __m256 s0[4], s1[4];
      for (int j = 0; j < 4; ++j) {
        s0[j] = _mm256_add_ps(_mm256_add_ps(m[0][j], m[1][j]), m[2][j]);
        s1[j] = _mm256_sub_ps(_mm256_sub_ps(m[1][j], m[2][j]), m[3][j]);
      }
      __m256 b = bias ? _mm256_loadu_ps(bias + c) : _mm256_setzero_ps();
      __m256 y00 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s0[0], s0[1]), s0[2]), b);
      __m256 y01 = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s0[1], s0[2]), s0[3]), b);
      __m256 y10 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s1[0], s1[1]), s1[2]), b);
      __m256 y11 = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s1[1], s1[2]), s1[3]), b);
      _mm256_storeu_ps(base + c, y00);
      if (full_w) _mm256_storeu_ps(base + OC + c, y01);
      if (full_h) {
        _mm256_storeu_ps(base + (int64_t)p.OW * OC + c, y10);
        if (full_w) _mm256_storeu_ps(base + ((int64_t)p.OW + 1) * OC + c, y11);
      }
    }
  }
}

}  // namespace

bool winograd_supported(int IC, int OC) { return IC % 8 == 0 && OC % 8 == 0 && IC >= 16; }

size_t winograd_scratch_floats(const WinogradConv& p) {
  return filter_floats(p) + (size_t)(p.threads < 1 ? 1 : p.threads) * thread_floats(p);
}

void winograd_conv_avx2(const WinogradConv& p, const float* x, const float* w, const float* bias, float* y,
                        float* scratch) {
  float* U = scratch;
  transform_filter(p, w, U);
  const int64_t tiles = (int64_t)p.N * tiles_h(p) * tiles_w(p);
  const int64_t blocks = (tiles + kTile - 1) / kTile;
  const int threads = p.threads < 1 ? 1 : (blocks < p.threads ? (int)blocks : p.threads);
#pragma omp parallel num_threads(threads)
  {
    const int id = omp_get_thread_num(), nth = omp_get_num_threads();
    float* V = scratch + filter_floats(p) + (size_t)id * thread_floats(p);
    float* M = V + (size_t)16 * kTile * p.IC;
    // Contiguous ranges of blocks per thread: neighbouring tiles share input rows.
    for (int64_t blk = blocks * id / nth; blk < blocks * (id + 1) / nth; ++blk) {
      int64_t t0 = blk * kTile;
      int nt = (int)(tiles - t0 < kTile ? tiles - t0 : kTile);
      transform_input(p, x, t0, nt, V);
      for (int k = 0; k < 16; ++k)
        gemm(nt, p.IC, p.OC, V + (size_t)k * kTile * p.IC, U + (size_t)k * p.IC * p.OC, M + (size_t)k * kTile * p.OC);
      transform_output(p, M, t0, nt, bias, y);
    }
  }
}

}  // namespace qat::ops::kernels::detail
