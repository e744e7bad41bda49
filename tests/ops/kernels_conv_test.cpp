// Conv2D / DepthwiseConv2D kernels (forward, backward data, backward weights + bias) against a
// naive double-precision loop, on random data and awkward geometries: strides, dilation,
// asymmetric SAME padding, VALID with rows the stride drops, depthwise multipliers, batch 1,
// odd channel counts. Tolerance: 1e-4 relative to the sum of |terms| of each output element.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ops/kernels/float_kernels.h"
#include "qat/error.h"

namespace qat::ops::kernels {
namespace {

std::vector<float> random_vec(size_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

int eff(int k, int d) { return (k - 1) * d + 1; }

// TF SAME (pad = total / 2 on top / left, the odd one on the bottom / right) or VALID.
ConvGeom geom(int N, int H, int W, int C, int KH, int KW, int O, int sh, int sw, int dh, int dw, bool same,
              bool depthwise) {
  ConvGeom g{};
  g.N = N, g.H = H, g.W = W, g.C = C, g.KH = KH, g.KW = KW, g.O = O;
  g.stride_h = sh, g.stride_w = sw, g.dil_h = dh, g.dil_w = dw, g.depthwise = depthwise;
  if (same) {
    g.OH = (H + sh - 1) / sh, g.OW = (W + sw - 1) / sw;
    int ph = std::max(0, (g.OH - 1) * sh + eff(KH, dh) - H), pw = std::max(0, (g.OW - 1) * sw + eff(KW, dw) - W);
    g.pad_top = ph / 2, g.pad_bottom = ph - ph / 2, g.pad_left = pw / 2, g.pad_right = pw - pw / 2;
  } else {
    g.OH = (H - eff(KH, dh)) / sh + 1, g.OW = (W - eff(KW, dw)) / sw + 1;
  }
  return g;
}

// Calls fn(x_index, w_index, y_index) for every multiply of the convolution.
template <class Fn>
void for_each_term(const ConvGeom& g, Fn&& fn) {
  const int M = g.depthwise ? g.O / g.C : 0;
  for (int n = 0; n < g.N; ++n)
    for (int oh = 0; oh < g.OH; ++oh)
      for (int ow = 0; ow < g.OW; ++ow)
        for (int o = 0; o < g.O; ++o)
          for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw) {
              int h = oh * g.stride_h - g.pad_top + kh * g.dil_h, w = ow * g.stride_w - g.pad_left + kw * g.dil_w;
              if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
              size_t yi = (((size_t)n * g.OH + oh) * g.OW + ow) * g.O + o;
              if (g.depthwise) {
                int c = o / M, m = o % M;
                fn((((size_t)n * g.H + h) * g.W + w) * g.C + c, (((size_t)kh * g.KW + kw) * g.C + c) * M + m, yi);
              } else {
                for (int c = 0; c < g.C; ++c)
                  fn((((size_t)n * g.H + h) * g.W + w) * g.C + c, (((size_t)kh * g.KW + kw) * g.C + c) * g.O + o, yi);
              }
            }
}

void expect_close(const std::vector<float>& got, const std::vector<double>& ref, const std::vector<double>& mag,
                  const char* what) {
  ASSERT_EQ(got.size(), ref.size());
  // Winograd mixes the elements of a tile, so an output's rounding error also scales with its
  // neighbours' magnitudes: the floor is relative to the largest |terms| sum.
  double max_mag = 0;
  for (double m : mag) max_mag = std::max(max_mag, m);
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double tol = 1e-4 * (mag[i] + 1e-3 * max_mag + 1e-3);
    if (!(std::fabs(got[i] - ref[i]) <= tol) && bad++ < 5)
      ADD_FAILURE() << what << "[" << i << "] = " << got[i] << ", expected " << ref[i];
  }
  EXPECT_EQ(bad, 0) << what;
}

void check_conv(const ConvGeom& g, bool bias, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << "N=" << g.N << " H=" << g.H << " W=" << g.W << " C=" << g.C << " K=" << g.KH
                                  << "x" << g.KW << " O=" << g.O << " s=" << g.stride_h << "," << g.stride_w
                                  << " d=" << g.dil_h << "," << g.dil_w << " pad=" << g.pad_top << "," << g.pad_left
                                  << "," << g.pad_bottom << "," << g.pad_right << (g.depthwise ? " dw" : ""));
  std::mt19937 rng(seed);
  size_t nx = (size_t)g.N * g.H * g.W * g.C, ny = (size_t)g.N * g.OH * g.OW * g.O;
  size_t nw = (size_t)g.KH * g.KW * (g.depthwise ? g.O : (size_t)g.C * g.O);
  auto x = random_vec(nx, rng), w = random_vec(nw, rng), b = random_vec(g.O, rng), dy = random_vec(ny, rng);

