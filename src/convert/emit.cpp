// IModel -> tfl::ModelDesc: tensors that some op or the model uses, one buffer per constant,
// operator versions as TF's converter sets them for the tensor types used (runtimes look kernels
// up by (code, version), and every version given here exists in TFLite 2.2).
#include <map>

#include "convert/ir.h"

namespace qat::convert::detail {
namespace {

int32_t op_version(const IOp& op, const IModel& m) {
  auto type = [&](int t) { return m.tensors[t].type; };
  const tfl::TensorType in = op.inputs.empty() ? tfl::TensorType::kFloat32 : type(op.inputs[0]);
  const bool int8 = in == tfl::TensorType::kInt8;
  switch (op.code) {
    case kConv2D:
      if (in == tfl::TensorType::kFloat32 && type(op.inputs[1]) == tfl::TensorType::kInt8) return 2;  // hybrid
      return int8 ? 3 : 1;
    case kDepthwiseConv2D: return int8 ? 3 : 1;
    case kFullyConnected:
      if (in == tfl::TensorType::kFloat32 && type(op.inputs[1]) == tfl::TensorType::kInt8) return 3;  // hybrid
      return int8 ? 4 : 1;
    case kAdd:
    case kSub:
    case kMul:
    case kAveragePool2D:
    case kMaxPool2D:
    case kConcatenation:
    case kSoftmax:
    case kLogistic:
    case kPad:
    case kMean:
      return int8 ? 2 : 1;
    case kDequantize: return in == tfl::TensorType::kInt8 ? 2 : 1;
    case kQuantize:
      // Requantization (int8 <-> uint8) is version 2; float -> int8/uint8 is version 1.
      return in == tfl::TensorType::kFloat32 ? 1 : 2;
    default: return 1;
  }
}

}  // namespace

tfl::ModelDesc emit(const IModel& m, const ConvertOptions& opt) {
  tfl::ModelDesc d;
  d.description = opt.description;
  tfl::SubGraphDesc sg;
  sg.name = "main";
  std::map<int, int32_t> index;  // IModel tensor -> subgraph tensor
  auto use = [&](int t) -> int32_t {
    if (t < 0) return -1;
    auto it = index.find(t);
    if (it != index.end()) return it->second;
    const ITensor& x = m.tensors[t];
    tfl::TensorDesc td;
    td.name = x.name;
    td.type = x.type;
    td.shape = x.shape;
    // No shape_signature: the batch is fixed by --batch-size, and runtimes (LiteRT.js) refuse
    // to size tensors whose signature is dynamic.
    td.quant = x.quant;
    if (x.role != Role::kActivation || !x.data.empty()) td.buffer = d.AddBuffer(x.data);
    sg.tensors.push_back(std::move(td));
    int32_t id = (int32_t)sg.tensors.size() - 1;
    index[t] = id;
    return id;
  };
  for (int t : m.inputs) sg.inputs.push_back(use(t));
  for (const IOp& op : m.ops) {
    tfl::OpDesc od;
    od.builtin_code = op.code;
    od.custom_code = op.custom_code;
    od.version = op_version(op, m);
    for (int t : op.inputs) od.inputs.push_back(use(t));
    for (int t : op.outputs) od.outputs.push_back(use(t));
    od.options = op.options;
    sg.ops.push_back(std::move(od));
  }
  for (int t : m.outputs) sg.outputs.push_back(use(t));
  d.subgraphs.push_back(std::move(sg));
  return d;
}

}  // namespace qat::convert::detail
