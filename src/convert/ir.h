// The converter's intermediate model: TFLite operators on tensors, before types are chosen.
// lower.cpp builds it from a frozen graph, quantize_model.cpp assigns types and quantization,
// emit.cpp writes the tfl::ModelDesc. Internal to src/convert.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "qat/convert.h"
#include "qat/tensor.h"
#include "qat/tflite.h"
#include "quantize/fake_quant_math.h"

namespace qat::convert::detail {

namespace fq = quantize::fq;

// TFLite builtin codes used here (official BuiltinOperator values, REFERENCE.md §4).
enum Builtin : int32_t {
  kAdd = 0, kAveragePool2D = 1, kConcatenation = 2, kConv2D = 3, kDepthwiseConv2D = 4, kDequantize = 6,
  kFullyConnected = 9, kLogistic = 14, kMaxPool2D = 17, kMul = 18, kRelu = 19, kRelu6 = 21, kReshape = 22,
  kSoftmax = 25, kTanh = 28, kCustom = 32, kPad = 34, kMean = 40, kSub = 41, kQuantize = 114,
};
const char* builtin_name(int32_t code);

// A recorded activation range (from a FakeQuant, the input stats, calibration or the defaults).
struct Range {
  float min = 0.f, max = 0.f;
  int num_bits = 8;
  bool narrow_range = false;
};

// How a FakeQuant on constant weights quantized them: one nudged grid per tensor or per channel
// (channel = the TFLite layout's quantized dimension).
struct WeightGrid {
  std::vector<fq::Nudged> nudged;  // empty: weights had no FakeQuant
  fq::QuantRange range;
  bool present() const { return !nudged.empty(); }
};

enum class Role { kActivation, kWeight, kBias, kConst, kIndex };

struct ITensor {
  std::string name;
  std::vector<int32_t> shape;
  std::vector<int32_t> shape_signature;  // -1 where the graph dimension was unknown
  Role role = Role::kActivation;
  Tensor value;            // constants: float32 (weights/bias/const) or int32 (kIndex), TFLite layout
  WeightGrid grid;         // kWeight
  int quant_dim = 0;       // kWeight: the channel axis in the TFLite layout
  std::optional<Range> range;
  std::vector<std::string> origins;  // graph outputs this tensor carries ("node:k")
  std::string producer;    // "node 'conv1/Conv2D' (Conv2D)", for messages
  int producer_op = -1;    // index into IModel::ops
  // Filled by the quantization pass.
  tfl::TensorType type = tfl::TensorType::kFloat32;
  tfl::QuantDesc quant;
  std::vector<uint8_t> data;  // constant bytes in the final type
};

struct IOp {
  int32_t code = 0;
  std::string custom_code;
  std::vector<int> inputs, outputs;
  tfl::BuiltinOptions options;
  std::string node;  // describe() of the graph node it came from
};

struct IModel {
  std::vector<ITensor> tensors;
  std::vector<IOp> ops;
  std::vector<int> inputs, outputs;
  std::vector<std::string> notes;
  int add_tensor(ITensor t) {
    tensors.push_back(std::move(t));
    return (int)tensors.size() - 1;
  }
};

// frozen graph -> IModel (float values, ranges recorded). `ranges` (calibration) override the
// FakeQuant ranges of the tensors they name.
IModel lower(const graph::Graph& g, const ConvertOptions& opt, const RangeMap* ranges);
// Types, quantization parameters and constant bytes for every tensor (inserting QUANTIZE /
// DEQUANTIZE / weight DEQUANTIZE ops as the options ask).
void quantize_model(IModel& m, const ConvertOptions& opt);
tfl::ModelDesc emit(const IModel& m, const ConvertOptions& opt);

// Sets the fused activation of an op's options (the op must have that field).
bool set_fused_activation(tfl::BuiltinOptions& o, int8_t act);
int8_t fused_activation(const tfl::BuiltinOptions& o);

}  // namespace qat::convert::detail
