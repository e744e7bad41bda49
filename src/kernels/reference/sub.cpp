// SUB (see arithmetic.h): the ADD algorithm with the second scaled input subtracted, as TFLite
// does (raw = scaled1 - scaled2; negating the multiplier instead would round ties differently).
#include "kernels/reference/arithmetic.h"

namespace qat::kernels::reference {

template <class T>
void AddSubQuantizedT(const ArithmeticParams& p, const BroadcastShape& s, const T* in1, const T* in2, T* out,
                      bool subtract);  // add.cpp

void SubFloat(const ArithmeticParams& p, const BroadcastShape& s, const float* in1, const float* in2, float* out) {
  ForEachBroadcast(s, [&](int64_t o, int64_t i1, int64_t i2) { out[o] = ClampF(in1[i1] - in2[i2], p.float_act); });
}
void SubInt8(const ArithmeticParams& p, const BroadcastShape& s, const int8_t* in1, const int8_t* in2, int8_t* out) {
  AddSubQuantizedT(p, s, in1, in2, out, true);
}
void SubUint8(const ArithmeticParams& p, const BroadcastShape& s, const uint8_t* in1, const uint8_t* in2,
              uint8_t* out) {
  AddSubQuantizedT(p, s, in1, in2, out, true);
}

}  // namespace qat::kernels::reference
