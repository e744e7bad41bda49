// Tensor: a typed, shaped, 64-byte aligned buffer. NHWC everywhere (TFLite's layout).
// Copies are shallow (they share storage, like torch.Tensor); clone() copies the data.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "qat/error.h"

namespace qat {

enum class DType : uint8_t { kFloat32 = 0, kInt32, kInt64, kUInt8, kInt8, kFloat16, kInt16 };
inline constexpr int kDTypeCount = 7;

size_t dtype_size(DType t);
const char* dtype_name(DType t);          // "float32", "int32", ...
DType dtype_from_name(const std::string& name);  // inverse; throws UsageError

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::kFloat32; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::kInt32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::kInt64; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::kUInt8; };
template <> struct dtype_of<int8_t> { static constexpr DType value = DType::kInt8; };
template <> struct dtype_of<int16_t> { static constexpr DType value = DType::kInt16; };

using Shape = std::vector<int64_t>;
int64_t num_elements(const Shape& s);  // product of dims; 1 for a scalar (rank 0)
std::string shape_str(const Shape& s); // "[1,28,28,1]"

class Tensor {
 public:
  Tensor() = default;
  // Zero-initialised tensor.
  Tensor(DType dtype, Shape shape);
  static Tensor zeros(const Shape& shape, DType dtype = DType::kFloat32) { return Tensor(dtype, shape); }
  static Tensor filled(const Shape& shape, float value);
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values);
  template <class T>
  static Tensor from_span(const Shape& shape, std::span<const T> values) {
    Tensor t(dtype_of<T>::value, shape);
    QAT_CHECK_T(ShapeError, (int64_t)values.size() == t.size(), "Tensor::from_span: {} values for shape {}",
                values.size(), shape_str(shape));
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }
  static Tensor scalar(float v) { return from_vector({}, {v}); }

  bool defined() const { return storage_ != nullptr; }
  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return (int)shape_.size(); }
  int64_t dim(int i) const;  // negative i counts from the end
  int64_t size() const { return size_; }  // number of elements
  size_t nbytes() const { return (size_t)size_ * dtype_size(dtype_); }

  template <class T>
  T* data() {
    check_type(dtype_of<T>::value);
    return reinterpret_cast<T*>(storage_.get());
  }
  template <class T>
  const T* data() const {
    check_type(dtype_of<T>::value);
    return reinterpret_cast<const T*>(storage_.get());
  }
  void* raw() { return storage_.get(); }
  const void* raw() const { return storage_.get(); }

  Tensor clone() const;
  // Same storage, new shape with equal element count (one dim may be -1).
  Tensor reshaped(Shape shape) const;
  void fill(float v);  // float32 only
  // Float value at flat index i (converts from any numeric dtype); for tests and tools.
  double at(int64_t i) const;
  std::string str(int max_values = 8) const;  // "float32[2,3] {0.1, ...}"

 private:
  void check_type(DType want) const;
  std::shared_ptr<std::byte[]> storage_;
  Shape shape_;
  int64_t size_ = 0;
  DType dtype_ = DType::kFloat32;
};

// Half-precision conversion (IEEE binary16), used by DEQUANTIZE of float16 weights.
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

}  // namespace qat
