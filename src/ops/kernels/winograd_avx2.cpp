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
// Plane strides of the tile buffers, padded by 16 floats: unpadded, strides that are multiples of
// 4 KB put all 16 planes in one L1 set (conflict misses in the transforms).
inline size_t plane(int tiles, int channels) { return (size_t)tiles * channels + 16; }
inline size_t thread_floats(const WinogradConv& p) { return round8(16 * (plane(kTile, p.IC) + plane(kTile, p.OC))); }

// U[k][ic][oc] = (G g G^T)[k], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
// Input channels [ic0, ic1) (threads split the filter).
void transform_filter(const WinogradConv& p, const float* w, float* U, int ic0, int ic1) {
  const int IC = p.IC, OC = p.OC;
  for (int ic = ic0; ic < ic1; ++ic)
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

// One 4x4 input tile, 8 channels, into the 16 planes of V (plane stride ks). Named variables, no
// arrays: with __m256 arrays GCC kept the tile on the stack (the transform cost 10% of a step).
// kInside: the tile lies inside the image (no bounds checks).
template <bool kInside>
inline void input_tile(const WinogradConv& p, const float* base, int h0, int w0, int c, float* out, size_t ks) {
  const int64_t row = (int64_t)p.IW * p.IC, col = p.IC;
  auto ld = [&](int i, int j) {
    if (!kInside && (h0 + i < 0 || h0 + i >= p.IH || w0 + j < 0 || w0 + j >= p.IW)) return _mm256_setzero_ps();
    return _mm256_loadu_ps(base + i * row + j * col + c);
  };
  // Columns first (d B): column j of the result needs columns {0,2}, {1,2}, {2,1} or {1,3} of d.
  const int ja[4] = {0, 1, 2, 1}, jb[4] = {2, 2, 1, 3};
  for (int j = 0; j < 4; ++j) {
    __m256 e0, e1, e2, e3;
    if (j == 1) {
      e0 = _mm256_add_ps(ld(0, 1), ld(0, 2)), e1 = _mm256_add_ps(ld(1, 1), ld(1, 2));
      e2 = _mm256_add_ps(ld(2, 1), ld(2, 2)), e3 = _mm256_add_ps(ld(3, 1), ld(3, 2));
    } else {
      e0 = _mm256_sub_ps(ld(0, ja[j]), ld(0, jb[j])), e1 = _mm256_sub_ps(ld(1, ja[j]), ld(1, jb[j]));
      e2 = _mm256_sub_ps(ld(2, ja[j]), ld(2, jb[j])), e3 = _mm256_sub_ps(ld(3, ja[j]), ld(3, jb[j]));
    }
    // then rows (B^T .)
    _mm256_storeu_ps(out + (0 * 4 + j) * ks, _mm256_sub_ps(e0, e2));
    _mm256_storeu_ps(out + (1 * 4 + j) * ks, _mm256_add_ps(e1, e2));
    _mm256_storeu_ps(out + (2 * 4 + j) * ks, _mm256_sub_ps(e2, e1));
    _mm256_storeu_ps(out + (3 * 4 + j) * ks, _mm256_sub_ps(e1, e3));
  }
}

// V[k][t][ic] = (B^T d B)[k] for the tiles [t0, t0 + nt) (k planes ts tiles apart), B^T =
// [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1].
void transform_input(const WinogradConv& p, const float* x, int64_t t0, int nt, int ts, float* V) {
  const int TH = tiles_h(p), TW = tiles_w(p), IC = p.IC;
  const size_t ks = plane(ts, IC);
  for (int t = 0; t < nt; ++t) {
    int64_t tile = t0 + t;
    int64_t n = tile / (TH * TW);
    int rem = (int)(tile % (TH * TW));
    int h0 = (rem / TW) * 2 - p.pad_top, w0 = (rem % TW) * 2 - p.pad_left;
    bool inside = h0 >= 0 && w0 >= 0 && h0 + 4 <= p.IH && w0 + 4 <= p.IW;
    // (may point outside x for border tiles; only in-bounds elements are read)
    const float* base = x + ((n * p.IH + h0) * p.IW + w0) * (int64_t)IC;
    float* out = V + (size_t)t * IC;
    if (inside)
      for (int c = 0; c < IC; c += 8) input_tile<true>(p, base, h0, w0, c, out + c, ks);
    else
      for (int c = 0; c < IC; c += 8) input_tile<false>(p, base, h0, w0, c, out + c, ks);
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
  const size_t kstride = plane(kTile, OC);
  for (int t = 0; t < nt; ++t) {
    int64_t tile = t0 + t;
    int64_t n = tile / (TH * TW);
    int rem = (int)(tile % (TH * TW));
    int oh = (rem / TW) * 2, ow = (rem % TW) * 2;
    bool full_h = oh + 1 < p.OH, full_w = ow + 1 < p.OW;
    float* base = y + ((n * p.OH + oh) * p.OW + ow) * (int64_t)OC;
    const float* in = M + (size_t)t * OC;
    for (int c = 0; c < OC; c += 8) {
      auto m = [&](int i, int j) { return _mm256_loadu_ps(in + (i * 4 + j) * kstride + c); };
      // A^T m: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3 (rows), per column j
      __m256 s00 = _mm256_add_ps(_mm256_add_ps(m(0, 0), m(1, 0)), m(2, 0));
      __m256 s01 = _mm256_add_ps(_mm256_add_ps(m(0, 1), m(1, 1)), m(2, 1));
      __m256 s02 = _mm256_add_ps(_mm256_add_ps(m(0, 2), m(1, 2)), m(2, 2));
      __m256 s03 = _mm256_add_ps(_mm256_add_ps(m(0, 3), m(1, 3)), m(2, 3));
      __m256 s10 = _mm256_sub_ps(_mm256_sub_ps(m(1, 0), m(2, 0)), m(3, 0));
      __m256 s11 = _mm256_sub_ps(_mm256_sub_ps(m(1, 1), m(2, 1)), m(3, 1));
      __m256 s12 = _mm256_sub_ps(_mm256_sub_ps(m(1, 2), m(2, 2)), m(3, 2));
      __m256 s13 = _mm256_sub_ps(_mm256_sub_ps(m(1, 3), m(2, 3)), m(3, 3));
      __m256 b = bias ? _mm256_loadu_ps(bias + c) : _mm256_setzero_ps();
      __m256 y00 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s00, s01), s02), b);
      __m256 y01 = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s01, s02), s03), b);
      __m256 y10 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(s10, s11), s12), b);
      __m256 y11 = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(s11, s12), s13), b);
      _mm256_storeu_ps(base + c, y00);
      if (full_w) _mm256_storeu_ps(base + OC + c, y01);
      if (full_h) {
        _mm256_storeu_ps(base + (int64_t)p.OW * OC + c, y10);
        if (full_w) _mm256_storeu_ps(base + ((int64_t)p.OW + 1) * OC + c, y11);
      }
    }
  }
}

