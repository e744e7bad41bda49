// matmul (row-major SGEMM with transposes, leading dimensions, alpha / beta) against a naive
// double-precision loop.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "ops/kernels/float_kernels.h"
#include "qat/error.h"

namespace qat::ops::kernels {
namespace {

void check(bool ta, bool tb, int M, int N, int K, float alpha, float beta, int pad, uint32_t seed) {
  SCOPED_TRACE(testing::Message() << "ta=" << ta << " tb=" << tb << " M=" << M << " N=" << N << " K=" << K
                                  << " alpha=" << alpha << " beta=" << beta << " pad=" << pad);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
  std::vector<float> A((size_t)(ta ? K : M) * lda), B((size_t)(tb ? N : K) * ldb), C((size_t)M * ldc);
  for (auto& v : A) v = u(rng);
  for (auto& v : B) v = u(rng);
  for (auto& v : C) v = beta == 0.f ? NAN : u(rng);  // beta = 0 must ignore C (NaN included)
  std::vector<float> C0 = C;
  matmul(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
  int bad = 0;
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      double s = 0, mag = 0;
      for (int k = 0; k < K; ++k) {
        double p = (double)(ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k]) *
                   (tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j]);
        s += p, mag += std::fabs(p);
      }
      double ref = alpha * s + (beta == 0.f ? 0.0 : beta * (double)C0[(size_t)i * ldc + j]);
      double tol = 1e-4 * (std::fabs(alpha) * mag + std::fabs(beta) + 1e-3);
      float got = C[(size_t)i * ldc + j];
      if (!(std::fabs(got - ref) <= tol) && bad++ < 5) ADD_FAILURE() << "C[" << i << "," << j << "] = " << got << " expected " << ref;
    }
  // Padding columns of C are not touched.
  for (int i = 0; i < M; ++i)
    for (int j = N; j < ldc; ++j) {
      float a = C[(size_t)i * ldc + j], b = C0[(size_t)i * ldc + j];
      EXPECT_TRUE(a == b || (std::isnan(a) && std::isnan(b)));
    }
}

TEST(KernelsMatmul, AllTransposes) {
  uint32_t seed = 1;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      check(ta, tb, 128, 10, 128, 1.f, 0.f, 0, seed++);  // SmallCNN dense forward
      check(ta, tb, 37, 29, 53, 0.5f, 1.f, 3, seed++);
      check(ta, tb, 1, 7, 300, -2.f, 0.25f, 1, seed++);
      check(ta, tb, 65, 1, 1, 1.f, 0.f, 0, seed++);
    }
}

TEST(KernelsMatmul, EdgeCases) {
  check(false, false, 3, 4, 0, 1.f, 0.5f, 0, 7);  // K = 0: only beta * C
  check(false, false, 3, 4, 0, 1.f, 0.f, 0, 8);
  std::vector<float> a(16), b(16), c(16);
  matmul(false, false, 0, 4, 4, 1.f, a.data(), 4, b.data(), 4, 0.f, c.data(), 4);  // empty: no-op
  EXPECT_THROW(matmul(false, false, 4, 4, 4, 1.f, a.data(), 3, b.data(), 4, 0.f, c.data(), 4), qat::ShapeError);
}

}  // namespace
}  // namespace qat::ops::kernels
