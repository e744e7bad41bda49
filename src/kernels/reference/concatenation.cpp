#include "kernels/reference/concatenation.h"

#include <cstring>

namespace qat::kernels::reference {

void Concatenation(const ConcatParams& p, const void* const* inputs, void* output, size_t elem_size) {
  auto* out = static_cast<uint8_t*>(output);
  for (int64_t o = 0; o < p.outer; ++o)
    for (int i = 0; i < p.num_inputs; ++i) {
      const size_t n = (size_t)(p.axis_sizes[i] * p.inner) * elem_size;
      std::memcpy(out, static_cast<const uint8_t*>(inputs[i]) + o * n, n);
      out += n;
    }
}

namespace {
template <class T>
void ConcatQuantized(const ConcatParams& p, const ConcatQuant* iq, ConcatQuant oq, const T* const* inputs, T* out) {
  constexpr float qmin = std::numeric_limits<T>::min(), qmax = std::numeric_limits<T>::max();
  for (int64_t o = 0; o < p.outer; ++o)
    for (int i = 0; i < p.num_inputs; ++i) {
      const int64_t n = p.axis_sizes[i] * p.inner;
      const T* in = inputs[i] + o * n;
      if (iq[i].scale == oq.scale && iq[i].zero_point == oq.zero_point) {
        std::memcpy(out, in, n * sizeof(T));
      } else {
        const float scale = iq[i].scale / oq.scale;
        const float bias = -(float)iq[i].zero_point * scale;
        for (int64_t k = 0; k < n; ++k) {
          const float v = std::round((float)in[k] * scale + bias) + (float)oq.zero_point;
          out[k] = (T)std::min(std::max(v, qmin), qmax);
        }
      }
      out += n;
    }
}
}  // namespace

void ConcatenationInt8(const ConcatParams& p, const ConcatQuant* input_quant, ConcatQuant output_quant,
                       const int8_t* const* inputs, int8_t* output) {
  ConcatQuantized(p, input_quant, output_quant, inputs, output);
}
void ConcatenationUint8(const ConcatParams& p, const ConcatQuant* input_quant, ConcatQuant output_quant,
                        const uint8_t* const* inputs, uint8_t* output) {
  ConcatQuantized(p, input_quant, output_quant, inputs, output);
}

}  // namespace qat::kernels::reference
