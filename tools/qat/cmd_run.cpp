// `qat run MODEL.tflite --input FILE [--output FILE] [--dequantize] [--threads N]
//  [--requant tflite|xnnpack] [--top K]`: one inference; prints the input/output details and
// the top values of each output. Inputs and outputs are .npy or raw .bin (see tool_support.h).
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "commands.h"
#include "lite/npy.h"
#include "lite/tool_support.h"
#include "qat/interpreter.h"

namespace qat::cli {
namespace {

std::string QuantStr(const lite::TensorDetails& d) {
  if (d.scales.empty()) return "not quantized";
  if (d.scales.size() == 1) return fmt::format("scale {:.9g} zero_point {}", d.scales[0], d.zero_points[0]);
  auto [mn, mx] = std::minmax_element(d.scales.begin(), d.scales.end());
  return fmt::format("per-channel dim {} ({} scales in [{:.6g}, {:.6g}])", d.quantized_dimension, d.scales.size(), *mn, *mx);
}

std::string DetailsStr(const lite::TensorDetails& d) {
  return fmt::format("'{}' (tensor {}) {}{} {}", d.name, d.index, dtype_name(d.type),
                     shape_str(Shape(d.shape.begin(), d.shape.end())), QuantStr(d));
}

// Output file name for output i: FILE itself for the first, FILE with _i before the extension after.
std::string OutputPath(const std::string& path, int i) {
  if (i == 0) return path;
  const auto dot = path.rfind('.');
  const auto slash = path.rfind('/');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return fmt::format("{}_{}", path, i);
  return fmt::format("{}_{}{}", path.substr(0, dot), i, path.substr(dot));
}

double RawValue(const lite::LiteTensor& t, int64_t i) {
  switch (t.type) {
    case DType::kFloat32: return t.as<float>()[i];
    case DType::kFloat16: return half_to_float(t.as<uint16_t>()[i]);
    case DType::kInt8: return t.as<int8_t>()[i];
    case DType::kUInt8: return t.as<uint8_t>()[i];
    case DType::kInt16: return t.as<int16_t>()[i];
    case DType::kInt32: return t.as<int32_t>()[i];
    case DType::kInt64: return (double)t.as<int64_t>()[i];
  }
  return 0;
}

}  // namespace

void register_run(CLI::App& app) {
  struct Args {
    std::string model, output, requant = "tflite", float_math = "fused";
    std::vector<std::string> inputs;
    bool dequantize = false;
    int threads = 1, top = 5;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("run", "Run a .tflite model once on input files");
  c->add_option("model", a->model, ".tflite model")->required();
  c->add_option("--input,-i", a->inputs, "Input file (.npy or raw .bin), once per model input, in order")->required();
  c->add_option("--output,-o", a->output, "Write output 0 here (.npy or raw .bin; output k>0 gets _k before the extension)");
  c->add_flag("--dequantize", a->dequantize, "Write and print outputs as float32 (scale * (q - zero_point))");
  c->add_option("--threads", a->threads, "Threads")->check(CLI::PositiveNumber);
  c->add_option("--requant", a->requant, "Requantization rounding: tflite (builtin kernels, default) or xnnpack")
      ->check(CLI::IsMember({"tflite", "xnnpack"}));
  c->add_option("--float-math", a->float_math,
                "Float conv / FC / depthwise arithmetic: fused (FMA on AVX-512 CPUs, default) or exact (the "
                "reference's multiply-then-add values, LiteRT.js's)")
      ->check(CLI::IsMember({"exact", "fused"}));
  c->add_option("--top", a->top, "How many of the largest output values to print")->check(CLI::NonNegativeNumber);
  c->callback([a] {
    lite::InterpreterOptions opt;
    opt.threads = a->threads;
    opt.requant = lite::ParseRequantMode(a->requant);
    opt.float_math = lite::ParseFloatMath(a->float_math);
    auto interp = lite::Interpreter::FromFile(a->model, lite::DefaultOpResolver(), opt);
    if ((int)a->inputs.size() != interp->inputs_size())
      throw UsageError(fmt::format("{} has {} inputs but {} --input files were given", a->model, interp->inputs_size(),
                                   a->inputs.size()));
    std::vector<lite::InputData> data;
    for (int i = 0; i < interp->inputs_size(); ++i) {
      data.push_back(lite::LoadInputFile(*interp, i, a->inputs[i]));
      if (data.back().resize) interp->ResizeInputTensor(i, *data.back().resize);
    }
    interp->AllocateTensors();
    for (int i = 0; i < interp->inputs_size(); ++i) {
      interp->SetInput(i, data[i].bytes.data(), data[i].bytes.size());
      std::printf("input %d: %s%s\n", i, DetailsStr(interp->input_details()[i]).c_str(),
                  data[i].note.empty() ? "" : fmt::format(" [{}]", data[i].note).c_str());
    }
    interp->Invoke();
    std::printf("requant: %s, float: %s, threads: %d\n", lite::RequantModeName(opt.requant),
                kernels::FloatMathName(opt.float_math), opt.threads);
    const auto details = interp->output_details();
    for (int i = 0; i < interp->outputs_size(); ++i) {
      const lite::LiteTensor& t = interp->output(i);
      std::printf("output %d: %s\n", i, DetailsStr(details[i]).c_str());
      const bool deq = !details[i].scales.empty() && t.type != DType::kFloat32;
      std::vector<float> real;
      if (deq || t.type == DType::kFloat16) real = lite::Dequantize(t);
      const int64_t n = t.num_elements();
      std::vector<int64_t> idx(n);
      std::iota(idx.begin(), idx.end(), 0);
      const int k = (int)std::min<int64_t>(a->top, n);
      std::partial_sort(idx.begin(), idx.begin() + k, idx.end(),
                        [&](int64_t x, int64_t y) { return RawValue(t, x) > RawValue(t, y); });
      for (int j = 0; j < k; ++j) {
        if (deq)
          std::printf("  [%lld] %g (q = %g)\n", (long long)idx[j], real[idx[j]], RawValue(t, idx[j]));
        else
          std::printf("  [%lld] %g\n", (long long)idx[j], RawValue(t, idx[j]));
      }
      if (!a->output.empty()) {
        const std::string path = OutputPath(a->output, i);
        const bool npy = path.size() >= 4 && path.compare(path.size() - 4, 4, ".npy") == 0;
        const Shape shape(t.dims.begin(), t.dims.end());
        if (a->dequantize && t.type != DType::kFloat32) {
          if (real.empty()) real = lite::Dequantize(t);
          if (npy) lite::WriteNpy(path, DType::kFloat32, shape, real.data(), real.size() * 4);
          else lite::WriteFileBytes(path, real.data(), real.size() * 4);
        } else if (npy) {
          lite::WriteNpy(path, t.type, shape, t.data, t.bytes);
        } else {
          lite::WriteFileBytes(path, t.data, t.bytes);
        }
        std::printf("  wrote %s\n", path.c_str());
      }
    }
  });
}

}  // namespace qat::cli
