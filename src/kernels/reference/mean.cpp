// MEAN. The sum over the reduced axes is accumulated per output element (row-major walk of the
// input; the output index drops the reduced axes). Integer algorithms, as TFLite 2.2's reduce.cc:
//  - kSpatialMultiplier (4-D input, axes {1, 2}: global average pooling written as MEAN):
//      acc = sum(q - Z_in); acc = MBQM(acc, s_in / s_out); acc = (acc +- n/2) / n; + Z_out
//  - kSameParams (input and output share scale and zero point): truncating sum / n.
//  - kFloatRescale (otherwise): round(float(sum)/n * s + (-Z_in * s)) + Z_out, s = s_in / s_out
//    (TFLite 2.2 adds 0.5 inside the round: legacy_half_bias).
#include "kernels/reference/mean.h"

namespace qat::kernels::reference {

int64_t MeanParams::output_size() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i)
    if (!reduce[i]) n *= dims[i];
  return n;
}
int64_t MeanParams::reduced_count() const {
  int64_t n = 1;
  for (int i = 0; i < rank; ++i)
    if (reduce[i]) n *= dims[i];
  return n;
}

namespace {
// Calls f(output_index, input_index) for every input element.
template <class F>
void ForEachReduced(const MeanParams& p, F&& f) {
  int64_t out_stride[kMaxBroadcastRank] = {};
  int64_t s = 1;
  for (int i = p.rank - 1; i >= 0; --i) {
    out_stride[i] = p.reduce[i] ? 0 : s;
    if (!p.reduce[i]) s *= p.dims[i];
  }
  int64_t total = 1;
  for (int i = 0; i < p.rank; ++i) total *= p.dims[i];
  int idx[kMaxBroadcastRank] = {};
  int64_t o = 0;
  for (int64_t i = 0; i < total; ++i) {
    f(o, i);
    for (int d = p.rank - 1; d >= 0; --d) {
      o += out_stride[d];
      if (++idx[d] < p.dims[d]) break;
      o -= out_stride[d] * p.dims[d];
      idx[d] = 0;
    }
  }
}

template <class T>
void MeanQuantized(const MeanParams& p, const T* input, T* output, int32_t* sum) {
  constexpr int32_t qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
  const int64_t n_out = p.output_size();
  const int32_t n = (int32_t)p.reduced_count();
  for (int64_t o = 0; o < n_out; ++o) sum[o] = 0;
  const int32_t zp_sub = p.algo == MeanParams::Algo::kSpatialMultiplier ? p.input_zp : 0;
  ForEachReduced(p, [&](int64_t o, int64_t i) { sum[o] += (int32_t)input[i] - zp_sub; });
  for (int64_t o = 0; o < n_out; ++o) {
    int32_t acc = sum[o];
    switch (p.algo) {
      case MeanParams::Algo::kSpatialMultiplier:
        acc = MultiplyByQuantizedMultiplier(acc, p.multiplier.multiplier, p.multiplier.shift);
        acc = acc > 0 ? (acc + n / 2) / n : (acc - n / 2) / n;
        acc += p.output_zp;
        break;
      case MeanParams::Algo::kSameParams:
        acc = acc / n;
        break;
      case MeanParams::Algo::kFloatRescale: {
        const float scale = p.input_scale / p.output_scale;
        const float bias = -(float)p.input_zp * scale + (p.legacy_half_bias ? 0.5f : 0.f);
        const float mean = (float)acc / (float)n;
        acc = (int32_t)std::min(std::max(std::round(mean * scale + bias) + (float)p.output_zp, (float)qmin),
                                (float)qmax);
        break;
      }
    }
    output[o] = (T)Clamp(acc, qmin, qmax);
  }
}
}  // namespace

void MeanFloat(const MeanParams& p, const float* input, float* output) {
  const int64_t n_out = p.output_size();
  for (int64_t o = 0; o < n_out; ++o) output[o] = 0.f;
  ForEachReduced(p, [&](int64_t o, int64_t i) { output[o] += input[i]; });
  const float n = (float)p.reduced_count();
  for (int64_t o = 0; o < n_out; ++o) output[o] /= n;
}
void MeanInt8(const MeanParams& p, const int8_t* input, int8_t* output, int32_t* scratch) {
  MeanQuantized(p, input, output, scratch);
}
void MeanUint8(const MeanParams& p, const uint8_t* input, uint8_t* output, int32_t* scratch) {
  MeanQuantized(p, input, output, scratch);
}

}  // namespace qat::kernels::reference
