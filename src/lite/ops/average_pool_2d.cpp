// AVERAGE_POOL_2D (float32, int8, uint8): the shared pooling glue of pool_common.h with these kernels.
#include "kernels/reference/average_pool.h"
#include "kernels/optimized/pooling.h"
#include "lite/ops/pool_common.h"

namespace qat::lite::ops {
namespace {

struct AveragePoolKernels {
  static void Float(const ref::PoolParams& p, const float* x, float* y, ThreadPool* pool) {
    kernels::optimized::AveragePoolFloat(p, x, y, pool);
  }
  static void Int8(const ref::PoolParams& p, const int8_t* x, int8_t* y, ThreadPool* pool) {
    kernels::optimized::AveragePoolInt8(p, x, y, pool);
  }
  static void Uint8(const ref::PoolParams& p, const uint8_t* x, uint8_t* y, ThreadPool* pool) {
    kernels::optimized::AveragePoolUint8(p, x, y, pool);
  }
};

}  // namespace

OpRegistration Register_AVERAGE_POOL_2D() { return MakePoolRegistration<AveragePoolKernels>("AVERAGE_POOL_2D"); }

}  // namespace qat::lite::ops
