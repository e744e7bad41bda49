// The depthwise row kernel's vpdpwssd build (depthwise_avx512vnni.cpp) with vpdpwssd emulated lane
// by lane on AVX2 (x86::dpwssd_emulated::DepthwiseRowAvx2): tests only
// (optimized::SetDepthwiseDpwssdEmulationForTests).
#define QAT_DW_DPWSSD_EMULATED 1
#include "kernels/x86/depthwise_avx2.cpp"
