#include "kernels/optimized/fma_stage.h"

#include <cmath>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "kernels/dispatch.h"
#include "kernels/env_flag.h"
#include "kernels/x86/fma_stage_x86.h"

namespace qat::kernels::optimized {

bool NoFmaStage() {
  static const bool v = EnvFlag("QAT_NO_FMA_STAGE");
  return v;
}

int32_t ApplyFmaStage(const FmaStage& s, int32_t x) {
  return (int32_t)std::nearbyint(std::fmaf((float)x, s.scale, x < 0 ? s.offset_neg : s.offset)) + s.center;
}

bool FindExactFmaStage(int32_t multiplier, int right, int lo, int hi, FmaStage* out) {
  if (!isa_supported(Isa::kAvx2)) return false;  // only the AVX2 kernels have the FMA form
  // Results are kept (the search takes ~4 us, and AllocateTensors packs every layer again after a
  // resize or a mode change): key multiplier, right shift and levels; at most 1M entries.
  struct Entry {
    bool found;
    FmaStage st;
  };
  static std::mutex mu;
  static std::unordered_map<uint64_t, Entry> cache;
  const uint64_t key = (uint64_t)(uint32_t)multiplier | (uint64_t)(right & 63) << 32 | (uint64_t)(lo & 511) << 38 |
                       (uint64_t)(hi & 511) << 47;
  {
    std::lock_guard<std::mutex> lk(mu);
    if (auto it = cache.find(key); it != cache.end()) {
      if (it->second.found) *out = it->second.st;
      return it->second.found;
    }
  }
  Entry e{false, {}};
  e.found = x86::FindExactFmaStageAvx2(multiplier, right, lo, hi, &e.st.scale, &e.st.offset, &e.st.offset_neg,
                                       &e.st.center);
  {
    std::lock_guard<std::mutex> lk(mu);
    if (cache.size() >= (1u << 20)) cache.clear();
    cache.emplace(key, e);
  }
  if (e.found) *out = e.st;
  return e.found;
}

}  // namespace qat::kernels::optimized
