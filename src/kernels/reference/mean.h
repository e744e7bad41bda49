// MEAN reference kernels: the average over a set of axes of an up-to-6-D tensor.
#pragma once
#include <cstdint>

#include "kernels/reference/types.h"

namespace qat::kernels::reference {

struct MeanParams {
  int rank = 0;
  int dims[kMaxBroadcastRank] = {};       // input dims
  bool reduce[kMaxBroadcastRank] = {};    // axes averaged over
  // Quantized. TFLite 2.2 has three integer algorithms; Prepare picks one (see mean.cpp):
  enum class Algo : uint8_t { kSpatialMultiplier, kSameParams, kFloatRescale } algo = Algo::kSameParams;
  int32_t input_zp = 0, output_zp = 0;
  Requant multiplier;                     // kSpatialMultiplier: s_in / s_out
  float input_scale = 1.f, output_scale = 1.f;  // kFloatRescale
  // kFloatRescale: TFLite 2.2 adds 0.5 before its round-half-away (a bias later fixed upstream);
  // set in tflite mode, clear in xnnpack mode (LiteRT's newer kernel).
  bool legacy_half_bias = false;
  int64_t output_size() const;
  int64_t reduced_count() const;
};

void MeanFloat(const MeanParams& p, const float* input, float* output);
// Integer means need output_size() int32 sums of scratch memory (from the op's Prepare).
void MeanInt8(const MeanParams& p, const int8_t* input, int8_t* output, int32_t* scratch);
void MeanUint8(const MeanParams& p, const uint8_t* input, uint8_t* output, int32_t* scratch);

}  // namespace qat::kernels::reference
