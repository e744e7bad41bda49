// Shared helpers of the quantize tests.
#pragma once
#include <cstdint>

#include "qat/tensor.h"

namespace qat::quantize_test {

// A float32 tensor of `s` with values in [lo, hi], from a small LCG seeded by `seed` (reproducible).
inline Tensor rnd(const Shape& s, uint32_t seed, float lo, float hi) {
  Tensor t(DType::kFloat32, s);
  uint32_t x = seed * 2654435761u + 7;
  for (int64_t i = 0; i < t.size(); ++i) {
    x = x * 1664525u + 1013904223u;
    t.data<float>()[i] = lo + (hi - lo) * (float)((x >> 8) & 0xFFFF) / 65535.f;
  }
  return t;
}

}  // namespace qat::quantize_test
