// The AVX-512 VNNI GEMM's own source (gemm_avx512vnni.cpp: the 8 x 32 vpdpbusd tile, its zmm output
// stage, the u8 copy) compiled a second time on AVX2 flags, each AVX-512 intrinsic replaced by its
// scalar emulation (avx512_emulation.h), as x86::emulated::GemmTileVnni / CopyRowsVnni. Tests run
// it through conv.cpp (SetVnniEmulationForTests) on CPUs without AVX-512, so the kernel's indexing,
// tails, masks and output stage are checked bit-exact against the reference kernels there too.
// Never dispatched outside tests.
#define QAT_VNNI_EMULATED 1
#include "kernels/x86/gemm_avx512vnni.cpp"