// ---- backward weights ----
// Per tile, y = A^T (U . V) A is linear in U, so dL/dU = (A dy A^T) . V summed over tiles and
// images, and dL/dg = G^T (dL/dU) G. With DY = A dy A^T (4x4 per 2x2 gradient tile):
//   dU[k][ic][oc] = sum_t V[k][t][ic] * DY[k][t][oc]   (16 GEMMs reducing over tiles)
constexpr int kTileW = 96;  // tiles per block for the weight gradient (a longer reduction per GEMM)

inline size_t bwdw_thread_floats(const WinogradConv& p) {
  return round8((size_t)16 * p.IC * p.OC) + round8(16 * (plane(kTileW, p.IC) + plane(kTileW, p.OC)));
}

// DY[k][t][oc] = (A dy A^T)[k], A = [1 0; 1 1; 1 -1; 0 -1]; gradient outside the output is 0.
void transform_dy(const WinogradConv& p, const float* dy, int64_t t0, int nt, float* DY) {
  const int TH = tiles_h(p), TW = tiles_w(p), OC = p.OC;
  const size_t kstride = plane(kTileW, OC);
  for (int t = 0; t < nt; ++t) {
    int64_t tile = t0 + t;
    int64_t n = tile / (TH * TW);
    int rem = (int)(tile % (TH * TW));
    int oh = (rem / TW) * 2, ow = (rem % TW) * 2;
    bool full_h = oh + 1 < p.OH, full_w = ow + 1 < p.OW;
    const float* base = dy + ((n * p.OH + oh) * p.OW + ow) * (int64_t)OC;
    float* out = DY + (size_t)t * OC;
    for (int c = 0; c < OC; c += 8) {
      const __m256 z = _mm256_setzero_ps();
      __m256 d00 = _mm256_loadu_ps(base + c);
      __m256 d01 = full_w ? _mm256_loadu_ps(base + OC + c) : z;
      __m256 d10 = full_h ? _mm256_loadu_ps(base + (int64_t)p.OW * OC + c) : z;
      __m256 d11 = full_h && full_w ? _mm256_loadu_ps(base + ((int64_t)p.OW + 1) * OC + c) : z;
      // rows: A applied to the 2 rows of the tile, then columns (named values, see input_tile)
      auto put_row = [&](int i, __m256 r0, __m256 r1) {
        _mm256_storeu_ps(out + (i * 4 + 0) * kstride + c, r0);
        _mm256_storeu_ps(out + (i * 4 + 1) * kstride + c, _mm256_add_ps(r0, r1));
        _mm256_storeu_ps(out + (i * 4 + 2) * kstride + c, _mm256_sub_ps(r0, r1));
        _mm256_storeu_ps(out + (i * 4 + 3) * kstride + c, _mm256_sub_ps(z, r1));
      };
      put_row(0, d00, d01);
      put_row(1, _mm256_add_ps(d00, d10), _mm256_add_ps(d01, d11));
      put_row(2, _mm256_sub_ps(d00, d10), _mm256_sub_ps(d01, d11));
      put_row(3, _mm256_sub_ps(z, d10), _mm256_sub_ps(z, d11));
    }
  }
}

