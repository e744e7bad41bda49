// DEPTH_TO_SPACE (NHWC, TFLite/TF "DCR" order):
//   out[b, h*bs + dy, w*bs + dx, c] = in[b, h, w, (dy*bs + dx) * out_c + c]
#pragma once
#include <cstddef>
#include <cstdint>

namespace qat::kernels::reference {

struct DepthToSpaceParams {
  int batches = 1, input_h = 0, input_w = 0, input_c = 0;
  int block_size = 1;
};

void DepthToSpace(const DepthToSpaceParams& p, const void* input, void* output, size_t elem_size);

}  // namespace qat::kernels::reference
