#include "kernels/reference/depth_to_space.h"

#include <cstring>

namespace qat::kernels::reference {

void DepthToSpace(const DepthToSpaceParams& p, const void* input, void* output, size_t elem_size) {
  const int bs = p.block_size, oc = p.input_c / (bs * bs);
  const int oh = p.input_h * bs, ow = p.input_w * bs;
  const auto* in = static_cast<const uint8_t*>(input);
  auto* out = static_cast<uint8_t*>(output);
  for (int b = 0; b < p.batches; ++b)
    for (int h = 0; h < p.input_h; ++h)
      for (int w = 0; w < p.input_w; ++w)
        for (int dy = 0; dy < bs; ++dy)
          for (int dx = 0; dx < bs; ++dx) {
            const int64_t src = (((int64_t)b * p.input_h + h) * p.input_w + w) * p.input_c + (dy * bs + dx) * oc;
            const int64_t dst = (((int64_t)b * oh + h * bs + dy) * ow + w * bs + dx) * oc;
            std::memcpy(out + dst * elem_size, in + src * elem_size, oc * elem_size);
          }
}

}  // namespace qat::kernels::reference