// C[4][16] += A^T B over nt tiles: A = V plane [nt][IC] (columns ic0..ic0+3), B = DY plane
// [nt][OC] (columns oc0..oc0+15).
inline void kernel_4x16_acc(int nt, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  __m256 c00 = _mm256_loadu_ps(C), c01 = _mm256_loadu_ps(C + 8);
  __m256 c10 = _mm256_loadu_ps(C + ldc), c11 = _mm256_loadu_ps(C + ldc + 8);
  __m256 c20 = _mm256_loadu_ps(C + 2 * ldc), c21 = _mm256_loadu_ps(C + 2 * ldc + 8);
  __m256 c30 = _mm256_loadu_ps(C + 3 * ldc), c31 = _mm256_loadu_ps(C + 3 * ldc + 8);
  for (int t = 0; t < nt; ++t) {
    const float* a = A + (size_t)t * lda;
    const __m256 b0 = _mm256_loadu_ps(B + (size_t)t * ldb), b1 = _mm256_loadu_ps(B + (size_t)t * ldb + 8);
    __m256 x = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(x, b0, c00), c01 = _mm256_fmadd_ps(x, b1, c01);
    x = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(x, b0, c10), c11 = _mm256_fmadd_ps(x, b1, c11);
    x = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(x, b0, c20), c21 = _mm256_fmadd_ps(x, b1, c21);
    x = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(x, b0, c30), c31 = _mm256_fmadd_ps(x, b1, c31);
  }
  _mm256_storeu_ps(C, c00), _mm256_storeu_ps(C + 8, c01);
  _mm256_storeu_ps(C + ldc, c10), _mm256_storeu_ps(C + ldc + 8, c11);
  _mm256_storeu_ps(C + 2 * ldc, c20), _mm256_storeu_ps(C + 2 * ldc + 8, c21);
  _mm256_storeu_ps(C + 3 * ldc, c30), _mm256_storeu_ps(C + 3 * ldc + 8, c31);
}
inline void kernel_4x8_acc(int nt, const float* A, int lda, const float* B, int ldb, float* C, int ldc) {
  __m256 c0 = _mm256_loadu_ps(C), c1 = _mm256_loadu_ps(C + ldc), c2 = _mm256_loadu_ps(C + 2 * ldc),
         c3 = _mm256_loadu_ps(C + 3 * ldc);
  for (int t = 0; t < nt; ++t) {
    const float* a = A + (size_t)t * lda;
    const __m256 b = _mm256_loadu_ps(B + (size_t)t * ldb);
    c0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a), b, c0);
    c1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 1), b, c1);
    c2 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 2), b, c2);
    c3 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + 3), b, c3);
  }
  _mm256_storeu_ps(C, c0), _mm256_storeu_ps(C + ldc, c1), _mm256_storeu_ps(C + 2 * ldc, c2),
      _mm256_storeu_ps(C + 3 * ldc, c3);
}

