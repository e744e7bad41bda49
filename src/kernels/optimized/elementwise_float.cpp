// Optimised float32 ADD / SUB / MUL driver (see elementwise_float.h).
#include "kernels/optimized/elementwise_float.h"

#include <algorithm>

#include "kernels/optimized/parallel.h"
#include "kernels/reference/activations.h"
#include "kernels/x86/float_x86.h"

namespace qat::kernels::optimized {

namespace {
// The portable twin of x86::BinaryFloatRowAvx2.
void RowPortable(int op, const float* a, int sa, const float* b, int sb, float* out, int64_t n, float lo, float hi) {
  for (int64_t i = 0; i < n; ++i) {
    const float x = a[i * sa], y = b[i * sb];
    const float v = op == 0 ? x + y : (op == 1 ? x - y : x * y);
    out[i] = std::min(std::max(v, lo), hi);
  }
}
}  // namespace

void BinaryFloat(BinaryFloatOp op, const reference::ArithmeticParams& p, const reference::BroadcastShape& s,
                 const float* in1, const float* in2, float* out, ThreadPool* pool, KernelPath path) {
  // Merge axes: keep axes of size > 1; fold axis d into the one before it when both inputs step
  // over the pair as over one axis.
  int rank = 0;
  int64_t dims[reference::kMaxBroadcastRank], st1[reference::kMaxBroadcastRank], st2[reference::kMaxBroadcastRank];
  for (int d = 0; d < s.rank; ++d) {
    if (s.dims[d] == 1) continue;
    if (rank > 0 && st1[rank - 1] == s.stride1[d] * s.dims[d] && st2[rank - 1] == s.stride2[d] * s.dims[d]) {
      dims[rank - 1] *= s.dims[d];
      st1[rank - 1] = s.stride1[d];
      st2[rank - 1] = s.stride2[d];
      continue;
    }
    dims[rank] = s.dims[d];
    st1[rank] = s.stride1[d];
    st2[rank] = s.stride2[d];
    ++rank;
  }
  const int64_t n = s.size();
  if (n == 0) return;
  if (rank == 0) {  // one element
    dims[0] = 1;
    st1[0] = st2[0] = 0;
    rank = 1;
  }
  const int64_t L = dims[rank - 1], s1 = st1[rank - 1], s2 = st2[rank - 1];
  const bool unit = (s1 == 0 || s1 == 1) && (s2 == 0 || s2 == 1);
  if (!unit) {
    switch (op) {
      case BinaryFloatOp::kAdd: return reference::AddFloat(p, s, in1, in2, out);
      case BinaryFloatOp::kSub: return reference::SubFloat(p, s, in1, in2, out);
      case BinaryFloatOp::kMul: return reference::MulFloat(p, s, in1, in2, out);
    }
  }
  const int opi = (int)op;
  const float lo = p.float_act.min, hi = p.float_act.max;
#if defined(__x86_64__) || defined(_M_X64)
  const bool avx2 = path != KernelPath::kPortable;
#else
  const bool avx2 = false;
#endif
  auto run = [&](const float* a, const float* b, float* o, int64_t len) {
#if defined(__x86_64__) || defined(_M_X64)
    if (avx2) return x86::BinaryFloatRowAvx2(opi, a, (int)s1, b, (int)s2, o, len, lo, hi);
#endif
    RowPortable(opi, a, (int)s1, b, (int)s2, o, len, lo, hi);
  };
  const int64_t rows = n / L;
#if defined(__x86_64__) || defined(_M_X64)
  // One operand a single row of L (a multiple of 8) values repeated for every row (a per-channel
  // broadcast: MediaPipe's squeeze-and-excite MULs of [1,H,W,C] by [1,1,1,C]): all rows in one call
  // (with 16 channels the per-row calls cost more than the arithmetic).
  if (avx2 && rank == 2 && s1 == 1 && s2 == 1 && L % 8 == 0 && L <= 1024 &&
      ((st1[0] == L && st2[0] == 0) || (st1[0] == 0 && st2[0] == L))) {
    const bool a_repeats = st1[0] == 0;
    ParallelFor(pool, rows, std::max<int64_t>(1, kElementwiseGrain / L), [&](int64_t r0, int64_t r1) {
      x86::BinaryFloatRowsRepeatAvx2(opi, a_repeats ? in1 : in1 + r0 * L, a_repeats ? in2 + r0 * L : in2, a_repeats,
                                     out + r0 * L, r1 - r0, (int)L, lo, hi);
    });
    return;
  }
#endif
  if (rows == 1) {  // one run: pieces of at least 16K elements
    ParallelFor(pool, L, kElementwiseGrain,
                [&](int64_t b, int64_t e) { run(in1 + b * s1, in2 + b * s2, out + b, e - b); });
    return;
  }
  ParallelFor(pool, rows, std::max<int64_t>(1, kElementwiseGrain / L), [&](int64_t r0, int64_t r1) {
    // Row r0's input offsets from its index on the outer axes, then stepped.
    int64_t idx[reference::kMaxBroadcastRank] = {};
    int64_t rem = r0, o1 = 0, o2 = 0;
    for (int d = rank - 2; d >= 0; --d) {
      idx[d] = rem % dims[d];
      rem /= dims[d];
      o1 += idx[d] * st1[d];
      o2 += idx[d] * st2[d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      run(in1 + o1, in2 + o2, out + r * L, L);
      for (int d = rank - 2; d >= 0; --d) {
        o1 += st1[d];
        o2 += st2[d];
        if (++idx[d] < dims[d]) break;
        o1 -= st1[d] * dims[d];
        o2 -= st2[d] * dims[d];
        idx[d] = 0;
      }
    }
  });
}

void HardSwishFloat(int64_t n, const float* in, float* out, ThreadPool* pool, KernelPath path) {
#if defined(__x86_64__) || defined(_M_X64)
  if (path != KernelPath::kPortable) {
    ParallelFor(pool, n, kElementwiseGrain, [&](int64_t b, int64_t e) { x86::HardSwishRowAvx2(in + b, out + b, e - b); });
    return;
  }
#endif
  (void)pool;
  reference::HardSwishFloat(n, in, out);
}

void ClampFloat(int64_t n, const float* in, float* out, float lo, float hi, ThreadPool* pool, KernelPath path) {
#if defined(__x86_64__) || defined(_M_X64)
  if (path != KernelPath::kPortable) {
    ParallelFor(pool, n, kElementwiseGrain, [&](int64_t b, int64_t e) { x86::ClampRowAvx2(in + b, out + b, e - b, lo, hi); });
    return;
  }
#endif
  (void)pool;
  reference::ReluXFloat(n, in, out, lo, hi);
}

void ApplyFloatResidual(const FloatResidual& res, int64_t offset, float* out, int64_t n, KernelPath path) {
  // The ADD's row kernel (op 0) in its operand order, in place (each value is read before it is
  // written).
  const float* a = res.first ? res.data + offset : out;
  const float* b = res.first ? out : res.data + offset;
#if defined(__x86_64__) || defined(_M_X64)
  if (path != KernelPath::kPortable) return x86::BinaryFloatRowAvx2(0, a, 1, b, 1, out, n, res.lo, res.hi);
#endif
  (void)path;
  RowPortable(0, a, 1, b, 1, out, n, res.lo, res.hi);
}

}  // namespace qat::kernels::optimized
