// DEQUANTIZE reference kernels: real = s * (q - Z) in float32; float16 weights are widened
// exactly (qat::half_to_float). Per-channel: scale/zp per slice of the quantized dimension.
#pragma once
#include <cstdint>

namespace qat::kernels::reference {

struct DequantizeParams {
  const float* scales = nullptr;      // count entries
  const int64_t* zero_points = nullptr;
  int count = 1;                      // 1: per-tensor
  int64_t inner = 1;                  // product of the dims after the quantized dimension
};

void DequantizeInt8(const DequantizeParams& p, int64_t n, const int8_t* input, float* output);
void DequantizeUint8(const DequantizeParams& p, int64_t n, const uint8_t* input, float* output);
void DequantizeInt16(const DequantizeParams& p, int64_t n, const int16_t* input, float* output);
void DequantizeFloat16(int64_t n, const uint16_t* input, float* output);

}  // namespace qat::kernels::reference
