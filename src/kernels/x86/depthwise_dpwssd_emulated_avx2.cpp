// The depthwise row kernel's AVX-512 VNNI build (depthwise_avx512vnni.cpp) on the emulated AVX-512
// intrinsics of avx512_emulation.h (vpdpwssd lane by lane), as
// x86::dpwssd_emulated::DepthwiseRowAvx2: tests only (optimized::SetDepthwiseDpwssdEmulationForTests).
#define QAT_DW_DPWSSD_EMULATED 1
#include "kernels/x86/depthwise_avx2.cpp"
