#include "lite/tool_support.h"

#include <cmath>
#include <cstring>
#include <random>

#include "lite/npy.h"

#include "lite/ops/mediapipe_ops.h"

namespace qat::lite {

OpResolver DefaultOpResolver() {
  OpResolver r = BuiltinOpResolver();
  RegisterMediaPipeOps(r);
  return r;
}

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<uint8_t> QuantizeFloats(const float* x, size_t n, const LiteTensor& t, const std::string& path) {
  if (t.quant.scale.size() != 1)
    throw UsageError(fmt::format("{}: float data for input '{}' ({}) needs per-tensor quantization parameters", path,
                                 t.name, dtype_name(t.type)));
  const float scale = t.quant.scale[0];
  const int64_t zp = t.quant.zero_point[0];
  if (!(scale > 0)) throw UsageError(fmt::format("input '{}' has scale {}", t.name, scale));
  int64_t lo = -128, hi = 127;
  if (t.type == DType::kUInt8) lo = 0, hi = 255;
  if (t.type == DType::kInt16) lo = -32768, hi = 32767;
  std::vector<uint8_t> out(n * dtype_size(t.type));
  for (size_t i = 0; i < n; ++i) {
    // TFLite's QUANTIZE: round half away from zero of x / scale, then add the zero point.
    const int64_t q = std::clamp<int64_t>((int64_t)std::round(x[i] / scale) + zp, lo, hi);
    if (t.type == DType::kInt8) reinterpret_cast<int8_t*>(out.data())[i] = (int8_t)q;
    else if (t.type == DType::kUInt8) out[i] = (uint8_t)q;
    else reinterpret_cast<int16_t*>(out.data())[i] = (int16_t)q;
  }
  return out;
}

bool Quantizable(const LiteTensor& t) {
  return (t.type == DType::kInt8 || t.type == DType::kUInt8 || t.type == DType::kInt16) && t.quant.quantized();
}

}  // namespace

InputData LoadInputFile(const Interpreter& interp, int i, const std::string& path) {
  const LiteTensor& t = const_cast<Interpreter&>(interp).input(i);
  InputData r;
  int64_t n = 1;
  for (int32_t d : t.dims) n *= d;
  if (EndsWith(path, ".npy")) {
    NpyArray a = ReadNpy(path);
    int64_t an = 1;
    for (int64_t d : a.shape) an *= d;
    std::vector<int32_t> dims(a.shape.begin(), a.shape.end());
    if (dims != t.dims) {
      if (dims.size() != t.dims.size())
        throw UsageError(fmt::format("{}: shape {} does not match input '{}' {} (different rank)", path,
                                     shape_str(a.shape), t.name, shape_str(Shape(t.dims.begin(), t.dims.end()))));
      r.resize = dims;
      r.note = "input resized to " + shape_str(a.shape);
    }
    if (a.type == t.type) {
      r.bytes = std::move(a.data);
    } else if (a.type == DType::kFloat32 && Quantizable(t)) {
      r.bytes = QuantizeFloats(reinterpret_cast<const float*>(a.data.data()), (size_t)an, t, path);
      r.note += (r.note.empty() ? "" : "; ") + std::string("quantized from float32");
    } else {
      throw UsageError(fmt::format("{}: dtype {} does not match input '{}' ({})", path, dtype_name(a.type), t.name,
                                   dtype_name(t.type)));
    }
    return r;
  }
  auto bytes = ReadFileBytes(path);
  const size_t want = (size_t)n * dtype_size(t.type);
  if (bytes.size() == want) {
    r.bytes = std::move(bytes);
  } else if (Quantizable(t) && bytes.size() == (size_t)n * 4) {
    r.bytes = QuantizeFloats(reinterpret_cast<const float*>(bytes.data()), (size_t)n, t, path);
    r.note = "raw float32 quantized to " + std::string(dtype_name(t.type));
  } else {
    throw UsageError(fmt::format("{}: {} bytes, input '{}' ({}{}) needs {}", path, bytes.size(), t.name,
                                 dtype_name(t.type), shape_str(Shape(t.dims.begin(), t.dims.end())), want));
  }
  return r;
}

void FillRandomInputs(Interpreter& interp, uint32_t seed) {
  std::mt19937 rng(seed);
  for (int i = 0; i < interp.inputs_size(); ++i) {
    LiteTensor& t = interp.input(i);
    const int64_t n = t.num_elements();
    switch (t.type) {
      case DType::kFloat32: {
        std::uniform_real_distribution<float> d(-1.f, 1.f);
        for (int64_t k = 0; k < n; ++k) t.as<float>()[k] = d(rng);
        break;
      }
      case DType::kFloat16: {
        std::uniform_real_distribution<float> d(-1.f, 1.f);
        for (int64_t k = 0; k < n; ++k) t.as<uint16_t>()[k] = float_to_half(d(rng));
        break;
      }
      default: {
        // Integers: random bytes cover the full range of every integer dtype.
        auto* p = static_cast<uint8_t*>(t.data);
        for (size_t k = 0; k < t.bytes; ++k) p[k] = (uint8_t)rng();
      }
    }
  }
}

}  // namespace qat::lite
