// Run-time choice of the optimised integer kernels' instruction set.
//
// Every optimised kernel (src/kernels/optimized/) has a portable C++ path and an AVX2 path
// (src/kernels/x86/*_avx2.cpp, compiled with -mavx2 -mfma). The path is chosen on every call
// from qat::active_isa(), i.e. CPUID + XGETBV, lowered by qat::force_isa() (tests) or by the
// QAT_ISA environment variable (portable|avx2|avx512vnni). No AVX-512 VNNI kernel is written yet:
// an AVX-512 VNNI machine also has AVX2 and runs the AVX2 path, so KernelIsa() maps it there.
#pragma once
#include "qat/cpu_features.h"

namespace qat::kernels {

enum class KernelPath { kPortable = 0, kAvx2 = 1 };

inline KernelPath KernelPathFor(Isa isa) { return isa == Isa::kPortable ? KernelPath::kPortable : KernelPath::kAvx2; }
inline KernelPath ActiveKernelPath() { return KernelPathFor(active_isa()); }
inline const char* KernelPathName(KernelPath p) { return p == KernelPath::kPortable ? "portable" : "avx2"; }

}  // namespace qat::kernels
