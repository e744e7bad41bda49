// Shared pieces of the optimised integer kernels: an aligned buffer for packed weights and the
// per-channel requantization in "structure of arrays" form, which is what a SIMD epilogue loads
// (one vector per field for 8 consecutive output channels).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>

#include "kernels/quant_math.h"

namespace qat::kernels::optimized {

// 64-byte aligned allocator: packed weight panels start on cache lines, so a 32-byte vector load
// never splits across two lines.
template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) {
    size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes ? bytes : 64);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
};
template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

// Requantization of each output channel, split into the vectors the epilogues use.
//   kTflite : x << left, SaturatingRoundingDoublingHighMul(., multiplier), RoundingDivideByPOT(., right)
//             with mask = 2^right - 1 and half = mask >> 1 precomputed.
//   kXnnpack: float(x) * scale, rounded to nearest even.
struct RequantArrays {
  AlignedVector<int32_t> multiplier, left, right, mask, half;
  // multiplier_odd[i] = multiplier[i | 1]: vpmuldq reads the even lanes, so the odd lanes' Q31
  // multipliers are stored pre-shifted instead of shifted in every epilogue.
  AlignedVector<int32_t> multiplier_odd;
  AlignedVector<float> scale;
  bool any_left = false;  // some channel has a left shift (real multiplier >= 1)

  // count entries; requant_count == 1 repeats requant[0] (per-tensor); entries past `valid` are 0.
  void Init(const Requant* requant, int requant_count, int valid, int count) {
    multiplier.assign(count, 0);
    left.assign(count, 0);
    right.assign(count, 0);
    mask.assign(count, 0);
    half.assign(count, 0);
    scale.assign(count, 0.f);
    multiplier_odd.assign(count, 0);
    any_left = false;
    for (int i = 0; i < valid; ++i) {
      const Requant& r = requant[requant_count == 1 ? 0 : i];
      multiplier[i] = r.multiplier;
      left[i] = r.shift > 0 ? r.shift : 0;
      right[i] = r.shift > 0 ? 0 : -r.shift;
      mask[i] = (int32_t)((1LL << right[i]) - 1);
      half[i] = mask[i] >> 1;
      scale[i] = r.scale;
      any_left = any_left || left[i] != 0;
    }
    for (int i = 0; i < count; ++i) multiplier_odd[i] = multiplier[(i | 1) < count ? (i | 1) : i];
  }
};

// The output stage shared by every kernel: requantize acc (bias already added), add the output
// zero point, clamp. Scalar form, identical to the reference kernels' Apply + Clamp.
inline int32_t OutputStageScalar(RequantMode mode, const RequantArrays& rq, int c, int32_t acc, int32_t output_offset,
                                 int32_t act_min, int32_t act_max) {
  int32_t v;
  if (mode == RequantMode::kTflite) {
    const int32_t shifted = (int32_t)((uint32_t)acc << rq.left[c]);
    v = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(shifted, rq.multiplier[c]), rq.right[c]);
  } else {
    v = RequantizeFp32(acc, rq.scale[c]);
  }
  v = (int32_t)((uint32_t)v + (uint32_t)output_offset);
  return v < act_min ? act_min : (v > act_max ? act_max : v);
}

}  // namespace qat::kernels::optimized
