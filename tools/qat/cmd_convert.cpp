// `qat convert FROZEN --out model.tflite [options]`: TFLiteConverter v1's options
// (docs/convert.md). Prints the op histogram, the notes and the file size.
#include <cstdio>

#include "commands.h"
#include "qat/convert.h"
#include "qat/data.h"
#include "tflite/float_twin.h"

namespace qat::cli {
namespace {

std::pair<float, float> parse_pair(const std::string& s, const char* what) {
  auto comma = s.find(',');
  try {
    if (comma == std::string::npos) throw std::invalid_argument("");
    return {std::stof(s.substr(0, comma)), std::stof(s.substr(comma + 1))};
  } catch (const std::exception&) {
    throw UsageError(fmt::format("{} '{}': expected two numbers A,B", what, s));
  }
}

// "fashion-mnist[:N]" or "DIR[:N]" (an MNIST-format folder); the training split is used.
data::Dataset load_representative(const std::string& spec, int64_t* count) {
  std::string name = spec;
  *count = 0;
  auto colon = spec.rfind(':');
  if (colon != std::string::npos && colon + 1 < spec.size() &&
      spec.find_first_not_of("0123456789", colon + 1) == std::string::npos) {
    name = spec.substr(0, colon);
    *count = std::stoll(spec.substr(colon + 1));
  }
  std::string dir = (name == "fashion-mnist" || name == "fashion_mnist") ? data::fashion_mnist_dir() : name;
  return data::load_mnist(dir).train;
}

}  // namespace

void register_convert(CLI::App& app) {
  struct Args {
    std::string in, out, type = "float", in_type, out_type, default_ranges, representative, calibration = "minmax";
    std::vector<std::string> input_stats, input_arrays, output_arrays;
    bool custom = false, ptq = false;
    double percentile = 99.99;
    int batch = 1;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("convert", "Frozen graph -> .tflite (float, uint8, int8, PTQ)");
  c->add_option("frozen", a->in, "Frozen graph file (qat freeze), or a quantized .tflite (-> its float twin)")
      ->required();
  c->add_option("--out", a->out, ".tflite file to write")->required();
  c->add_option("--inference-type", a->type, "float | uint8 | int8");
  c->add_option("--inference-input-type", a->in_type, "Type of the model inputs (default: --inference-type)");
  c->add_option("--inference-output-type", a->out_type, "Type of the model outputs (default: --inference-type)");
  c->add_option("--input-arrays", a->input_arrays, "Input node names (default: the placeholders)")->delimiter(',');
  c->add_option("--output-arrays", a->output_arrays, "Output node names (default: the sinks)")->delimiter(',');
  c->add_option("--input-stats", a->input_stats, "NAME=MEAN,STD: real = (q - MEAN) / STD (repeatable)");
  c->add_option("--default-ranges", a->default_ranges, "MIN,MAX for activations without a recorded range");
  c->add_flag("--allow-custom-ops", a->custom, "Write ops without a TFLite builtin as custom ops");
  c->add_flag("--post-training-quantize", a->ptq, "Weight-only int8 quantization of a float model (hybrid)");
  c->add_option("--representative-data", a->representative,
                "DATASET[:N] (fashion-mnist or an MNIST-format folder): full-integer PTQ calibration");
  c->add_option("--calibration", a->calibration, "minmax | percentile");
  c->add_option("--percentile", a->percentile, "Percentile for --calibration percentile (default 99.99)");
  c->add_option("--batch-size", a->batch, "Size of unknown (batch) dimensions (default 1)");
  c->callback([a] {
    convert::ConvertOptions o;
    o.inference_type = convert::inference_type_from_name(a->type);
    if (!a->in_type.empty()) o.inference_input_type = convert::inference_type_from_name(a->in_type);
    if (!a->out_type.empty()) o.inference_output_type = convert::inference_type_from_name(a->out_type);
    o.input_arrays = a->input_arrays;
    o.output_arrays = a->output_arrays;
    o.batch_size = a->batch;
    for (const auto& s : a->input_stats) {
      auto eq = s.find('=');
      if (eq == std::string::npos) throw UsageError(fmt::format("--input-stats '{}': expected NAME=MEAN,STD", s));
      auto [mean, stddev] = parse_pair(s.substr(eq + 1), "--input-stats");
      o.input_stats[s.substr(0, eq)] = {mean, stddev};
    }
    if (!a->default_ranges.empty()) o.default_ranges = parse_pair(a->default_ranges, "--default-ranges");
    o.allow_custom_ops = a->custom;
    o.post_training_quantize = a->ptq;
    if (a->calibration == "percentile") o.calibration = convert::Calibration::kPercentile;
    else if (a->calibration != "minmax") throw UsageError("--calibration must be minmax or percentile");
    o.percentile = a->percentile;
    data::Dataset rep;
    if (!a->representative.empty()) {
      rep = load_representative(a->representative, &o.representative_count);
      o.representative = &rep;
    }
    if (a->in.size() > 7 && a->in.compare(a->in.size() - 7, 7, ".tflite") == 0) {
      // A quantized .tflite in: its float twin out (same graph, dequantized constants).
      if (o.inference_type != convert::inference_type_from_name("float"))
        throw UsageError("a .tflite input converts only to its float twin (--inference-type float)");
      tfl::WriteModelFile(tfl::FloatTwin(tfl::ReadModelDesc(*tfl::ModelFile::Map(a->in))), a->out);
      std::printf("%s: float twin of %s\n", a->out.c_str(), a->in.c_str());
      return;
    }
    convert::ConvertReport r = convert::convert_file(a->in, a->out, o);
    std::string hist;
    for (auto& [op, n] : r.op_counts) hist += fmt::format("{}{}x{}", hist.empty() ? "" : " ", op, n);
    std::printf("%s: %s, %zu bytes, ops: %s\n", a->out.c_str(), convert::inference_type_name(o.inference_type), r.bytes,
                hist.c_str());
    for (const auto& n : r.notes) std::printf("note: %s\n", n.c_str());
  });
}

}  // namespace qat::cli
