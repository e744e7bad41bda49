#include "lite/npy.h"

#include <cstring>
#include <fstream>
#include <iterator>

#include "qat/error.h"

namespace qat::lite {

namespace {

const char* Descr(DType t) {
  switch (t) {
    case DType::kFloat32: return "<f4";
    case DType::kFloat16: return "<f2";
    case DType::kInt8: return "|i1";
    case DType::kUInt8: return "|u1";
    case DType::kInt16: return "<i2";
    case DType::kInt32: return "<i4";
    case DType::kInt64: return "<i8";
  }
  return "?";
}

// The value of 'key' in the header dict, as raw text up to the next top-level comma/brace.
std::string Field(const std::string& h, const std::string& key, const std::string& name) {
  const auto k = h.find("'" + key + "'");
  if (k == std::string::npos) throw FormatError(fmt::format("{}: .npy header lacks '{}'", name, key));
  auto p = h.find(':', k);
  if (p == std::string::npos) throw FormatError(fmt::format("{}: malformed .npy header", name));
  ++p;
  while (p < h.size() && h[p] == ' ') ++p;
  size_t e = p;
  if (p < h.size() && h[p] == '(') {
    e = h.find(')', p);
    if (e == std::string::npos) throw FormatError(fmt::format("{}: malformed .npy shape", name));
    return h.substr(p, e - p + 1);
  }
  while (e < h.size() && h[e] != ',' && h[e] != '}') ++e;
  return h.substr(p, e - p);
}

}  // namespace

NpyArray ParseNpy(std::span<const uint8_t> b, const std::string& name) {
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0)
    throw FormatError(fmt::format("{}: not a .npy file (bad magic)", name));
  const int major = b[6];
  size_t hlen, hstart;
  if (major == 1) {
    hlen = b[8] | (b[9] << 8);
    hstart = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) throw FormatError(fmt::format("{}: truncated .npy header", name));
    hlen = (size_t)b[8] | ((size_t)b[9] << 8) | ((size_t)b[10] << 16) | ((size_t)b[11] << 24);
    hstart = 12;
  } else {
    throw FormatError(fmt::format("{}: unsupported .npy version {}", name, major));
  }
  if (hlen > b.size() - hstart) throw FormatError(fmt::format("{}: truncated .npy header", name));
  const std::string h(reinterpret_cast<const char*>(b.data() + hstart), hlen);
  std::string descr = Field(h, "descr", name);
  if (descr.size() < 2) throw FormatError(fmt::format("{}: bad .npy descr", name));
  descr = descr.substr(1, descr.size() - 2);  // strip quotes
  NpyArray a;
  const char order = descr.empty() ? '?' : descr[0];
  const std::string code = descr.size() > 1 ? descr.substr(1) : "";
  if (order == '>' && code != "i1" && code != "u1") throw FormatError(fmt::format("{}: big-endian .npy is not supported", name));
  if (code == "f4") a.type = DType::kFloat32;
  else if (code == "f2") a.type = DType::kFloat16;
  else if (code == "i1") a.type = DType::kInt8;
  else if (code == "u1") a.type = DType::kUInt8;
  else if (code == "i2") a.type = DType::kInt16;
  else if (code == "i4") a.type = DType::kInt32;
  else if (code == "i8") a.type = DType::kInt64;
  else throw FormatError(fmt::format("{}: unsupported .npy dtype '{}'", name, descr));
  if (Field(h, "fortran_order", name).find("True") != std::string::npos)
    throw FormatError(fmt::format("{}: Fortran-order .npy is not supported", name));
  const std::string shape = Field(h, "shape", name);
  int64_t n = 1;
  for (size_t i = 1; i < shape.size();) {
    while (i < shape.size() && (shape[i] == ' ' || shape[i] == ',')) ++i;
    if (i >= shape.size() || shape[i] == ')') break;
    size_t j = i;
    while (j < shape.size() && shape[j] >= '0' && shape[j] <= '9') ++j;
    if (j == i || j - i > 12) throw FormatError(fmt::format("{}: bad .npy shape {}", name, shape));
    const int64_t d = std::stoll(shape.substr(i, j - i));
    a.shape.push_back(d);
    if (d && n > (int64_t(1) << 40) / d) throw FormatError(fmt::format("{}: .npy array too large", name));
    n *= d;
    i = j;
  }
  const size_t bytes = (size_t)n * dtype_size(a.type);
  const size_t dstart = hstart + hlen;
  if (b.size() - dstart != bytes)
    throw FormatError(fmt::format("{}: .npy data has {} bytes, shape needs {}", name, b.size() - dstart, bytes));
  a.data.assign(b.begin() + dstart, b.end());
  return a;
}

std::vector<uint8_t> EncodeNpy(DType type, const std::vector<int64_t>& shape, const void* data, size_t bytes) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += std::to_string(shape[i]) + (shape.size() == 1 || i + 1 < shape.size() ? "," : "");
  s += ")";
  std::string h = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", Descr(type), s);
  // Pad with spaces so the data starts on a 64-byte boundary; the header ends with '\n'.
  const size_t total = 10 + h.size() + 1;
  h += std::string((64 - total % 64) % 64, ' ') + "\n";
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(h.size() & 0xff), (uint8_t)(h.size() >> 8)};
  out.insert(out.end(), h.begin(), h.end());
  const auto* p = static_cast<const uint8_t*>(data);
  out.insert(out.end(), p, p + bytes);
  return out;
}

std::vector<uint8_t> ReadFileBytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw IoError(fmt::format("{}: cannot open", path));
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

void WriteFileBytes(const std::string& path, const void* data, size_t bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw IoError(fmt::format("{}: cannot open for writing", path));
  f.write(static_cast<const char*>(data), (std::streamsize)bytes);
  if (!f) throw IoError(fmt::format("{}: write failed", path));
}

NpyArray ReadNpy(const std::string& path) { return ParseNpy(ReadFileBytes(path), path); }

void WriteNpy(const std::string& path, DType type, const std::vector<int64_t>& shape, const void* data, size_t bytes) {
  auto b = EncodeNpy(type, shape, data, bytes);
  WriteFileBytes(path, b.data(), b.size());
}

}  // namespace qat::lite
