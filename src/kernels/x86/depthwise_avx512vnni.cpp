// The depthwise row kernel (depthwise_avx2.cpp) on AVX-512 VNNI CPUs: the same source, a pixel's
// multiply-adds on one zmm register with one vpdpwssd per pair tap (instead of two vpmaddwd + two
// vpaddd on ymm halves), as x86::dpwssd::DepthwiseRowAvx2. Chosen by optimized/depthwise_conv.cpp
// where active_isa() is kAvx512Vnni.
#define QAT_DW_DPWSSD 1
#include "kernels/x86/depthwise_avx2.cpp"
