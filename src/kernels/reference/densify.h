// DENSIFY reference kernel: expands a TFLite sparse tensor (SparsityParameters) into its dense
// form. The sparse storage walks the "expanded" dims (the original dims, plus one per blocked
// dim holding the position inside the block) in traversal_order; level l is described by
// levels[l]: DENSE (a full range of dense_size) or SPARSE_CSR (segments/indices, as in CSR).
// The value index at the last level addresses the values buffer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace qat::kernels::reference {

struct DensifyLevel {
  bool sparse = false;            // SPARSE_CSR
  int dense_size = 0;             // DENSE
  std::vector<int32_t> segments;  // SPARSE_CSR: size = (parent positions + 1)
  std::vector<int32_t> indices;   // SPARSE_CSR: coordinate of each stored position
};

struct DensifyParams {
  std::vector<int> dense_shape;      // original dims (rank n)
  std::vector<int> traversal_order;  // n + k expanded dims
  std::vector<int> block_map;        // k: original dim of each block dim
  std::vector<DensifyLevel> levels;  // n + k, in traversal order
};

// Returns false if the sparse structure is inconsistent (an index out of range).
bool Densify(const DensifyParams& p, const void* values, int64_t value_count, void* output, size_t elem_size);

}  // namespace qat::kernels::reference
