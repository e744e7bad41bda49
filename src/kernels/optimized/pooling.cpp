// Optimised pooling driver (see pooling.h): output rows split over the thread pool, AVX2 rows.
#include "kernels/optimized/pooling.h"

#include <algorithm>
#include <functional>

#include "kernels/optimized/parallel.h"
#include "kernels/reference/average_pool.h"
#include "kernels/reference/max_pool.h"
#include "kernels/x86/int8_x86.h"
#include "qat/thread_pool.h"

namespace qat::kernels::optimized {

namespace {
void Rows(const reference::PoolParams& p, ThreadPool* pool, const std::function<void(int b, int oy)>& row) {
  const int64_t rows = (int64_t)p.batches * p.output_h;
  auto body = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) row((int)(r / p.output_h), (int)(r % p.output_h));
  };
  // At least ~16K output values per range: below that a hand-off costs more than it saves.
  const int64_t row_values = std::max<int64_t>((int64_t)p.output_w * p.channels, 1);
  ParallelFor(pool, rows, std::max<int64_t>(1, (16 << 10) / row_values), body);
}

template <class T>
void Pool(const reference::PoolParams& p, const T* input, T* output, ThreadPool* pool, bool average) {
  const bool u8 = std::is_same_v<T, uint8_t>;
  Rows(p, pool, [&](int b, int oy) {
    x86::PoolRow r{input + (int64_t)b * p.input_h * p.input_w * p.channels, p.input_h, p.input_w, p.channels,
                   p.filter_h, p.filter_w, p.stride_h, p.stride_w, p.pad_top, p.pad_left, oy, p.output_w,
                   p.act_min, p.act_max, u8,
                   reinterpret_cast<uint8_t*>(output + ((int64_t)b * p.output_h + oy) * p.output_w * p.channels)};
    if (average)
      x86::AveragePoolRowAvx2(r);
    else
      x86::MaxPoolRowAvx2(r);
  });
}
void PoolFloat(const reference::PoolParams& p, const float* input, float* output, ThreadPool* pool, bool average) {
  Rows(p, pool, [&](int b, int oy) {
    x86::PoolRow r{input + (int64_t)b * p.input_h * p.input_w * p.channels, p.input_h, p.input_w, p.channels,
                   p.filter_h, p.filter_w, p.stride_h, p.stride_w, p.pad_top, p.pad_left, oy, p.output_w,
                   0, 0, false,
                   reinterpret_cast<uint8_t*>(output + ((int64_t)b * p.output_h + oy) * p.output_w * p.channels),
                   p.float_act.min, p.float_act.max};
    if (average)
      x86::AveragePoolFloatRowAvx2(r);
    else
      x86::MaxPoolFloatRowAvx2(r);
  });
}
}  // namespace

void MaxPoolFloat(const reference::PoolParams& p, const float* input, float* output, ThreadPool* pool,
                  KernelPath path) {
  if (path == KernelPath::kAvx2)
    PoolFloat(p, input, output, pool, false);
  else
    reference::MaxPoolFloat(p, input, output);
}
void AveragePoolFloat(const reference::PoolParams& p, const float* input, float* output, ThreadPool* pool,
                      KernelPath path) {
  if (path == KernelPath::kAvx2)
    PoolFloat(p, input, output, pool, true);
  else
    reference::AveragePoolFloat(p, input, output);
}

void MaxPoolInt8(const reference::PoolParams& p, const int8_t* input, int8_t* output, ThreadPool* pool,
                 KernelPath path) {
  if (path == KernelPath::kAvx2)
    Pool(p, input, output, pool, false);
  else
    reference::MaxPoolInt8(p, input, output);
}
void MaxPoolUint8(const reference::PoolParams& p, const uint8_t* input, uint8_t* output, ThreadPool* pool,
                  KernelPath path) {
  if (path == KernelPath::kAvx2)
    Pool(p, input, output, pool, false);
  else
    reference::MaxPoolUint8(p, input, output);
}
void AveragePoolInt8(const reference::PoolParams& p, const int8_t* input, int8_t* output, ThreadPool* pool,
                     KernelPath path) {
  if (path == KernelPath::kAvx2)
    Pool(p, input, output, pool, true);
  else
    reference::AveragePoolInt8(p, input, output);
}
void AveragePoolUint8(const reference::PoolParams& p, const uint8_t* input, uint8_t* output, ThreadPool* pool,
                      KernelPath path) {
  if (path == KernelPath::kAvx2)
    Pool(p, input, output, pool, true);
  else
    reference::AveragePoolUint8(p, input, output);
}

}  // namespace qat::kernels::optimized