// dW[kh][kw][ic][oc] = (G^T dU G)[kh][kw], G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1].
void transform_filter_grad(const WinogradConv& p, const float* dU, float* dw, int ic0, int ic1) {
  const int IC = p.IC, OC = p.OC;
  for (int ic = ic0; ic < ic1; ++ic)
    for (int oc = 0; oc < OC; ++oc) {
      float m[4][4];
      for (int k = 0; k < 16; ++k) m[k / 4][k % 4] = dU[((size_t)k * IC + ic) * OC + oc];
      float t[3][4];
      for (int j = 0; j < 4; ++j) {
        t[0][j] = m[0][j] + 0.5f * (m[1][j] + m[2][j]);
        t[1][j] = 0.5f * (m[1][j] - m[2][j]);
        t[2][j] = 0.5f * (m[1][j] + m[2][j]) + m[3][j];
      }
      for (int i = 0; i < 3; ++i) {
        float g[3] = {t[i][0] + 0.5f * (t[i][1] + t[i][2]), 0.5f * (t[i][1] - t[i][2]),
                      0.5f * (t[i][1] + t[i][2]) + t[i][3]};
        for (int j = 0; j < 3; ++j) dw[(((size_t)i * 3 + j) * IC + ic) * OC + oc] = g[j];
      }
    }
}

// ---- F(4x4, 3x3): 6x6 input tiles, 36 planes ----
// Fewer multiplies per output (36 per 16 vs 16 per 4) and, on SmallCNN's 7x7 maps, the same 8x8
// cover with a quarter of the tiles. Matrices (Lavin & Gray):
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
constexpr int kTile43 = 24;
inline int t43(int n) { return (n + 3) / 4; }
inline size_t f43_thread_floats(const WinogradConv& p) { return round8(36 * (plane(kTile43, p.IC) + plane(kTile43, p.OC))); }
inline size_t f43_filter_floats(const WinogradConv& p) { return round8((size_t)36 * p.IC * p.OC); }
size_t f43_scratch_floats(const WinogradConv& p) {
  return f43_filter_floats(p) + (size_t)(p.threads < 1 ? 1 : p.threads) * f43_thread_floats(p);
}

inline void bt6(const __m256* z, __m256* o) {
  const __m256 c4 = _mm256_set1_ps(4.f), c5 = _mm256_set1_ps(5.f), c2 = _mm256_set1_ps(2.f);
  o[0] = _mm256_add_ps(_mm256_fnmadd_ps(c5, z[2], _mm256_mul_ps(c4, z[0])), z[4]);
  __m256 a = _mm256_fnmadd_ps(c4, z[2], z[4]), b = _mm256_fnmadd_ps(c4, z[1], z[3]);  // z4-4z2, z3-4z1
  o[1] = _mm256_add_ps(a, b);
  o[2] = _mm256_sub_ps(a, b);
  __m256 e = _mm256_sub_ps(z[4], z[2]), f = _mm256_mul_ps(c2, _mm256_sub_ps(z[3], z[1]));
  o[3] = _mm256_add_ps(e, f);
  o[4] = _mm256_sub_ps(e, f);
  o[5] = _mm256_add_ps(_mm256_fnmadd_ps(c5, z[3], _mm256_mul_ps(c4, z[1])), z[5]);
}
inline void at6(const __m256* z, __m256* o) {
  __m256 s12 = _mm256_add_ps(z[1], z[2]), d12 = _mm256_sub_ps(z[1], z[2]);
  __m256 s34 = _mm256_add_ps(z[3], z[4]), d34 = _mm256_sub_ps(z[3], z[4]);
  o[0] = _mm256_add_ps(_mm256_add_ps(z[0], s12), s34);
  o[1] = _mm256_fmadd_ps(_mm256_set1_ps(2.f), d34, d12);
  o[2] = _mm256_fmadd_ps(_mm256_set1_ps(4.f), s34, s12);
  o[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8.f), d34, d12), z[5]);
}

