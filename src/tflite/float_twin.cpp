// FloatTwin (see float_twin.h).
#include "tflite/float_twin.h"

#include <cstring>

#include "qat/error.h"

namespace qat::tfl {
namespace {

constexpr int32_t kDequantize = 6, kQuantize = 114;

bool Quantized(const TensorDesc& t) {
  return !t.quant.scale.empty() &&
         (t.type == TensorType::kInt8 || t.type == TensorType::kUInt8 || t.type == TensorType::kInt16 ||
          t.type == TensorType::kInt32);
}

template <class T>
std::vector<uint8_t> Dequantize(const TensorDesc& t, const std::vector<uint8_t>& bytes) {
  const size_t n = bytes.size() / sizeof(T);
  const QuantDesc& q = t.quant;
  const size_t channels = q.scale.size();
  // Index of element i along the quantized dimension: (i / inner) % dim.
  size_t inner = 1, dim = 1;
  if (channels > 1) {
    const int qd = q.quantized_dimension;
    if (qd < 0 || qd >= (int)t.shape.size() || (size_t)t.shape[qd] != channels)
      throw FormatError("float twin: tensor '" + t.name + "' has " + std::to_string(channels) +
                        " scales that do not match its quantized dimension");
    for (size_t d = qd + 1; d < t.shape.size(); ++d) inner *= t.shape[d];
    dim = channels;
  }
  std::vector<uint8_t> out(n * sizeof(float));
  for (size_t i = 0; i < n; ++i) {
    T v;
    std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
    const size_t c = channels > 1 ? (i / inner) % dim : 0;
    const int64_t zp = q.zero_point.empty() ? 0 : q.zero_point[q.zero_point.size() > 1 ? c : 0];
    const float f = q.scale[c] * (float)((int64_t)v - zp);
    std::memcpy(out.data() + i * sizeof(float), &f, sizeof(float));
  }
  return out;
}

}  // namespace

ModelDesc FloatTwin(const ModelDesc& quantized) {
  ModelDesc m = quantized;
  std::vector<int> uses(m.buffers.size(), 0);  // a buffer used once is replaced in place
  for (const SubGraphDesc& g : m.subgraphs)
    for (const TensorDesc& t : g.tensors)
      if (t.buffer < uses.size()) ++uses[t.buffer];
  for (size_t gi = 0; gi < m.subgraphs.size(); ++gi) {
    SubGraphDesc& g = m.subgraphs[gi];
    for (TensorDesc& t : g.tensors) {
      if (!Quantized(t)) continue;
      if (t.buffer != 0 && t.buffer < m.buffers.size() && !m.buffers[t.buffer].empty()) {
        const std::vector<uint8_t>& b = m.buffers[t.buffer];
        std::vector<uint8_t> f;
        switch (t.type) {
          case TensorType::kInt8: f = Dequantize<int8_t>(t, b); break;
          case TensorType::kUInt8: f = Dequantize<uint8_t>(t, b); break;
          case TensorType::kInt16: f = Dequantize<int16_t>(t, b); break;
          default: f = Dequantize<int32_t>(t, b); break;
        }
        if (uses[t.buffer] == 1)
          m.buffers[t.buffer] = std::move(f);
        else
          t.buffer = m.AddBuffer(std::move(f));  // shared: the other users keep the old bytes
      }
      t.type = TensorType::kFloat32;
      t.quant = QuantDesc{};
    }
    // QUANTIZE / DEQUANTIZE now float32 -> float32: drop them, consumers read the input instead.
    std::vector<OpDesc> ops;
    for (OpDesc& op : g.ops) {
      const bool qdq = (op.builtin_code == kQuantize || op.builtin_code == kDequantize) && op.inputs.size() == 1 &&
                       op.outputs.size() == 1 && op.inputs[0] >= 0 &&
                       g.tensors[op.inputs[0]].type == TensorType::kFloat32 &&
                       g.tensors[op.outputs[0]].type == TensorType::kFloat32;
      if (!qdq) {
        ops.push_back(std::move(op));
        continue;
      }
      const int32_t from = op.outputs[0], to = op.inputs[0];
      for (OpDesc& later : g.ops)
        for (int32_t& i : later.inputs)
          if (i == from) i = to;
      for (int32_t& o : g.outputs)
        if (o == from) o = to;
      for (SignatureDesc& s : m.signatures)
        if (s.subgraph_index == gi)
          for (auto& [alias, idx] : s.outputs)
            if (idx == (uint32_t)from) idx = (uint32_t)to;
    }
    g.ops = std::move(ops);
  }
  m.description = quantized.description.empty() ? "float twin" : quantized.description + " (float twin)";
  return m;
}

}  // namespace qat::tfl
