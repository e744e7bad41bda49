// FULLY_CONNECTED reference kernels (see fully_connected.h): one dot product per output, with the
// input row and the weight row both contiguous.
#include "kernels/reference/fully_connected.h"

namespace qat::kernels::reference {

void FullyConnectedFloat(const FullyConnectedParams& p, const float* input, const float* weights, const float* bias,
                         float* output) {
  const int K = p.input_depth, N = p.output_depth;
  for (int b = 0; b < p.batches; ++b)
    for (int o = 0; o < N; ++o) {
      // acc = bias, then k in order: XNNPACK's GEMM order (see conv.h).
      const float* x = input + (int64_t)b * K;
      const float* w = weights + (int64_t)o * K;
      float acc = bias ? bias[o] : 0.f;
      for (int k = 0; k < K; ++k) acc += w[k] * x[k];
      output[(int64_t)b * N + o] = ClampF(acc, p.float_act);
    }
}

void FullyConnectedInt8(const FullyConnectedParams& p, const Requant* requant, int requant_count, const int8_t* input,
                        const int8_t* weights, const int32_t* bias, int8_t* output) {
  const int K = p.input_depth, N = p.output_depth;
  for (int b = 0; b < p.batches; ++b)
    for (int o = 0; o < N; ++o) {
      const int8_t* x = input + (int64_t)b * K;
      const int8_t* w = weights + (int64_t)o * K;
      int32_t acc = 0;
      for (int k = 0; k < K; ++k) acc += (int32_t)w[k] * ((int32_t)x[k] + p.input_offset);
      if (bias) acc = WrapAdd(acc, bias[o]);
      acc = WrapAdd(Apply(p.requant, requant[requant_count == 1 ? 0 : o], acc), p.output_offset);
      output[(int64_t)b * N + o] = (int8_t)Clamp(acc, p.act_min, p.act_max);
    }
}

void FullyConnectedUint8(const FullyConnectedParams& p, const Requant& requant, const uint8_t* input,
                         const uint8_t* weights, const int32_t* bias, uint8_t* output) {
  const int K = p.input_depth, N = p.output_depth;
  for (int b = 0; b < p.batches; ++b)
    for (int o = 0; o < N; ++o) {
      const uint8_t* x = input + (int64_t)b * K;
      const uint8_t* w = weights + (int64_t)o * K;
      int32_t acc = 0;
      for (int k = 0; k < K; ++k) acc += ((int32_t)w[k] + p.filter_offset) * ((int32_t)x[k] + p.input_offset);
      if (bias) acc = WrapAdd(acc, bias[o]);
      acc = WrapAdd(Apply(p.requant, requant, acc), p.output_offset);
      output[(int64_t)b * N + o] = (uint8_t)Clamp(acc, p.act_min, p.act_max);
    }
}

void FullyConnectedHybridInt8(const FullyConnectedParams& p, const float* weight_scales, int weight_scale_count,
                              const float* input, const int8_t* weights, const float* bias, float* output) {
  const int K = p.input_depth, N = p.output_depth;
  for (int b = 0; b < p.batches; ++b)
    for (int o = 0; o < N; ++o) {
      const float* x = input + (int64_t)b * K;
      const int8_t* w = weights + (int64_t)o * K;
      float acc = 0.f;
      for (int k = 0; k < K; ++k) acc += x[k] * (float)w[k];
      acc *= weight_scales[weight_scale_count == 1 ? 0 : o];
      if (bias) acc += bias[o];
      output[(int64_t)b * N + o] = ClampF(acc, p.float_act);
    }
}

}  // namespace qat::kernels::reference