void f43_filter(const WinogradConv& p, const float* w, float* U, int ic0, int ic1) {
  const int IC = p.IC, OC = p.OC;
  for (int ic = ic0; ic < ic1; ++ic)
    for (int oc = 0; oc < OC; ++oc) {
      float g[3][3];
      for (int kh = 0; kh < 3; ++kh)
        for (int kw = 0; kw < 3; ++kw)
          g[kh][kw] = p.flip ? w[(((size_t)(2 - kh) * 3 + (2 - kw)) * OC + oc) * IC + ic]
                             : w[(((size_t)kh * 3 + kw) * IC + ic) * OC + oc];
      auto gv = [](const float* v, float* o, int s) {  // o[i*s] = (G v)[i]
        o[0] = v[0] / 4;
        o[s] = -(v[0] + v[1] + v[2]) / 6;
        o[2 * s] = -(v[0] - v[1] + v[2]) / 6;
        o[3 * s] = v[0] / 24 + v[1] / 12 + v[2] / 6;
        o[4 * s] = v[0] / 24 - v[1] / 12 + v[2] / 6;
        o[5 * s] = v[2];
      };
      float t[6][3], u[6][6];
      for (int j = 0; j < 3; ++j) {
        float col[3] = {g[0][j], g[1][j], g[2][j]};
        gv(col, &t[0][j], 3);
      }
      for (int i = 0; i < 6; ++i) gv(t[i], u[i], 1);
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j) U[((size_t)(i * 6 + j) * IC + ic) * OC + oc] = u[i][j];
    }
}

void f43_input(const WinogradConv& p, const float* x, int64_t t0, int nt, int ts, float* V) {
  const int TH = t43(p.OH), TW = t43(p.OW), IC = p.IC;
  const size_t ks = plane(ts, IC);
  const int64_t row = (int64_t)p.IW * IC;
  for (int t = 0; t < nt; ++t) {
    int64_t tile = t0 + t;
    int64_t n = tile / (TH * TW);
    int rem = (int)(tile % (TH * TW));
    int h0 = (rem / TW) * 4 - p.pad_top, w0 = (rem % TW) * 4 - p.pad_left;
    bool inside = h0 >= 0 && w0 >= 0 && h0 + 6 <= p.IH && w0 + 6 <= p.IW;
    const float* base = x + ((n * p.IH + h0) * p.IW + w0) * (int64_t)IC;
    float* out = V + (size_t)t * IC;
    for (int c = 0; c < IC; c += 8) {
      __m256 d[6][6], tcol[6][6];
      for (int i = 0; i < 6; ++i)
        for (int j = 0; j < 6; ++j)
          d[j][i] = (inside || (h0 + i >= 0 && h0 + i < p.IH && w0 + j >= 0 && w0 + j < p.IW))
                        ? _mm256_loadu_ps(base + i * row + (int64_t)j * IC + c)
                        : _mm256_setzero_ps();
      for (int j = 0; j < 6; ++j) bt6(d[j], tcol[j]);  // tcol[j][i] = (B^T d)[i][j]
      for (int i = 0; i < 6; ++i) {
        __m256 r[6], o[6];
        for (int j = 0; j < 6; ++j) r[j] = tcol[j][i];
        bt6(r, o);
        for (int j = 0; j < 6; ++j) _mm256_storeu_ps(out + (i * 6 + j) * ks + c, o[j]);
      }
    }
  }
}

