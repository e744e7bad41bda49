// qat::convert — frozen graph -> .tflite, with the options of TFLiteConverter v1 (REFERENCE.md §3).
//
// Pipeline (docs/convert.md):
//   lower     graph ops -> TFLite builtins (Conv2D+BiasAdd+Relu -> CONV_2D with fused RELU, ...);
//             FakeQuant and Identity nodes disappear: a FakeQuant's range becomes the range of the
//             tensor it wraps, a FakeQuant on constant weights says how to quantize them.
//   quantize  (uint8 / int8) every activation tensor gets (scale, zero point) from its range
//             (TF's nudge, exactly as the FakeQuant computed it), the input stats, the default
//             ranges or the op's fixed parameters; weights are quantized with the FakeQuant's
//             nudged grid (so the integer weights are the fake-quantized values); bias is int32
//             with scale s_in * s_w[c] and zero point 0.
//   emit      tflite::ModelDesc -> bytes (src/tflite writer).
// Errors (qat::UsageError): an activation tensor without a range names the tensor and the node
// that produces it; an op with no TFLite builtin names the node (unless allow_custom_ops).
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "qat/data.h"
#include "qat/graph.h"
#include "qat/tflite.h"

namespace qat::convert {

enum class InferenceType { kFloat, kUInt8, kInt8 };
InferenceType inference_type_from_name(const std::string& s);  // float|uint8|int8 (UsageError)
const char* inference_type_name(InferenceType t);

enum class Calibration { kMinMax, kPercentile };

struct ConvertOptions {
  InferenceType inference_type = InferenceType::kFloat;
  // Types of the model's input / output tensors; default: inference_type. With a quantized
  // inference type, float adds QUANTIZE / DEQUANTIZE at the boundary, and uint8 on an int8
  // model adds a QUANTIZE (uint8 <-> int8, same scale, zero point shifted by 128).
  std::optional<InferenceType> inference_input_type, inference_output_type;
  // Input / output node names; default: every Placeholder the outputs need / every node that
  // nothing else reads (Const excluded).
  std::vector<std::string> input_arrays, output_arrays;
  // Size given to unknown (-1) dimensions, i.e. the batch.
  int batch_size = 1;
  // name -> (mean, std): real = (q - mean) / std in the input type's integer domain
  // (uint8 0..255, int8 -128..127), i.e. scale = 1/std, zero_point = mean.
  std::map<std::string, std::pair<double, double>> input_stats;
  // Range for activation tensors that have none ("dummy quantization"); absent: an error.
  std::optional<std::pair<float, float>> default_ranges;
  bool allow_custom_ops = false;
  // Weight-only quantization of a float model: CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED
  // weights with at least `weight_only_min_elements` elements become int8 (symmetric; per
  // channel for convolutions), activations stay float (hybrid kernels).
  bool post_training_quantize = false;
  int64_t weight_only_min_elements = 1024;
  // Full-integer post-training quantization of a float graph: activation ranges measured by
  // running the graph on `representative` (the first representative_count images, 0 = all;
  // pixels * representative_scale), replacing the ranges the graph records.
  const data::Dataset* representative = nullptr;
  int64_t representative_count = 0;
  float representative_scale = 1.0f / 255.0f;
  Calibration calibration = Calibration::kMinMax;
  double percentile = 99.99;  // kPercentile: clip each range at this percentile of |values|
  std::string description = "qat convert";
};

struct ConvertReport {
  std::map<std::string, int> op_counts;  // "CONV_2D" -> 2
  std::vector<std::string> notes;        // approximations made (per-channel -> per-tensor, ...)
  size_t bytes = 0;
  std::vector<std::string> input_names, output_names;
};

// Activation ranges measured on data: graph output ("node" or "node:k") -> (min, max).
using RangeMap = std::map<std::string, std::pair<float, float>>;
// Runs `frozen` on the dataset and records the range of every float output of every node.
RangeMap calibrate(const graph::Graph& frozen, const std::string& input_name, const data::Dataset& ds,
                   int64_t count, float scale, Calibration method = Calibration::kMinMax,
                   double percentile = 99.99);

tfl::ModelDesc convert_to_desc(const graph::Graph& frozen, const ConvertOptions& opt, ConvertReport* report = nullptr);
std::vector<uint8_t> convert(const graph::Graph& frozen, const ConvertOptions& opt, ConvertReport* report = nullptr);
// Loads a frozen graph file (registering the ops first), converts it, writes `out_path`.
ConvertReport convert_file(const std::string& frozen_path, const std::string& out_path, const ConvertOptions& opt);

}  // namespace qat::convert