  std::vector<double> y_ref(ny, 0.0), y_mag(ny, 0.0), dx_ref(nx, 0.0), dx_mag(nx, 0.0), dw_ref(nw, 0.0),
      dw_mag(nw, 0.0), db_ref(g.O, 0.0), db_mag(g.O, 0.0);
  for_each_term(g, [&](size_t xi, size_t wi, size_t yi) {
    double p = (double)x[xi] * w[wi];
    y_ref[yi] += p, y_mag[yi] += std::fabs(p);
    double q = (double)dy[yi] * w[wi];
    dx_ref[xi] += q, dx_mag[xi] += std::fabs(q);
    double r = (double)dy[yi] * x[xi];
    dw_ref[wi] += r, dw_mag[wi] += std::fabs(r);
  });
  if (bias)
    for (size_t i = 0; i < ny; ++i) {
      y_ref[i] += b[i % g.O], y_mag[i] += std::fabs(b[i % g.O]);
      db_ref[i % g.O] += dy[i], db_mag[i % g.O] += std::fabs(dy[i]);
    }

  std::vector<float> y(ny, NAN), dx(nx, NAN), dw(nw, NAN), db(g.O, NAN);
  // Twice: the second call runs on the cached plan.
  for (int rep = 0; rep < 2; ++rep) {
    conv2d_forward(g, x.data(), w.data(), bias ? b.data() : nullptr, y.data());
    expect_close(y, y_ref, y_mag, "y");
    conv2d_backward_data(g, dy.data(), w.data(), dx.data());
    expect_close(dx, dx_ref, dx_mag, "dx");
    conv2d_backward_weights(g, x.data(), dy.data(), dw.data(), bias ? db.data() : nullptr);
    expect_close(dw, dw_ref, dw_mag, "dw");
    if (bias) expect_close(db, db_ref, db_mag, "dbias");
  }
}

TEST(KernelsConv, SmallCnnLayers) {
  check_conv(geom(4, 28, 28, 1, 3, 3, 32, 1, 1, 1, 1, true, false), false, 1);
  check_conv(geom(3, 14, 14, 32, 3, 3, 64, 1, 1, 1, 1, true, false), false, 2);
  check_conv(geom(2, 7, 7, 64, 3, 3, 128, 1, 1, 1, 1, true, false), false, 3);
}

TEST(KernelsConv, StridesDilationPadding) {
  check_conv(geom(2, 9, 11, 3, 3, 3, 5, 2, 2, 1, 1, true, false), true, 4);     // SAME, odd sizes, asymmetric pad
  check_conv(geom(1, 10, 8, 5, 3, 2, 7, 2, 3, 1, 1, true, false), true, 5);     // stride 2x3, 3x2 kernel
  check_conv(geom(2, 12, 13, 4, 3, 3, 6, 1, 1, 2, 2, true, false), false, 6);   // dilation 2 SAME
  check_conv(geom(1, 12, 9, 3, 3, 2, 4, 1, 2, 2, 3, false, false), true, 7);    // dilation + stride VALID
  check_conv(geom(3, 8, 8, 2, 3, 3, 3, 2, 2, 1, 1, false, false), false, 8);    // VALID dropping the last row
  check_conv(geom(1, 5, 6, 7, 1, 1, 9, 1, 1, 1, 1, false, false), true, 9);     // 1x1
  check_conv(geom(2, 6, 7, 3, 5, 5, 2, 1, 1, 1, 1, true, false), true, 10);     // kernel near the image size
  check_conv(geom(1, 1, 1, 3, 1, 1, 2, 1, 1, 1, 1, true, false), true, 11);     // 1x1 image
  ConvGeom g = geom(2, 7, 6, 3, 3, 3, 4, 1, 1, 1, 1, false, false);            // explicit asymmetric padding
  g.pad_top = 2, g.pad_bottom = 0, g.pad_left = 0, g.pad_right = 1;
  g.OH = (g.H + 2 - 3) + 1, g.OW = (g.W + 1 - 3) + 1;
  check_conv(g, true, 12);
}

