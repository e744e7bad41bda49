// The optimised kernels' run-time path choice follows qat::active_isa(), which force_isa() lowers.
#include <gtest/gtest.h>

#include "kernels/dispatch.h"
#include "qat/cpu_features.h"

namespace qat::kernels {
namespace {

TEST(OptimizedDispatch, FollowsForcedIsa) {
  force_isa(Isa::kPortable);
  EXPECT_EQ(ActiveKernelPath(), KernelPath::kPortable);
  if (isa_supported(Isa::kAvx2)) {
    force_isa(Isa::kAvx2);
    EXPECT_EQ(ActiveKernelPath(), KernelPath::kAvx2);
  }
  clear_forced_isa();
  EXPECT_EQ(ActiveKernelPath(), KernelPathFor(active_isa()));
  // No AVX-512 VNNI kernel exists: such a CPU runs the AVX2 path.
  EXPECT_EQ(KernelPathFor(Isa::kAvx512Vnni), KernelPath::kAvx2);
}

}  // namespace
}  // namespace qat::kernels
