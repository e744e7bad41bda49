// Optimised PAD (see pad.h).
#include "kernels/optimized/pad.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "kernels/optimized/parallel.h"

namespace qat::kernels::optimized {

namespace {
// n elements of elem_size bytes, each equal to value (zero: one memset).
inline void Fill(uint8_t* dst, int64_t n, size_t elem, const uint8_t* value, bool zero) {
  if (n <= 0) return;
  if (zero) {
    std::memset(dst, 0, (size_t)n * elem);
    return;
  }
  if (elem == 1) {
    std::memset(dst, value[0], (size_t)n);
    return;
  }
  // Doubling copies: the first element, then the filled prefix.
  std::memcpy(dst, value, elem);
  int64_t done = 1;
  while (done < n) {
    const int64_t m = std::min(done, n - done);
    std::memcpy(dst + done * elem, dst, (size_t)m * elem);
    done += m;
  }
}
}  // namespace

void Pad(const reference::PadParams& p, const void* input, void* output, size_t elem_size, const void* pad_value,
         ThreadPool* pool) {
  const auto* value = static_cast<const uint8_t*>(pad_value);
  bool zero = true;
  for (size_t i = 0; i < elem_size; ++i) zero = zero && value[i] == 0;
  auto* out = static_cast<uint8_t*>(output);
  const auto* in = static_cast<const uint8_t*>(input);
  if (p.rank == 0) {
    std::memcpy(out, in, elem_size);
    return;
  }
  // Merge trailing unpadded axes into the axis before them: axes [0, k] remain, the last with
  // `unit` elements of elem_size per index.
  int k = p.rank - 1;
  int64_t unit = 1;
  while (k > 0 && p.before[k] == 0 && p.after[k] == 0) {
    unit *= p.input_dims[k];
    --k;
  }
  const size_t ub = elem_size * (size_t)unit;  // bytes per index of axis k
  int64_t in_dims[reference::kMaxBroadcastRank] = {}, out_dims[reference::kMaxBroadcastRank] = {};
  for (int d = 0; d <= k; ++d) {
    in_dims[d] = p.input_dims[d];
    out_dims[d] = (int64_t)p.before[d] + p.input_dims[d] + p.after[d];
  }
  const int64_t row_out = out_dims[k], row_in = in_dims[k];
  int64_t rows = 1;
  for (int d = 0; d < k; ++d) rows *= out_dims[d];
  if (rows == 0 || row_out == 0 || unit == 0) return;  // an empty output (a zero-size axis)
  const size_t row_bytes = (size_t)row_out * ub;
  auto body = [&](int64_t r0, int64_t r1) {
    // The output row r0's index on axes [0, k) and its input row, if any.
    int64_t idx[reference::kMaxBroadcastRank] = {};
    int64_t rem = r0;
    for (int d = k - 1; d >= 0; --d) {
      idx[d] = rem % out_dims[d];
      rem /= out_dims[d];
    }
    for (int64_t r = r0; r < r1; ++r) {
      uint8_t* dst = out + (size_t)r * row_bytes;
      bool inside = row_in > 0;
      int64_t in_row = 0;
      for (int d = 0; d < k && inside; ++d) {
        const int64_t i = idx[d] - p.before[d];
        inside = i >= 0 && i < in_dims[d];
        in_row = in_row * in_dims[d] + i;
      }
      if (inside) {
        Fill(dst, (int64_t)p.before[k] * unit, elem_size, value, zero);
        std::memcpy(dst + (size_t)p.before[k] * ub, in + (size_t)in_row * row_in * ub, (size_t)row_in * ub);
        Fill(dst + (size_t)(p.before[k] + row_in) * ub, (int64_t)p.after[k] * unit, elem_size, value, zero);
      } else {
        Fill(dst, row_out * unit, elem_size, value, zero);
      }
      for (int d = k - 1; d >= 0; --d) {
        if (++idx[d] < out_dims[d]) break;
        idx[d] = 0;
      }
    }
  };
  // At least ~64 KiB per range.
  ParallelFor(pool, rows, std::max<int64_t>(1, (int64_t)((64 << 10) / std::max<size_t>(row_bytes, 1))), body);
}

}  // namespace qat::kernels::optimized
