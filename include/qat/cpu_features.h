// CPU feature detection (CPUID + XGETBV for OS support) and the run-time ISA choice.
#pragma once
#include <string>

namespace qat {

enum class Isa { kPortable = 0, kAvx2 = 1, kAvx512Vnni = 2 };

struct CpuFeatures {
  bool sse42 = false, avx = false, avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false, avx512vnni = false;
  bool avxvnni = false;
  bool amx_tile = false, amx_int8 = false;
  bool os_avx = false, os_avx512 = false;  // XCR0 says the OS saves the YMM / ZMM state
  bool os_amx = false;                     // XCR0 enables the tile state (XTILECFG, XTILEDATA)
  std::string vendor, brand;
};

const CpuFeatures& cpu_features();
// Best ISA this CPU and OS support.
Isa best_isa();
// The ISA kernels use: best_isa(), unless lowered by force_isa() or the QAT_ISA environment
// variable (portable|avx2|avx512vnni). Asking for an ISA the CPU lacks is an error.
Isa active_isa();
void force_isa(Isa isa);
void clear_forced_isa();
const char* isa_name(Isa isa);
Isa isa_from_name(const std::string& name);
bool isa_supported(Isa isa);
// AMX-INT8 tile instructions usable by this process: the CPU has AMX-TILE and AMX-INT8, XCR0 enables
// the tile state, and (Linux) the kernel granted the process the tile data state
// (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA), asked once, on the first call). The
// optimised int8 GEMM uses AMX on top of the avx512vnni path (kernels/dispatch.h); QAT_NO_AMX=1
// turns it off.
bool amx_int8_usable();
// Whether the optimised int8 GEMM runs on AMX by default: amx_int8_usable(), the active ISA is
// avx512vnni and QAT_NO_AMX is unset (or empty / "0").
bool amx_int8_enabled();

}  // namespace qat
