#include "kernels/reference/pad.h"

#include <cstring>

namespace qat::kernels::reference {

void Pad(const PadParams& p, const void* input, void* output, size_t elem_size, const void* pad_value) {
  int64_t out_dims[kMaxBroadcastRank], out_stride[kMaxBroadcastRank];
  int64_t total = 1;
  for (int i = p.rank - 1; i >= 0; --i) {
    out_dims[i] = (int64_t)p.before[i] + p.input_dims[i] + p.after[i];
    out_stride[i] = total;
    total *= out_dims[i];
  }
  auto* out = static_cast<uint8_t*>(output);
  for (int64_t i = 0; i < total; ++i) std::memcpy(out + i * elem_size, pad_value, elem_size);
  // Copy input rows (the innermost dimension is contiguous in both tensors).
  const int inner = p.rank > 0 ? p.input_dims[p.rank - 1] : 1;
  int64_t rows = 1;
  for (int i = 0; i + 1 < p.rank; ++i) rows *= p.input_dims[i];
  const auto* in = static_cast<const uint8_t*>(input);
  int idx[kMaxBroadcastRank] = {};
  for (int64_t r = 0; r < rows; ++r) {
    int64_t o = p.rank > 0 ? p.before[p.rank - 1] : 0;
    for (int d = 0; d + 1 < p.rank; ++d) o += (idx[d] + p.before[d]) * out_stride[d];
    if (inner > 0) std::memcpy(out + o * elem_size, in + r * inner * elem_size, inner * elem_size);
    for (int d = p.rank - 2; d >= 0; --d) {
      if (++idx[d] < p.input_dims[d]) break;
      idx[d] = 0;
    }
  }
}

}  // namespace qat::kernels::reference
