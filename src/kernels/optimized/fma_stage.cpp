#include "kernels/optimized/fma_stage.h"

#include <cmath>
#include <cstdlib>

#include "kernels/dispatch.h"
#include "kernels/x86/fma_stage_x86.h"

namespace qat::kernels::optimized {

bool NoFmaStage() {
  static const bool v = [] {
    const char* e = std::getenv("QAT_NO_FMA_STAGE");
    return e && *e && *e != '0';
  }();
  return v;
}

int32_t ApplyFmaStage(const FmaStage& s, int32_t x) {
  return (int32_t)std::nearbyint(std::fmaf((float)x, s.scale, s.offset)) + 128;
}

bool FindExactFmaStage(int32_t multiplier, int right, int lo, int hi, FmaStage* out) {
  if (!isa_supported(Isa::kAvx2)) return false;  // only the AVX2 kernels have the FMA form
  FmaStage st;
  if (!x86::FindExactFmaStageAvx2(multiplier, right, lo, hi, &st.scale, &st.offset)) return false;
  *out = st;
  return true;
}

}  // namespace qat::kernels::optimized
