// MaxPool (with argmax) / AvgPool forward and backward against naive loops, TF semantics: padding
// never wins a max and is not counted in an average.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <random>
#include <vector>

#include "ops/kernels/float_kernels.h"
#include "qat/error.h"

namespace qat::ops::kernels {
namespace {

PoolGeom geom(int N, int H, int W, int C, int KH, int KW, int sh, int sw, bool same) {
  PoolGeom g{};
  g.N = N, g.H = H, g.W = W, g.C = C, g.KH = KH, g.KW = KW, g.stride_h = sh, g.stride_w = sw;
  if (same) {
    g.OH = (H + sh - 1) / sh, g.OW = (W + sw - 1) / sw;
    int ph = std::max(0, (g.OH - 1) * sh + KH - H), pw = std::max(0, (g.OW - 1) * sw + KW - W);
    g.pad_top = ph / 2, g.pad_bottom = ph - ph / 2, g.pad_left = pw / 2, g.pad_right = pw - pw / 2;
  } else {
    g.OH = (H - KH) / sh + 1, g.OW = (W - KW) / sw + 1;
  }
  return g;
}

void check(const PoolGeom& g, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << "N=" << g.N << " H=" << g.H << " W=" << g.W << " C=" << g.C << " K=" << g.KH
                                  << "x" << g.KW << " s=" << g.stride_h << "," << g.stride_w << " pad=" << g.pad_top
                                  << "," << g.pad_left << "," << g.pad_bottom << "," << g.pad_right);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  size_t nx = (size_t)g.N * g.H * g.W * g.C, ny = (size_t)g.N * g.OH * g.OW * g.C;
  std::vector<float> x(nx), dy(ny);
  for (auto& v : x) v = u(rng);
  for (auto& v : dy) v = u(rng);
  std::vector<double> ymax(ny), yavg(ny), dxmax(nx, 0.0), dxavg(nx, 0.0);
  std::vector<int32_t> amax(ny);
  for (int n = 0; n < g.N; ++n)
    for (int oh = 0; oh < g.OH; ++oh)
      for (int ow = 0; ow < g.OW; ++ow)
        for (int c = 0; c < g.C; ++c) {
          size_t o = (((size_t)n * g.OH + oh) * g.OW + ow) * g.C + c;
          double best = -INFINITY, sum = 0;
          int arg = -1, count = 0;
          for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw) {
              int h = oh * g.stride_h - g.pad_top + kh, w = ow * g.stride_w - g.pad_left + kw;
              if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
              size_t i = (((size_t)n * g.H + h) * g.W + w) * g.C + c;
              if (x[i] > best) best = x[i], arg = (int)i;
              sum += x[i], ++count;
            }
          ymax[o] = best, amax[o] = arg, yavg[o] = sum / count;
          dxmax[arg] += dy[o];
          for (int kh = 0; kh < g.KH; ++kh)
            for (int kw = 0; kw < g.KW; ++kw) {
              int h = oh * g.stride_h - g.pad_top + kh, w = ow * g.stride_w - g.pad_left + kw;
              if (h < 0 || h >= g.H || w < 0 || w >= g.W) continue;
              dxavg[(((size_t)n * g.H + h) * g.W + w) * g.C + c] += dy[o] / count;
            }
        }
  std::vector<float> y(ny, NAN), dx(nx, NAN);
  std::vector<int32_t> arg(ny, -7);
  max_pool_forward(g, x.data(), y.data(), arg.data());
  for (size_t i = 0; i < ny; ++i) {
    ASSERT_EQ(y[i], (float)ymax[i]) << i;
    ASSERT_EQ(arg[i], amax[i]) << i;
  }
  std::vector<float> y2(ny, NAN);
  max_pool_forward(g, x.data(), y2.data(), nullptr);
  EXPECT_EQ(y, y2);
  max_pool_backward(g, dy.data(), arg.data(), dx.data());
  for (size_t i = 0; i < nx; ++i) ASSERT_NEAR(dx[i], dxmax[i], 1e-5) << i;
  avg_pool_forward(g, x.data(), y.data());
  for (size_t i = 0; i < ny; ++i) ASSERT_NEAR(y[i], yavg[i], 1e-5) << i;
  avg_pool_backward(g, dy.data(), dx.data());
  for (size_t i = 0; i < nx; ++i) ASSERT_NEAR(dx[i], dxavg[i], 1e-5) << i;
}

TEST(KernelsPool, Shapes) {
  check(geom(128, 28, 28, 32, 2, 2, 2, 2, false), 1);  // SmallCNN pool 1 (threaded)
  check(geom(4, 14, 14, 64, 2, 2, 2, 2, false), 2);
  check(geom(2, 7, 7, 3, 2, 2, 2, 2, true), 3);        // SAME, odd size: pad on the bottom / right
  check(geom(2, 7, 7, 3, 2, 2, 2, 2, false), 4);       // VALID drops the last row / col
  check(geom(1, 9, 8, 5, 3, 3, 2, 2, true), 5);        // overlapping windows
  check(geom(3, 6, 7, 1, 3, 2, 1, 1, true), 6);        // stride 1, C = 1
  check(geom(2, 7, 7, 6, 7, 7, 1, 1, false), 7);       // global pool
  check(geom(1, 5, 5, 2, 4, 4, 3, 3, true), 8);
}

TEST(KernelsPool, BadGeometryThrows) {
  PoolGeom g = geom(1, 8, 8, 3, 2, 2, 2, 2, false);
  g.OW = 5;
  std::vector<float> buf(1024);
  EXPECT_THROW(avg_pool_forward(g, buf.data(), buf.data()), qat::ShapeError);
  g = geom(1, 8, 8, 3, 2, 2, 2, 2, false);
  EXPECT_THROW(max_pool_backward(g, buf.data(), nullptr, buf.data()), qat::ShapeError);
}

}  // namespace
}  // namespace qat::ops::kernels
