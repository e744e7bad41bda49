// The search of optimized/fma_stage.h, compiled for AVX2 + FMA (fma_stage_avx2.cpp): its FMAs and
// roundings are the kernels' own instructions. Only optimized/fma_stage.cpp calls it, after
// checking the CPU.
#pragma once
#include <cstdint>

namespace qat::kernels::x86 {

// See optimized::FindExactFmaStage (offset_neg, center: optimized::FmaStage's).
bool FindExactFmaStageAvx2(int32_t multiplier, int right, int lo, int hi, float* scale, float* offset,
                           float* offset_neg, int* center);

}  // namespace qat::kernels::x86
