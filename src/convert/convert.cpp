// The converter's driver: option checks, calibration (PTQ), lower -> quantize -> emit -> write.
#include "qat/convert.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>

#include "convert/ir.h"
#include "qat/freeze.h"

namespace qat::convert {

using graph::Graph;
using graph::Node;
using graph::Output;

InferenceType inference_type_from_name(const std::string& s) {
  if (s == "float" || s == "float32" || s == "FLOAT") return InferenceType::kFloat;
  if (s == "uint8" || s == "QUANTIZED_UINT8") return InferenceType::kUInt8;
  if (s == "int8" || s == "INT8") return InferenceType::kInt8;
  fail<UsageError>("unknown inference type '{}' (float, uint8 or int8)", s);
}

const char* inference_type_name(InferenceType t) {
  switch (t) {
    case InferenceType::kFloat: return "float";
    case InferenceType::kUInt8: return "uint8";
    case InferenceType::kInt8: return "int8";
  }
  return "?";
}

namespace {

std::string single_input(const Graph& g) {
  std::string name;
  for (Node* n : g.nodes())
    if (n->op() == "Placeholder") {
      if (!name.empty()) fail<UsageError>("calibration: the graph has several inputs; name one with --input-arrays");
      name = n->name();
    }
  if (name.empty()) fail<UsageError>("calibration: the graph has no Placeholder input");
  return name;
}

// Value at quantile q (0..1) of v (partially reorders v).
float quantile(std::vector<float>& v, double q) {
  if (v.empty()) return 0.f;
  size_t k = (size_t)std::llround(q * (double)(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + (ptrdiff_t)k, v.end());
  return v[k];
}

void check_options(const ConvertOptions& o) {
  const bool quant = o.inference_type != InferenceType::kFloat;
  if (!quant) {
    for (auto t : {o.inference_input_type, o.inference_output_type})
      if (t && *t != InferenceType::kFloat)
        fail<UsageError>("--inference-input-type/--inference-output-type {} needs a quantized --inference-type",
                         inference_type_name(*t));
    if (o.representative)
      fail<UsageError>("--representative-data (full-integer PTQ) needs --inference-type int8 or uint8");
  } else if (o.post_training_quantize) {
    fail<UsageError>("--post-training-quantize (weight-only) applies to --inference-type float; use "
                     "--representative-data for full-integer post-training quantization");
  }
  if (o.batch_size < 1) fail<UsageError>("--batch-size must be >= 1");
  if (o.default_ranges && !(o.default_ranges->first <= 0 && o.default_ranges->second >= 0 &&
                            o.default_ranges->first < o.default_ranges->second))
    fail<UsageError>("--default-ranges {},{}: MIN <= 0 <= MAX and MIN < MAX required", o.default_ranges->first,
                     o.default_ranges->second);
}

}  // namespace

RangeMap calibrate(const Graph& frozen, const std::string& input_name, const data::Dataset& ds, int64_t count,
                   float scale, Calibration method, double percentile) {
  Graph& g = const_cast<Graph&>(frozen);  // Session needs a mutable graph; nothing is changed
  Output in = g.output(input_name);
  const int64_t n = count > 0 ? std::min<int64_t>(count, ds.n) : ds.n;
  if (n <= 0) fail<UsageError>("calibration: the representative data set '{}' is empty", ds.name);
  std::vector<Output> fetch;
  std::vector<std::string> names;
  for (Node* node : g.nodes()) {
    if (node->op() == "Const" || node->op() == "Placeholder") continue;
    for (int k = 0; k < node->num_outputs(); ++k)
      if (node->output_info(k).dtype == DType::kFloat32) {
        fetch.push_back(node->output(k));
        names.push_back(node->output(k).str());
      }
  }
  std::vector<float> mn(fetch.size(), std::numeric_limits<float>::max()),
      mx(fetch.size(), std::numeric_limits<float>::lowest());
  std::vector<double> lo_sum(fetch.size(), 0), hi_sum(fetch.size(), 0);
  float in_min = std::numeric_limits<float>::max(), in_max = std::numeric_limits<float>::lowest();
  int batches = 0;
  graph::VariableStore none;
  graph::Session s(g, none);
  const int64_t batch = 100, isz = ds.image_size();
  std::vector<float> tmp;
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t bs = std::min(batch, n - b0);
    Tensor x(DType::kFloat32, {bs, ds.h, ds.w, ds.c});
    float* px = x.data<float>();
    for (int64_t i = 0; i < bs * isz; ++i) {
      px[i] = (float)ds.pixels[(size_t)(b0 * isz + i)] * scale;
      in_min = std::min(in_min, px[i]);
      in_max = std::max(in_max, px[i]);
    }
    auto vals = s.run(graph::Session::Feeds{{in, x}}, fetch);
    for (size_t k = 0; k < fetch.size(); ++k) {
      const float* p = vals[k].data<float>();
      const int64_t sz = vals[k].size();
      for (int64_t i = 0; i < sz; ++i) mn[k] = std::min(mn[k], p[i]), mx[k] = std::max(mx[k], p[i]);
      if (method == Calibration::kPercentile) {
        tmp.assign(p, p + sz);
        lo_sum[k] += quantile(tmp, 1.0 - percentile / 100.0);
        hi_sum[k] += quantile(tmp, percentile / 100.0);
      }
    }
    ++batches;
  }
  RangeMap r;
  r[in.str()] = {in_min, in_max};
  for (size_t k = 0; k < fetch.size(); ++k) {
    if (method == Calibration::kPercentile) r[names[k]] = {(float)(lo_sum[k] / batches), (float)(hi_sum[k] / batches)};
    else r[names[k]] = {mn[k], mx[k]};
  }
  return r;
}

tfl::ModelDesc convert_to_desc(const Graph& frozen, const ConvertOptions& opt, ConvertReport* report) {
  check_options(opt);
  RangeMap ranges;
  const RangeMap* rp = nullptr;
  if (opt.representative) {
    std::string in = opt.input_arrays.empty() ? single_input(frozen) : opt.input_arrays.at(0);
    ranges = calibrate(frozen, in, *opt.representative, opt.representative_count, opt.representative_scale,
                       opt.calibration, opt.percentile);
    rp = &ranges;
  }
  detail::IModel m = detail::lower(frozen, opt, rp);
  detail::quantize_model(m, opt);
  tfl::ModelDesc d = detail::emit(m, opt);
  if (report) {
    report->op_counts.clear();
    for (const auto& op : m.ops)
      ++report->op_counts[op.code == detail::kCustom ? op.custom_code : detail::builtin_name(op.code)];
    report->notes = m.notes;
    report->input_names.clear();
    report->output_names.clear();
    for (int t : m.inputs) report->input_names.push_back(m.tensors[t].name);
    for (int t : m.outputs) report->output_names.push_back(m.tensors[t].name);
  }
  return d;
}

std::vector<uint8_t> convert(const Graph& frozen, const ConvertOptions& opt, ConvertReport* report) {
  tfl::ModelDesc d = convert_to_desc(frozen, opt, report);
  std::vector<uint8_t> bytes = tfl::WriteModel(d);
  if (report) report->bytes = bytes.size();
  return bytes;
}

ConvertReport convert_file(const std::string& frozen_path, const std::string& out_path, const ConvertOptions& opt) {
  freeze::register_all_ops();
  auto g = Graph::load(frozen_path);
  ConvertReport r;
  tfl::ModelDesc d = convert_to_desc(*g, opt, &r);
  tfl::WriteModelFile(d, out_path);
  std::error_code ec;
  r.bytes = (size_t)std::filesystem::file_size(out_path, ec);
  return r;
}

}  // namespace qat::convert
