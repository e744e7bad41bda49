#include "kernels/reference/densify.h"

#include <cstring>

namespace qat::kernels::reference {

namespace {
struct Walker {
  const DensifyParams& p;
  const uint8_t* values;
  int64_t value_count;
  uint8_t* out;
  size_t elem;
  std::vector<int> coords;      // per expanded dim
  std::vector<int> block_size;  // per block dim
  std::vector<int> block_of;    // per original dim: block dim index or -1
  std::vector<int64_t> stride;  // per original dim
  bool ok = true;

  void Leaf(int64_t idx) {
    if (idx < 0 || idx >= value_count) {
      ok = false;
      return;
    }
    int64_t off = 0;
    const int n = (int)p.dense_shape.size();
    for (int d = 0; d < n; ++d) {
      int64_t c = coords[d];
      if (block_of[d] >= 0) c = c * block_size[block_of[d]] + coords[n + block_of[d]];
      if (c < 0 || c >= p.dense_shape[d]) {
        ok = false;
        return;
      }
      off += c * stride[d];
    }
    std::memcpy(out + off * elem, values + idx * elem, elem);
  }

  void Walk(size_t level, int64_t prev) {
    if (!ok) return;
    if (level == p.levels.size()) return Leaf(prev);
    const DensifyLevel& L = p.levels[level];
    const int d = p.traversal_order[level];
    if (!L.sparse) {
      for (int i = 0; i < L.dense_size; ++i) {
        coords[d] = i;
        Walk(level + 1, prev * L.dense_size + i);
      }
    } else {
      if (prev < 0 || prev + 1 >= (int64_t)L.segments.size()) {
        ok = false;
        return;
      }
      for (int32_t k = L.segments[prev]; k < L.segments[prev + 1]; ++k) {
        if (k < 0 || k >= (int32_t)L.indices.size()) {
          ok = false;
          return;
        }
        coords[d] = L.indices[k];
        Walk(level + 1, k);
      }
    }
  }
};
}  // namespace

bool Densify(const DensifyParams& p, const void* values, int64_t value_count, void* output, size_t elem_size) {
  const int n = (int)p.dense_shape.size(), k = (int)p.block_map.size();
  if ((int)p.traversal_order.size() != n + k || p.levels.size() != p.traversal_order.size()) return false;
  Walker w{p, static_cast<const uint8_t*>(values), value_count, static_cast<uint8_t*>(output), elem_size, {}, {}, {}, {}};
  w.coords.assign(n + k, 0);
  w.block_size.assign(k, 1);
  w.block_of.assign(n, -1);
  w.stride.assign(n, 1);
  for (int d = n - 2; d >= 0; --d) w.stride[d] = w.stride[d + 1] * p.dense_shape[d + 1];
  for (int j = 0; j < k; ++j) {
    if (p.block_map[j] < 0 || p.block_map[j] >= n) return false;
    w.block_of[p.block_map[j]] = j;
    for (int l = 0; l < n + k; ++l)
      if (p.traversal_order[l] == n + j) w.block_size[j] = p.levels[l].dense_size;
  }
  for (int l = 0; l < n + k; ++l)
    if (p.traversal_order[l] < 0 || p.traversal_order[l] >= n + k) return false;
  int64_t total = 1;
  for (int d : p.dense_shape) total *= d;
  std::memset(output, 0, (size_t)total * elem_size);
  w.Walk(0, 0);
  return w.ok;
}

}  // namespace qat::kernels::reference
