// Optimised ADD driver (see add.h): recognises the contiguous cases, splits them over the pool.
#include "kernels/optimized/add.h"

#include "kernels/optimized/parallel.h"
#include "kernels/x86/int8_x86.h"
#include "qat/thread_pool.h"

namespace qat::kernels::optimized {

namespace {
// 0: in2 has the output's shape (both contiguous); 1: in2 is one value; -1: anything else.
int Pattern(const reference::BroadcastShape& s) {
  bool same = true, scalar2 = true;
  int64_t inner = 1;
  for (int d = s.rank - 1; d >= 0; --d) {
    if (s.dims[d] != 1) {
      if (s.stride1[d] != inner) return -1;  // in1 must always be the output's shape
      if (s.stride2[d] != inner) same = false;
      if (s.stride2[d] != 0) scalar2 = false;
    }
    inner *= s.dims[d];
  }
  return same ? 0 : (scalar2 ? 1 : -1);
}

template <class T>
bool Fast(const reference::ArithmeticParams& p, const reference::BroadcastShape& s, const T* in1, const T* in2,
          T* out, ThreadPool* pool) {
  const int pattern = Pattern(s);
  if (pattern < 0) return false;
  const int64_t n = s.size();
  x86::AddParams a{p.input1_offset, p.input2_offset, p.output_offset, p.left_shift,
                   p.input1.multiplier, p.input1.shift, p.input2.multiplier, p.input2.shift,
                   p.output.multiplier, p.output.shift, p.act_min, p.act_max, 1, std::is_same_v<T, uint8_t>,
                   p.requant == RequantMode::kXnnpack, p.xnn_multiplier1, p.xnn_multiplier2, p.xnn_bias,
                   p.xnn_shift};
  const int64_t stride2 = pattern == 0 ? 1 : 0;
  auto body = [&](int64_t b, int64_t e) { x86::AddAvx2(a, in1 + b, in2 + b * stride2, stride2, out + b, e - b); };
  ParallelFor(pool, n, 16384, body);
  return true;
}
}  // namespace

void AddInt8(const reference::ArithmeticParams& p, const reference::BroadcastShape& s, const int8_t* in1,
             const int8_t* in2, int8_t* out, ThreadPool* pool, KernelPath path) {
  if (path == KernelPath::kAvx2 && Fast(p, s, in1, in2, out, pool)) return;
  reference::AddInt8(p, s, in1, in2, out);
}

void AddUint8(const reference::ArithmeticParams& p, const reference::BroadcastShape& s, const uint8_t* in1,
              const uint8_t* in2, uint8_t* out, ThreadPool* pool, KernelPath path) {
  if (path == KernelPath::kAvx2 && Fast(p, s, in1, in2, out, pool)) return;
  reference::AddUint8(p, s, in1, in2, out);
}

}  // namespace qat::kernels::optimized
