// A small .npy reader/writer (NumPy format versions 1.0-3.0, little-endian, C order), enough to
// feed `qat run` and to save its outputs for numpy.load.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "qat/tensor.h"

namespace qat::lite {

struct NpyArray {
  DType type = DType::kFloat32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;  // num_elements * dtype_size bytes
};

// Throws FormatError naming `name` for malformed or unsupported files (big-endian, Fortran order,
// object or unknown dtypes). Supported dtypes: f4 f2 i1 u1 i2 i4 i8.
NpyArray ParseNpy(std::span<const uint8_t> bytes, const std::string& name);
NpyArray ReadNpy(const std::string& path);
std::vector<uint8_t> EncodeNpy(DType type, const std::vector<int64_t>& shape, const void* data, size_t bytes);
void WriteNpy(const std::string& path, DType type, const std::vector<int64_t>& shape, const void* data, size_t bytes);

// Whole file as bytes (IoError when unreadable).
std::vector<uint8_t> ReadFileBytes(const std::string& path);
void WriteFileBytes(const std::string& path, const void* data, size_t bytes);

}  // namespace qat::lite