// 3x3 stride-1 convolutions with channels in multiples of 8 take the Winograd path (AVX2 CPUs).
TEST(KernelsConv, WinogradShapes) {
  check_conv(geom(2, 9, 11, 16, 3, 3, 24, 1, 1, 1, 1, true, false), true, 30);    // odd sizes: partial tiles
  check_conv(geom(3, 8, 7, 24, 3, 3, 16, 1, 1, 1, 1, false, false), false, 31);  // VALID
  check_conv(geom(1, 1, 1, 16, 3, 3, 16, 1, 1, 1, 1, true, false), true, 32);    // 1x1 image
  check_conv(geom(2, 5, 4, 40, 3, 3, 8, 1, 1, 1, 1, true, false), false, 33);    // OC = 8 (no 16-wide block)
  check_conv(geom(1, 8, 8, 8, 3, 3, 32, 1, 1, 1, 1, true, false), false, 34);    // IC = 8: direct fwd, Winograd bwd data
  ConvGeom g = geom(2, 7, 9, 16, 3, 3, 16, 1, 1, 1, 1, false, false);           // asymmetric explicit padding
  g.pad_top = 2, g.pad_bottom = 0, g.pad_left = 0, g.pad_right = 1;
  g.OH = g.H + 2 - 2, g.OW = g.W + 1 - 2;
  check_conv(g, true, 35);
  g = geom(1, 6, 6, 16, 3, 3, 16, 1, 1, 1, 1, false, false);                    // padding 3 (> kernel - 1)
  g.pad_top = 3, g.pad_bottom = 3, g.pad_left = 3, g.pad_right = 3;
  g.OH = g.OW = 6 + 6 - 2;
  check_conv(g, false, 36);
}

TEST(KernelsConv, Depthwise) {
  check_conv(geom(2, 14, 14, 16, 3, 3, 16, 1, 1, 1, 1, true, true), false, 20);  // MobileNet-style
  check_conv(geom(2, 15, 13, 8, 3, 3, 8, 2, 2, 1, 1, true, true), true, 21);     // stride 2, odd sizes
  check_conv(geom(1, 9, 9, 5, 3, 3, 10, 1, 1, 1, 1, true, true), true, 22);      // multiplier 2, odd C
  check_conv(geom(2, 10, 11, 3, 3, 3, 9, 2, 1, 2, 2, false, true), false, 23);   // multiplier 3, dilation
  check_conv(geom(1, 6, 6, 1, 3, 3, 4, 1, 1, 1, 1, true, true), true, 24);       // C = 1
  check_conv(geom(3, 8, 7, 7, 5, 5, 7, 2, 2, 1, 1, true, true), false, 25);      // 5x5
}

TEST(KernelsConv, BadGeometryThrows) {
  ConvGeom g = geom(1, 8, 8, 3, 3, 3, 4, 1, 1, 1, 1, true, false);
  g.OH = 9;
  std::vector<float> buf(4096);
  EXPECT_THROW(conv2d_forward(g, buf.data(), buf.data(), nullptr, buf.data()), qat::ShapeError);
  g = geom(1, 8, 8, 3, 3, 3, 4, 1, 1, 1, 1, true, true);  // depthwise O not a multiple of C
  EXPECT_THROW(conv2d_backward_data(g, buf.data(), buf.data(), buf.data()), qat::ShapeError);
  g = geom(1, 8, 8, 3, 3, 3, 4, 1, 1, 1, 1, true, false);
  g.stride_h = 0;
  EXPECT_THROW(conv2d_backward_weights(g, buf.data(), buf.data(), buf.data(), nullptr), qat::ShapeError);
}

}  // namespace
}  // namespace qat::ops::kernels