void f43_output(const WinogradConv& p, const float* M, int64_t t0, int nt, const float* bias, float* y) {
  const int TH = t43(p.OH), TW = t43(p.OW), OC = p.OC;
  const size_t ks = plane(kTile43, OC);
  for (int t = 0; t < nt; ++t) {
    int64_t tile = t0 + t;
    int64_t n = tile / (TH * TW);
    int rem = (int)(tile % (TH * TW));
    int oh = (rem / TW) * 4, ow = (rem % TW) * 4;
    const int rows = p.OH - oh < 4 ? p.OH - oh : 4, cols = p.OW - ow < 4 ? p.OW - ow : 4;
    float* base = y + ((n * p.OH + oh) * p.OW + ow) * (int64_t)OC;
    const float* in = M + (size_t)t * OC;
    for (int c = 0; c < OC; c += 8) {
      __m256 tcol[6][4];  // tcol[j][i] = (A^T m)[i][j]
      for (int j = 0; j < 6; ++j) {
        __m256 z[6];
        for (int i = 0; i < 6; ++i) z[i] = _mm256_loadu_ps(in + (i * 6 + j) * ks + c);
        at6(z, tcol[j]);
      }
      const __m256 b = bias ? _mm256_loadu_ps(bias + c) : _mm256_setzero_ps();
      for (int i = 0; i < rows; ++i) {
        __m256 r[6], o[4];
        for (int j = 0; j < 6; ++j) r[j] = tcol[j][i];
        at6(r, o);
        for (int j = 0; j < cols; ++j) _mm256_storeu_ps(base + ((int64_t)i * p.OW + j) * OC + c, _mm256_add_ps(o[j], b));
      }
    }
  }
}

void f43_conv(const WinogradConv& p, const float* x, const float* w, const float* bias, float* y, float* scratch) {
  float* U = scratch;
  const int64_t tiles = (int64_t)p.N * t43(p.OH) * t43(p.OW);
  const int64_t blocks = (tiles + kTile43 - 1) / kTile43;
  const int threads = p.threads < 1 ? 1 : (blocks < p.threads ? (int)blocks : p.threads);
#pragma omp parallel num_threads(threads)
  {
    const int id = omp_get_thread_num(), nth = omp_get_num_threads();
    float* V = scratch + f43_filter_floats(p) + (size_t)id * f43_thread_floats(p);
    float* M = V + 36 * plane(kTile43, p.IC);
    f43_filter(p, w, U, p.IC * id / nth, p.IC * (id + 1) / nth);
#pragma omp barrier
    for (int64_t blk = blocks * id / nth; blk < blocks * (id + 1) / nth; ++blk) {
      int64_t t0 = blk * kTile43;
      int nt = (int)(tiles - t0 < kTile43 ? tiles - t0 : kTile43);
      f43_input(p, x, t0, nt, kTile43, V);
      for (int k = 0; k < 36; ++k)
        gemm(nt, p.IC, p.OC, V + k * plane(kTile43, p.IC), U + (size_t)k * p.IC * p.OC, M + k * plane(kTile43, p.OC));
      f43_output(p, M, t0, nt, bias, y);
    }
  }
}

