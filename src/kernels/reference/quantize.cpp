#include "kernels/reference/quantize.h"

namespace qat::kernels::reference {

namespace {
template <class T>
void QuantizeT(int64_t n, const float* input, float scale, int32_t zp, RequantMode mode, T* output) {
  constexpr float qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
  const float inv = 1.f / scale;
  for (int64_t i = 0; i < n; ++i) {
    // Clamp in float before the integer conversion so huge inputs cannot overflow.
    const float r = mode == RequantMode::kTflite ? std::round(input[i] / scale) : std::nearbyint(input[i] * inv);
    output[i] = (T)std::min(std::max(r + (float)zp, qmin), qmax);
  }
}
}  // namespace

void QuantizeFloatToInt8(int64_t n, const float* input, float scale, int32_t zero_point, RequantMode mode,
                         int8_t* output) {
  QuantizeT(n, input, scale, zero_point, mode, output);
}
void QuantizeFloatToUint8(int64_t n, const float* input, float scale, int32_t zero_point, RequantMode mode,
                          uint8_t* output) {
  QuantizeT(n, input, scale, zero_point, mode, output);
}

void PrepareRequantize(float input_scale, int32_t input_zp, float output_scale, int32_t output_zp, bool output_is_int8,
                       RequantMode mode, RequantizeParams* p) {
  p->input_zp = input_zp;
  p->output_zp = output_zp;
  p->qmin = output_is_int8 ? -128 : 0;
  p->qmax = output_is_int8 ? 127 : 255;
  p->requant = MakeRequant((double)input_scale / (double)output_scale);
  p->mode = mode;
  volatile float ratio = input_scale / output_scale;
  p->xnn_multiplier = (ratio >= 0x1.0p-8f && ratio <= 0x1.0p+7f) ? (int32_t)std::nearbyint(256.f * ratio) : 0;
}

void Requantize8(const RequantizeParams& p, int64_t n, const void* input, bool input_is_int8, void* output,
                 bool output_is_int8) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t q = input_is_int8 ? (int32_t) static_cast<const int8_t*>(input)[i]
                                    : (int32_t) static_cast<const uint8_t*>(input)[i];
    const int32_t r = (p.mode == RequantMode::kXnnpack && p.xnn_multiplier != 0)
                          ? (((q - p.input_zp) * p.xnn_multiplier + 128) >> 8)
                          : MultiplyByQuantizedMultiplier(q - p.input_zp, p.requant.multiplier, p.requant.shift);
    const int32_t v = Clamp(r + p.output_zp, p.qmin, p.qmax);
    if (output_is_int8)
      static_cast<int8_t*>(output)[i] = (int8_t)v;
    else
      static_cast<uint8_t*>(output)[i] = (uint8_t)v;
  }
}

}  // namespace qat::kernels::reference
