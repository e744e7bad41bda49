#include "kernels/reference/dequantize.h"

#include "qat/tensor.h"

namespace qat::kernels::reference {

namespace {
template <class T>
void DequantizeT(const DequantizeParams& p, int64_t n, const T* input, float* output) {
  for (int64_t i = 0; i < n; ++i) {
    const int c = p.count == 1 ? 0 : (int)((i / p.inner) % p.count);
    output[i] = p.scales[c] * (float)((int32_t)input[i] - (int32_t)p.zero_points[c]);
  }
}
}  // namespace

void DequantizeInt8(const DequantizeParams& p, int64_t n, const int8_t* input, float* output) {
  DequantizeT(p, n, input, output);
}
void DequantizeUint8(const DequantizeParams& p, int64_t n, const uint8_t* input, float* output) {
  DequantizeT(p, n, input, output);
}
void DequantizeInt16(const DequantizeParams& p, int64_t n, const int16_t* input, float* output) {
  DequantizeT(p, n, input, output);
}
void DequantizeFloat16(int64_t n, const uint16_t* input, float* output) {
  for (int64_t i = 0; i < n; ++i) output[i] = half_to_float(input[i]);
}

}  // namespace qat::kernels::reference
