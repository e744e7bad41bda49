// The depthwise row kernel's vpdpwssd build (depthwise_avx512vnni.cpp) with the output stage on the
// two ymm halves, as before the zmm stage (x86::dpwssd_ymm_stage::DepthwiseRowAvx2). Only for A/B
// timing on VNNI CPUs: optimized/depthwise_conv.cpp picks it under QAT_NO_DW_ZMM_STAGE=1.
#define QAT_DW_DPWSSD 1
#define QAT_DW_YMM_STAGE 1
#include "kernels/x86/depthwise_avx2.cpp"
