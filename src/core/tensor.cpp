#include "qat/tensor.h"

#include <cmath>
#include <cstring>
#include <new>

namespace qat {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kFloat32: return 4;
    case DType::kInt32: return 4;
    case DType::kInt64: return 8;
    case DType::kUInt8: return 1;
    case DType::kInt8: return 1;
    case DType::kFloat16: return 2;
    case DType::kInt16: return 2;
  }
  fail("dtype_size: unknown dtype {}", (int)t);
}

static const char* const kNames[kDTypeCount] = {"float32", "int32", "int64", "uint8", "int8", "float16", "int16"};
static_assert(sizeof(kNames) / sizeof(kNames[0]) == kDTypeCount, "dtype name table out of date");

const char* dtype_name(DType t) {
  int i = (int)t;
  return (i >= 0 && i < kDTypeCount) ? kNames[i] : "invalid";
}

DType dtype_from_name(const std::string& name) {
  for (int i = 0; i < kDTypeCount; ++i)
    if (name == kNames[i]) return (DType)i;
  fail<UsageError>("unknown dtype '{}'", name);
}

int64_t num_elements(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) {
    QAT_CHECK_T(ShapeError, d >= 0, "negative dimension in shape {}", shape_str(s));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

namespace {
struct AlignedDelete {
  void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t(64)); }
};
}  // namespace

Tensor::Tensor(DType dtype, Shape shape) : shape_(std::move(shape)), dtype_(dtype) {
  size_ = num_elements(shape_);
  size_t bytes = std::max<size_t>(nbytes(), 1);
  auto* p = static_cast<std::byte*>(::operator new[](bytes, std::align_val_t(64)));
  std::memset(p, 0, bytes);
  storage_ = std::shared_ptr<std::byte[]>(p, AlignedDelete());
}

Tensor Tensor::filled(const Shape& shape, float value) {
  Tensor t(DType::kFloat32, shape);
  t.fill(value);
  return t;
}

Tensor Tensor::from_vector(const Shape& shape, const std::vector<float>& values) {
  return from_span<float>(shape, std::span<const float>(values));
}

int64_t Tensor::dim(int i) const {
  int r = rank();
  if (i < 0) i += r;
  QAT_CHECK_T(ShapeError, i >= 0 && i < r, "dim({}) out of range for shape {}", i, shape_str(shape_));
  return shape_[i];
}

Tensor Tensor::clone() const {
  if (!defined()) return {};
  Tensor t(dtype_, shape_);
  std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

Tensor Tensor::reshaped(Shape shape) const {
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      QAT_CHECK_T(ShapeError, infer < 0, "reshape: more than one -1 in {}", shape_str(shape));
      infer = (int)i;
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    QAT_CHECK_T(ShapeError, known > 0 && size_ % known == 0, "reshape: cannot reshape {} to {}", shape_str(shape_),
                shape_str(shape));
    shape[infer] = size_ / known;
  }
  QAT_CHECK_T(ShapeError, num_elements(shape) == size_, "reshape: cannot reshape {} ({} elements) to {}",
              shape_str(shape_), size_, shape_str(shape));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

void Tensor::fill(float v) {
  float* p = data<float>();
  for (int64_t i = 0; i < size_; ++i) p[i] = v;
}

double Tensor::at(int64_t i) const {
  QAT_CHECK(i >= 0 && i < size_, "Tensor::at({}) out of range (size {})", i, size_);
  switch (dtype_) {
    case DType::kFloat32: return reinterpret_cast<const float*>(raw())[i];
    case DType::kInt32: return reinterpret_cast<const int32_t*>(raw())[i];
    case DType::kInt64: return (double)reinterpret_cast<const int64_t*>(raw())[i];
    case DType::kUInt8: return reinterpret_cast<const uint8_t*>(raw())[i];
    case DType::kInt8: return reinterpret_cast<const int8_t*>(raw())[i];
    case DType::kInt16: return reinterpret_cast<const int16_t*>(raw())[i];
    case DType::kFloat16: return half_to_float(reinterpret_cast<const uint16_t*>(raw())[i]);
  }
  return 0;
}

std::string Tensor::str(int max_values) const {
  std::string r = fmt::format("{}{} {{", dtype_name(dtype_), shape_str(shape_));
  for (int64_t i = 0; i < size_ && i < max_values; ++i) r += fmt::format("{}{:g}", i ? ", " : "", at(i));
  if (size_ > max_values) r += ", ...";
  return r + "}";
}

void Tensor::check_type(DType want) const {
  QAT_CHECK(defined(), "access to an undefined tensor");
  QAT_CHECK(want == dtype_, "tensor is {} but was accessed as {}", dtype_name(dtype_), dtype_name(want));
}

float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000;
  int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffff;
  if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
  if (exp >= 31) return (uint16_t)(sign | 0x7c00);
  if (exp <= 0) {
    if (exp < -10) return (uint16_t)sign;
    mant |= 0x800000;
    int shift = 14 - exp;
    uint32_t half = mant >> shift;
    uint32_t rem = mant & ((1u << shift) - 1);
    uint32_t mid = 1u << (shift - 1);
    if (rem > mid || (rem == mid && (half & 1))) ++half;
    return (uint16_t)(sign | half);
  }
  uint32_t half = sign | ((uint32_t)exp << 10) | (mant >> 13);
  uint32_t rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;  // round half to even; may carry into exp
  return (uint16_t)half;
}

}  // namespace qat
