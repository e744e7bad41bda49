// Private: pooling geometry helpers shared by pool.cpp and batch_norm_act_pool.cpp.
#pragma once
#include <algorithm>

#include "ops/kernels/float_kernels.h"

namespace qat::ops::kernels::detail {

// Throws ShapeError naming `op` unless the geometry is valid and OH / OW match it.
void check_pool_geom(const PoolGeom& g, const char* op);

// The window of output (oh, ow) clipped to the image: rows [h0, h1), cols [w0, w1).
struct Window {
  int h0, h1, w0, w1;
};
inline Window window(const PoolGeom& g, int oh, int ow) {
  int hs = oh * g.stride_h - g.pad_top, ws = ow * g.stride_w - g.pad_left;
  return {std::max(hs, 0), std::min(hs + g.KH, g.H), std::max(ws, 0), std::min(ws + g.KW, g.W)};
}

}  // namespace qat::ops::kernels::detail