// F(4x4,3x3) weight gradient: dU[k] = sum_t V[k][t]^T DY[k][t] with DY = A dy A^T (6x6 from the
// 4x4 gradient tile), dW = G^T dU G.
//   A = [1 0 0 0; 1 1 1 1; 1 -1 1 -1; 1 2 4 8; 1 -2 4 -8; 0 0 0 1]
constexpr int kTileW43 = 48;
inline size_t f43w_thread_floats(const WinogradConv& p) {
  return round8((size_t)36 * p.IC * p.OC) + round8(36 * (plane(kTileW43, p.IC) + plane(kTileW43, p.OC)));
}
inline void a6(const __m256* v, __m256* o) {  // o = A v, v has 4 entries
  __m256 s02 = _mm256_add_ps(v[0], v[2]), s13 = _mm256_add_ps(v[1], v[3]);
  __m256 q02 = _mm256_fmadd_ps(_mm256_set1_ps(4.f), v[2], v[0]);
  __m256 q13 = _mm256_fmadd_ps(_mm256_set1_ps(8.f), v[3], _mm256_mul_ps(_mm256_set1_ps(2.f), v[1]));
  o[0] = v[0];
  o[1] = _mm256_add_ps(s02, s13);
  o[2] = _mm256_sub_ps(s02, s13);
  o[3] = _mm256_add_ps(q02, q13);
  o[4] = _mm256_sub_ps(q02, q13);
  o[5] = v[3];
}
void f43_dy(const WinogradConv& p, const float* dy, int64_t t0, int nt, float* DY) {
  const int TH = t43(p.OH), TW = t43(p.OW), OC = p.OC;
  const size_t ks = plane(kTileW43, OC);
  for (int t = 0; t < nt; ++t) {
    int64_t tile = t0 + t;
    int64_t n = tile / (TH * TW);
    int rem = (int)(tile % (TH * TW));
    int oh = (rem / TW) * 4, ow = (rem % TW) * 4;
    const int rows = p.OH - oh < 4 ? p.OH - oh : 4, cols = p.OW - ow < 4 ? p.OW - ow : 4;
    const float* base = dy + ((n * p.OH + oh) * p.OW + ow) * (int64_t)OC;
    float* out = DY + (size_t)t * OC;
    for (int c = 0; c < OC; c += 8) {
      __m256 tcol[4][6];  // tcol[j][i] = (A v)[i][j]
      for (int j = 0; j < 4; ++j) {
        __m256 v[4];
        for (int i = 0; i < 4; ++i)
          v[i] = i < rows && j < cols ? _mm256_loadu_ps(base + ((int64_t)i * p.OW + j) * OC + c) : _mm256_setzero_ps();
        a6(v, tcol[j]);
      }
      for (int i = 0; i < 6; ++i) {
        __m256 r[4] = {tcol[0][i], tcol[1][i], tcol[2][i], tcol[3][i]}, o[6];
        a6(r, o);
        for (int j = 0; j < 6; ++j) _mm256_storeu_ps(out + (i * 6 + j) * ks + c, o[j]);
      }
    }
  }
}
void f43_filter_grad(const WinogradConv& p, const float* dU, float* dw, int ic0, int ic1) {
  const int IC = p.IC, OC = p.OC;
  auto gt = [](const float* z, int s, float* o) {  // o = G^T z, z has 6 entries s apart
    float z1 = z[s], z2 = z[2 * s], z3 = z[3 * s], z4 = z[4 * s];
    o[0] = z[0] / 4 - (z1 + z2) / 6 + (z3 + z4) / 24;
    o[1] = (z2 - z1) / 6 + (z3 - z4) / 12;
    o[2] = (z3 + z4 - z1 - z2) / 6 + z[5 * s];
  };
  for (int ic = ic0; ic < ic1; ++ic)
    for (int oc = 0; oc < OC; ++oc) {
      float m[6][6], t[3][6];
      for (int k = 0; k < 36; ++k) m[k / 6][k % 6] = dU[((size_t)k * IC + ic) * OC + oc];
      for (int j = 0; j < 6; ++j) {
        float o[3];
        gt(&m[0][j], 6, o);
        t[0][j] = o[0], t[1][j] = o[1], t[2][j] = o[2];
      }
      for (int i = 0; i < 3; ++i) {
        float o[3];
        gt(t[i], 1, o);
        for (int j = 0; j < 3; ++j) dw[(((size_t)i * 3 + j) * IC + ic) * OC + oc] = o[j];
      }
    }
}

}  // namespace

bool winograd_supported(int IC, int OC) { return IC % 8 == 0 && OC % 8 == 0 && IC >= 16; }

size_t winograd_scratch_floats(const WinogradConv& p) {
  if (p.m == 4) return f43_scratch_floats(p);
  return filter_floats(p) + (size_t)(p.threads < 1 ? 1 : p.threads) * thread_floats(p);
}

void winograd_conv_avx2(const WinogradConv& p, const float* x, const float* w, const float* bias, float* y,
                        float* scratch) {
  if (p.m == 4) return f43_conv(p, x, w, bias, y, scratch);
  float* U = scratch;
  const int64_t tiles = (int64_t)p.N * tiles_h(p) * tiles_w(p);
  const int64_t blocks = (tiles + kTile - 1) / kTile;
  const int threads = p.threads < 1 ? 1 : (blocks < p.threads ? (int)blocks : p.threads);
#pragma omp parallel num_threads(threads)
  {
    const int id = omp_get_thread_num(), nth = omp_get_num_threads();
    float* V = scratch + filter_floats(p) + (size_t)id * thread_floats(p);
    float* M = V + 16 * plane(kTile, p.IC);
    transform_filter(p, w, U, p.IC * id / nth, p.IC * (id + 1) / nth);
#pragma omp barrier
    // Contiguous ranges of blocks per thread: neighbouring tiles share input rows.
    for (int64_t blk = blocks * id / nth; blk < blocks * (id + 1) / nth; ++blk) {
      int64_t t0 = blk * kTile;
      int nt = (int)(tiles - t0 < kTile ? tiles - t0 : kTile);
      transform_input(p, x, t0, nt, kTile, V);
      for (int k = 0; k < 16; ++k)
        gemm(nt, p.IC, p.OC, V + k * plane(kTile, p.IC), U + (size_t)k * p.IC * p.OC, M + k * plane(kTile, p.OC));
      transform_output(p, M, t0, nt, bias, y);
    }
  }
}

}  // namespace qat::ops::kernels::detail

