#include "kernels/reference/softmax.h"

namespace qat::kernels::reference {

void SoftmaxFloat(const SoftmaxParams& p, const float* input, float* output) {
  for (int64_t r = 0; r < p.outer; ++r) {
    const float* x = input + r * p.depth;
    float* y = output + r * p.depth;
    float mx = x[0];
    for (int i = 1; i < p.depth; ++i) mx = std::max(mx, x[i]);
    float sum = 0.f;
    for (int i = 0; i < p.depth; ++i) sum += (y[i] = std::exp((x[i] - mx) * p.beta));
    for (int i = 0; i < p.depth; ++i) y[i] /= sum;
  }
}

void PrepareSoftmaxQuantized(SoftmaxParams* p) {
  for (int d = 0; d < 256; ++d) p->exp_table[d] = std::exp(-(float)d * p->input_scale * p->beta);
}

namespace {
template <class T>
void SoftmaxQuantized(const SoftmaxParams& p, const T* input, T* output) {
  constexpr int32_t qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
  const float* table = p.exp_table;
  for (int64_t r = 0; r < p.outer; ++r) {
    const T* x = input + r * p.depth;
    T* y = output + r * p.depth;
    int32_t mx = x[0];
    for (int i = 1; i < p.depth; ++i) mx = std::max<int32_t>(mx, x[i]);
    float sum = 0.f;
    for (int i = 0; i < p.depth; ++i) sum += table[mx - x[i]];
    const float inv = 1.f / (sum * p.output_scale);
    for (int i = 0; i < p.depth; ++i) {
      const float v = table[mx - x[i]] * inv;
      const float rv = p.requant == RequantMode::kTflite ? std::round(v) : std::nearbyint(v);
      y[i] = (T)Clamp((int32_t)rv + p.output_zp, qmin, qmax);
    }
  }
}
}  // namespace

void SoftmaxInt8(const SoftmaxParams& p, const int8_t* input, int8_t* output) { SoftmaxQuantized(p, input, output); }
void SoftmaxUint8(const SoftmaxParams& p, const uint8_t* input, uint8_t* output) {
  SoftmaxQuantized(p, input, output);
}

}  // namespace qat::kernels::reference
