// SOFTMAX over the last axis: out = exp(beta (x - max)) / sum exp(beta (x - max)).
#pragma once
#include <cstdint>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

struct SoftmaxParams {
  int64_t outer = 1;  // rows
  int depth = 0;      // last axis
  float beta = 1.f;
  float input_scale = 1.f;
  int32_t input_zp = 0;
  float output_scale = 1.f / 256;
  int32_t output_zp = -128;
  RequantMode requant = RequantMode::kTflite;
  // 8-bit: exp(-d * s_in * beta) for every difference d = max_q - q in [0, 255], built by
  // PrepareSoftmaxQuantized so that Eval evaluates no transcendental function.
  float exp_table[256] = {};
};

void PrepareSoftmaxQuantized(SoftmaxParams* p);

void SoftmaxFloat(const SoftmaxParams& p, const float* input, float* output);
// 8-bit softmax, computed in float32 from the table of exp(beta * s_in * (q - max_q)) and rounded
// per the mode: q_out = rnd(e_i / (sum e * s_out)) + Z_out. Not TFLite 2.2's gemmlowp fixed-point
// algorithm, yet measured bit-exact with it and with LiteRT (docs/requantization.md).
void SoftmaxInt8(const SoftmaxParams& p, const int8_t* input, int8_t* output);
void SoftmaxUint8(const SoftmaxParams& p, const uint8_t* input, uint8_t* output);

}  // namespace qat::kernels::reference