namespace qat::ops::kernels::detail {

size_t winograd_bwd_weights_scratch_floats(const WinogradConv& p) {
  return (size_t)(p.threads < 1 ? 1 : p.threads) * (p.m == 4 ? f43w_thread_floats(p) : bwdw_thread_floats(p));
}

void winograd_bwd_weights_avx2(const WinogradConv& p, const float* x, const float* dy, float* dw, float* scratch) {
  const bool f43 = p.m == 4;
  const int P = f43 ? 36 : 16, ts = f43 ? kTileW43 : kTileW;
  const size_t per_thread = f43 ? f43w_thread_floats(p) : bwdw_thread_floats(p);
  const int64_t tiles = f43 ? (int64_t)p.N * t43(p.OH) * t43(p.OW) : (int64_t)p.N * tiles_h(p) * tiles_w(p);
  int64_t blocks = (tiles + ts - 1) / ts;
  const int threads = p.threads < 1 ? 1 : (blocks < p.threads ? (int)blocks : p.threads);
  // Blocks of nb <= ts tiles, as many per thread (SmallCNN's conv3 has 11 blocks of 48: 5 + 6).
  blocks = (blocks + threads - 1) / threads * threads;
  const int nb = (int)((tiles + blocks - 1) / blocks);
  blocks = (tiles + nb - 1) / nb;
  const size_t nU = (size_t)P * p.IC * p.OC;
#pragma omp parallel num_threads(threads)
  {
    const int id = omp_get_thread_num(), nth = omp_get_num_threads();
    float* dU = scratch + (size_t)id * per_thread;
    float* V = dU + round8(nU);
    float* DY = V + P * plane(ts, p.IC);
    for (size_t i = 0; i < nU; ++i) dU[i] = 0.f;
    for (int64_t blk = blocks * id / nth; blk < blocks * (id + 1) / nth; ++blk) {
      int64_t t0 = blk * nb;
      int nt = (int)(tiles - t0 < nb ? tiles - t0 : nb);
      if (f43) {
        f43_input(p, x, t0, nt, ts, V);
        f43_dy(p, dy, t0, nt, DY);
      } else {
        transform_input(p, x, t0, nt, ts, V);
        transform_dy(p, dy, t0, nt, DY);
      }
      for (int k = 0; k < P; ++k) {
        const float* Vk = V + k * plane(ts, p.IC);
        const float* Dk = DY + k * plane(ts, p.OC);
        float* Uk = dU + (size_t)k * p.IC * p.OC;
        for (int ic = 0; ic < p.IC; ic += 4) {
          int oc = 0;
          for (; oc + 16 <= p.OC; oc += 16) kernel_4x16_acc(nt, Vk + ic, p.IC, Dk + oc, p.OC, Uk + (size_t)ic * p.OC + oc, p.OC);
          if (oc < p.OC) kernel_4x8_acc(nt, Vk + ic, p.IC, Dk + oc, p.OC, Uk + (size_t)ic * p.OC + oc, p.OC);
        }
      }
    }
#pragma omp barrier
    // Sum the per-thread dU into thread 0's, split by ranges of elements.
    if (nth > 1) {
      size_t b = nU * id / nth, e = nU * (id + 1) / nth;
      for (int t = 1; t < nth; ++t) {
        const float* src = scratch + (size_t)t * per_thread;
        for (size_t i = b; i < e; ++i) scratch[i] += src[i];
      }
#pragma omp barrier
    }
    if (f43)
      f43_filter_grad(p, scratch, dw, p.IC * id / nth, p.IC * (id + 1) / nth);
    else
      transform_filter_grad(p, scratch, dw, p.IC * id / nth, p.IC * (id + 1) / nth);
  }
}

}  // namespace qat::ops::kernels::detail
