// Row-major SGEMM for Dense / MatMul forward and backward, through oneDNN's dnnl_sgemm (JIT AVX2
// kernels, OpenMP threads = qat::num_threads()). No primitive to cache: dnnl_sgemm keeps its own.
#include <oneapi/dnnl/dnnl.h>

#include "ops/kernels/float_kernels.h"
#include "qat/error.h"

namespace qat::ops::kernels {

void matmul(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
            const float* B, int ldb, float beta, float* C, int ldc) {
  QAT_CHECK_T(ShapeError, M >= 0 && N >= 0 && K >= 0, "matmul: negative size M={} N={} K={}", M, N, K);
  if (M == 0 || N == 0) return;
  QAT_CHECK_T(ShapeError, lda >= (trans_a ? M : K) && ldb >= (trans_b ? K : N) && ldc >= N,
              "matmul: leading dimensions lda={} ldb={} ldc={} too small for M={} N={} K={}{}{}", lda, ldb, ldc, M, N,
              K, trans_a ? " trans_a" : "", trans_b ? " trans_b" : "");
  if (K == 0) {  // op(A) * op(B) is zero; only the beta term is left.
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) C[(int64_t)i * ldc + j] = beta == 0.f ? 0.f : beta * C[(int64_t)i * ldc + j];
    return;
  }
  dnnl_status_t st = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  QAT_CHECK(st == dnnl_success, "matmul: dnnl_sgemm failed (status {}) for M={} N={} K={}", (int)st, M, N, K);
}

}  // namespace qat::ops::kernels
