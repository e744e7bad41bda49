// The AVX-512 float kernels' own source (float_avx512vnni.cpp) compiled a second time on AVX2 flags,
// each AVX-512 intrinsic replaced by its scalar emulation (avx512_emulation.h), as
// x86::emulated::FloatGemmAvx512 / FloatGemmRowsAvx512 / DepthwiseFloatRowAvx512. Tests run them
// through conv_float.cpp and depthwise_float.cpp (SetFloatAvx512EmulationForTests) on CPUs without
// AVX-512. Never dispatched outside tests.
#define QAT_FLOAT512_EMULATED 1
#include "kernels/x86/float_avx512vnni.cpp"
