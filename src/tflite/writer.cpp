// ModelDesc <-> .tflite bytes.
//
// Writing follows what TFLite's own converter emits, so that other runtimes accept the files:
// version 3, buffers[0] empty, both opcode fields (deprecated_builtin_code = min(code, 127), the
// placeholder value for codes that do not fit the old byte field), 16-byte aligned buffer data
// (the schema's force_align), and the "TFL3" file identifier.
#include <fstream>
#include <map>
#include <tuple>

#include <flatbuffers/flatbuffers.h>

#include "qat/error.h"
#include "qat/tflite.h"
#include "qat/tflite/schema_generated.h"

namespace qat::tfl {

namespace fb = flatbuffers;
using FbOptions = tflite::BuiltinOptions;

uint32_t ModelDesc::AddBuffer(std::vector<uint8_t> bytes) {
  buffers.push_back(std::move(bytes));
  return (uint32_t)(buffers.size() - 1);
}

namespace {

template <class... Args>
[[noreturn]] void Bad(fmt::format_string<Args...> f, Args&&... args) {
  throw UsageError("WriteModel: " + fmt::format(f, std::forward<Args>(args)...));
}

// builtin options -> (union type, table offset)
struct OptionsWriter {
  fb::FlatBufferBuilder& b;
  using R = std::pair<FbOptions, fb::Offset<void>>;
  template <class T> static tflite::Padding Pad(T v) { return static_cast<tflite::Padding>(v); }
  template <class T> static tflite::ActivationFunctionType Act(T v) { return static_cast<tflite::ActivationFunctionType>(v); }

  R operator()(const std::monostate&) { return {FbOptions::NONE, 0}; }
  R operator()(const Conv2DOptions& o) {
    return {FbOptions::Conv2DOptions,
            tflite::CreateConv2DOptions(b, Pad(o.padding), o.stride_w, o.stride_h, Act(o.fused_activation_function),
                                        o.dilation_w_factor, o.dilation_h_factor).Union()};
  }
  R operator()(const DepthwiseConv2DOptions& o) {
    return {FbOptions::DepthwiseConv2DOptions,
            tflite::CreateDepthwiseConv2DOptions(b, Pad(o.padding), o.stride_w, o.stride_h, o.depth_multiplier,
                                                 Act(o.fused_activation_function), o.dilation_w_factor,
                                                 o.dilation_h_factor).Union()};
  }
  R operator()(const Pool2DOptions& o) {
    return {FbOptions::Pool2DOptions,
            tflite::CreatePool2DOptions(b, Pad(o.padding), o.stride_w, o.stride_h, o.filter_width, o.filter_height,
                                        Act(o.fused_activation_function)).Union()};
  }
  R operator()(const FullyConnectedOptions& o) {
    return {FbOptions::FullyConnectedOptions,
            tflite::CreateFullyConnectedOptions(b, Act(o.fused_activation_function),
                                                tflite::FullyConnectedOptionsWeightsFormat::DEFAULT, o.keep_num_dims).Union()};
  }
  R operator()(const SoftmaxOptions& o) { return {FbOptions::SoftmaxOptions, tflite::CreateSoftmaxOptions(b, o.beta).Union()}; }
  R operator()(const ConcatenationOptions& o) {
    return {FbOptions::ConcatenationOptions,
            tflite::CreateConcatenationOptions(b, o.axis, Act(o.fused_activation_function)).Union()};
  }
  R operator()(const AddOptions& o) {
    return {FbOptions::AddOptions, tflite::CreateAddOptions(b, Act(o.fused_activation_function)).Union()};
  }
  R operator()(const SubOptions& o) {
    return {FbOptions::SubOptions, tflite::CreateSubOptions(b, Act(o.fused_activation_function)).Union()};
  }
  R operator()(const MulOptions& o) {
    return {FbOptions::MulOptions, tflite::CreateMulOptions(b, Act(o.fused_activation_function)).Union()};
  }
  R operator()(const ReshapeOptions& o) {
    return {FbOptions::ReshapeOptions, tflite::CreateReshapeOptions(b, b.CreateVector(o.new_shape)).Union()};
  }
  R operator()(const PadOptions&) { return {FbOptions::PadOptions, tflite::CreatePadOptions(b).Union()}; }
  R operator()(const SqueezeOptions& o) {
    return {FbOptions::SqueezeOptions, tflite::CreateSqueezeOptions(b, b.CreateVector(o.squeeze_dims)).Union()};
  }
  R operator()(const ReducerOptions& o) { return {FbOptions::ReducerOptions, tflite::CreateReducerOptions(b, o.keep_dims).Union()}; }
  R operator()(const ResizeBilinearOptions& o) {
    return {FbOptions::ResizeBilinearOptions,
            tflite::CreateResizeBilinearOptions(b, o.align_corners, o.half_pixel_centers).Union()};
  }
  R operator()(const DepthToSpaceOptions& o) {
    return {FbOptions::DepthToSpaceOptions, tflite::CreateDepthToSpaceOptions(b, o.block_size).Union()};
  }
  R operator()(const DequantizeOptions&) { return {FbOptions::DequantizeOptions, tflite::CreateDequantizeOptions(b).Union()}; }
  R operator()(const QuantizeOptions&) { return {FbOptions::QuantizeOptions, tflite::CreateQuantizeOptions(b).Union()}; }
  R operator()(const HardSwishOptions&) { return {FbOptions::HardSwishOptions, tflite::CreateHardSwishOptions(b).Union()}; }
  R operator()(const DensifyOptions&) { return {FbOptions::DensifyOptions, tflite::CreateDensifyOptions(b).Union()}; }
  R operator()(const StridedSliceOptions& o) {
    return {FbOptions::StridedSliceOptions,
            tflite::CreateStridedSliceOptions(b, o.begin_mask, o.end_mask, o.ellipsis_mask, o.new_axis_mask,
                                              o.shrink_axis_mask, o.offset).Union()};
  }
};

fb::Offset<tflite::QuantizationParameters> WriteQuant(fb::FlatBufferBuilder& b, const QuantDesc& q) {
  if (q.scale.empty() && q.zero_point.empty() && q.min.empty() && q.max.empty()) return 0;
  auto mn = q.min.empty() ? 0 : b.CreateVector(q.min);
  auto mx = q.max.empty() ? 0 : b.CreateVector(q.max);
  auto sc = q.scale.empty() ? 0 : b.CreateVector(q.scale);
  auto zp = q.zero_point.empty() ? 0 : b.CreateVector(q.zero_point);
  return tflite::CreateQuantizationParameters(b, mn, mx, sc, zp, tflite::QuantizationDetails::NONE, 0,
                                              q.quantized_dimension);
}

fb::Offset<tflite::SparsityParameters> WriteSparsity(fb::FlatBufferBuilder& b, const SparsityDesc& s) {
  std::vector<fb::Offset<tflite::DimensionMetadata>> dims;
  for (const auto& d : s.dim_metadata) {
    fb::Offset<void> seg = 0, idx = 0;
    auto seg_t = tflite::SparseIndexVector::NONE, idx_t = tflite::SparseIndexVector::NONE;
    if (d.format == (int8_t)tflite::DimensionType::SPARSE_CSR) {
      seg = tflite::CreateInt32Vector(b, b.CreateVector(d.array_segments)).Union();
      idx = tflite::CreateInt32Vector(b, b.CreateVector(d.array_indices)).Union();
      seg_t = idx_t = tflite::SparseIndexVector::Int32Vector;
    }
    dims.push_back(tflite::CreateDimensionMetadata(b, static_cast<tflite::DimensionType>(d.format), d.dense_size, seg_t,
                                                   seg, idx_t, idx));
  }
  return tflite::CreateSparsityParameters(b, b.CreateVector(s.traversal_order),
                                          s.block_map.empty() ? 0 : b.CreateVector(s.block_map), b.CreateVector(dims));
}

}  // namespace

std::vector<uint8_t> WriteModel(const ModelDesc& m, bool verify) {
  if (m.buffers.empty() || !m.buffers[0].empty()) Bad("buffers[0] must exist and be empty");
  if (m.subgraphs.empty()) Bad("no subgraph");
  fb::FlatBufferBuilder b(1 << 16);

  // Operator codes, deduplicated in first-use order.
  std::map<std::tuple<int32_t, std::string, int32_t>, uint32_t> code_index;
  std::vector<fb::Offset<tflite::OperatorCode>> codes;
  std::vector<std::vector<uint32_t>> op_code_of(m.subgraphs.size());
  for (size_t s = 0; s < m.subgraphs.size(); ++s)
    for (const auto& op : m.subgraphs[s].ops) {
      if (op.builtin_code < 0) Bad("subgraph {}: negative builtin code {}", s, op.builtin_code);
      const bool custom = op.builtin_code == (int32_t)tflite::BuiltinOperator::CUSTOM;
      if (custom && op.custom_code.empty()) Bad("subgraph {}: CUSTOM op without a custom_code", s);
      auto key = std::make_tuple(op.builtin_code, custom ? op.custom_code : std::string(), op.version);
      auto it = code_index.find(key);
      if (it == code_index.end()) {
        const int8_t deprecated = (int8_t)std::min<int32_t>(op.builtin_code, 127);
        codes.push_back(tflite::CreateOperatorCode(b, deprecated, custom ? b.CreateString(op.custom_code) : 0, op.version,
                                                   static_cast<tflite::BuiltinOperator>(op.builtin_code)));
        it = code_index.emplace(key, (uint32_t)codes.size() - 1).first;
      }
      op_code_of[s].push_back(it->second);
    }

  std::vector<fb::Offset<tflite::SubGraph>> subgraphs;
  for (size_t s = 0; s < m.subgraphs.size(); ++s) {
    const auto& sg = m.subgraphs[s];
    std::vector<fb::Offset<tflite::Tensor>> tensors;
    for (size_t t = 0; t < sg.tensors.size(); ++t) {
      const auto& td = sg.tensors[t];
      if (td.buffer >= m.buffers.size()) Bad("subgraph {} tensor {} '{}': buffer {} out of range", s, t, td.name, td.buffer);
      auto shape = b.CreateVector(td.shape);
      auto name = b.CreateString(td.name);
      auto quant = WriteQuant(b, td.quant);
      auto sparsity = td.sparsity ? WriteSparsity(b, *td.sparsity) : 0;
      auto sig = td.shape_signature.empty() ? 0 : b.CreateVector(td.shape_signature);
      tensors.push_back(tflite::CreateTensor(b, shape, static_cast<tflite::TensorType>(td.type), td.buffer, name, quant,
                                             td.is_variable, sparsity, sig, /*has_rank=*/true));
    }
    std::vector<fb::Offset<tflite::Operator>> ops;
    for (size_t o = 0; o < sg.ops.size(); ++o) {
      const auto& od = sg.ops[o];
      auto ins = b.CreateVector(od.inputs);
      auto outs = b.CreateVector(od.outputs);
      auto [otype, opts] = std::visit(OptionsWriter{b}, od.options);
      auto custom = od.custom_options.empty() ? 0 : b.CreateVector(od.custom_options);
      auto inter = od.intermediates.empty() ? 0 : b.CreateVector(od.intermediates);
      ops.push_back(tflite::CreateOperator(b, op_code_of[s][o], ins, outs, otype, opts, custom,
                                           tflite::CustomOptionsFormat::FLEXBUFFERS, 0, inter));
    }
    subgraphs.push_back(tflite::CreateSubGraph(b, b.CreateVector(tensors), b.CreateVector(sg.inputs),
                                               b.CreateVector(sg.outputs), b.CreateVector(ops),
                                               sg.name.empty() ? 0 : b.CreateString(sg.name)));
  }

  std::vector<fb::Offset<tflite::Buffer>> buffers;
  for (const auto& bytes : m.buffers) {
    if (bytes.empty()) {
      buffers.push_back(tflite::CreateBuffer(b));
      continue;
    }
    // force_align 16 on Buffer.data: align the vector's start, as flatc's generated code does.
    b.ForceVectorAlignment(bytes.size(), sizeof(uint8_t), 16);
    auto data = b.CreateVector(bytes);
    buffers.push_back(tflite::CreateBuffer(b, data));
  }

  std::vector<fb::Offset<tflite::Metadata>> metadata;
  for (const auto& [name, buf] : m.metadata) {
    if (buf >= m.buffers.size()) Bad("metadata '{}': buffer {} out of range", name, buf);
    metadata.push_back(tflite::CreateMetadata(b, b.CreateString(name), buf));
  }
  std::vector<fb::Offset<tflite::SignatureDef>> sigs;
  for (const auto& sd : m.signatures) {
    auto maps = [&](const std::vector<std::pair<std::string, uint32_t>>& v) {
      std::vector<fb::Offset<tflite::TensorMap>> r;
      for (const auto& [n, i] : v) r.push_back(tflite::CreateTensorMap(b, b.CreateString(n), i));
      return b.CreateVector(r);
    };
    auto ins = maps(sd.inputs);
    auto outs = maps(sd.outputs);
    sigs.push_back(tflite::CreateSignatureDef(b, ins, outs, b.CreateString(sd.key), sd.subgraph_index));
  }

  auto model = tflite::CreateModel(b, m.version, b.CreateVector(codes), b.CreateVector(subgraphs),
                                   m.description.empty() ? 0 : b.CreateString(m.description), b.CreateVector(buffers), 0,
                                   metadata.empty() ? 0 : b.CreateVector(metadata), sigs.empty() ? 0 : b.CreateVector(sigs));
  tflite::FinishModelBuffer(b, model);
  std::vector<uint8_t> out(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  // A description that does not make a valid model is a bug of the caller: report it now, with
  // the verifier's message, rather than writing a file no runtime will load.
  if (verify) ModelFile::FromBuffer(out, "WriteModel output");
  return out;
}

void WriteModelFile(const ModelDesc& model, const std::string& path) {
  const auto bytes = WriteModel(model);
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  if (!f) throw IoError(fmt::format("{}: cannot open for writing", path));
  f.write(reinterpret_cast<const char*>(bytes.data()), (std::streamsize)bytes.size());
  if (!f) throw IoError(fmt::format("{}: write failed", path));
}

// ------------------------------------------------------------------ reading back
namespace {

template <class T> std::vector<T> Vec(const fb::Vector<T>* v) {
  return v ? std::vector<T>(v->begin(), v->end()) : std::vector<T>();
}

std::vector<int32_t> IndexValues(tflite::SparseIndexVector type, const void* v) {
  std::vector<int32_t> r;
  if (!v) return r;
  switch (type) {
    case tflite::SparseIndexVector::Int32Vector:
      if (auto* p = static_cast<const tflite::Int32Vector*>(v)->values()) r.assign(p->begin(), p->end());
      break;
    case tflite::SparseIndexVector::Uint16Vector:
      if (auto* p = static_cast<const tflite::Uint16Vector*>(v)->values()) r.assign(p->begin(), p->end());
      break;
    case tflite::SparseIndexVector::Uint8Vector:
      if (auto* p = static_cast<const tflite::Uint8Vector*>(v)->values()) r.assign(p->begin(), p->end());
      break;
    default: break;
  }
  return r;
}

BuiltinOptions ReadOptions(const tflite::Operator* op, bool strict, const std::string& where) {
  using T = FbOptions;
  if (!op->builtin_options()) return std::monostate{};  // (VerifyModel rejects a type without a table)
  switch (op->builtin_options_type()) {
    case T::NONE: return std::monostate{};
    case T::Conv2DOptions: {
      auto* o = op->builtin_options_as_Conv2DOptions();
      return Conv2DOptions{(int8_t)o->padding(), o->stride_w(), o->stride_h(), (int8_t)o->fused_activation_function(),
                           o->dilation_w_factor(), o->dilation_h_factor()};
    }
    case T::DepthwiseConv2DOptions: {
      auto* o = op->builtin_options_as_DepthwiseConv2DOptions();
      return DepthwiseConv2DOptions{(int8_t)o->padding(), o->stride_w(), o->stride_h(), o->depth_multiplier(),
                                    (int8_t)o->fused_activation_function(), o->dilation_w_factor(), o->dilation_h_factor()};
    }
    case T::Pool2DOptions: {
      auto* o = op->builtin_options_as_Pool2DOptions();
      return Pool2DOptions{(int8_t)o->padding(), o->stride_w(), o->stride_h(), o->filter_width(), o->filter_height(),
                           (int8_t)o->fused_activation_function()};
    }
    case T::FullyConnectedOptions: {
      auto* o = op->builtin_options_as_FullyConnectedOptions();
      return FullyConnectedOptions{(int8_t)o->fused_activation_function(), o->keep_num_dims()};
    }
    case T::SoftmaxOptions: return SoftmaxOptions{op->builtin_options_as_SoftmaxOptions()->beta()};
    case T::ConcatenationOptions: {
      auto* o = op->builtin_options_as_ConcatenationOptions();
      return ConcatenationOptions{o->axis(), (int8_t)o->fused_activation_function()};
    }
    case T::AddOptions: return AddOptions{(int8_t)op->builtin_options_as_AddOptions()->fused_activation_function()};
    case T::SubOptions: return SubOptions{(int8_t)op->builtin_options_as_SubOptions()->fused_activation_function()};
    case T::MulOptions: return MulOptions{(int8_t)op->builtin_options_as_MulOptions()->fused_activation_function()};
    case T::ReshapeOptions: return ReshapeOptions{Vec(op->builtin_options_as_ReshapeOptions()->new_shape())};
    case T::PadOptions: return PadOptions{};
    case T::SqueezeOptions: return SqueezeOptions{Vec(op->builtin_options_as_SqueezeOptions()->squeeze_dims())};
    case T::ReducerOptions: return ReducerOptions{op->builtin_options_as_ReducerOptions()->keep_dims()};
    case T::ResizeBilinearOptions: {
      auto* o = op->builtin_options_as_ResizeBilinearOptions();
      return ResizeBilinearOptions{o->align_corners(), o->half_pixel_centers()};
    }
    case T::DepthToSpaceOptions: return DepthToSpaceOptions{op->builtin_options_as_DepthToSpaceOptions()->block_size()};
    case T::DequantizeOptions: return DequantizeOptions{};
    case T::QuantizeOptions: return QuantizeOptions{};
    case T::HardSwishOptions: return HardSwishOptions{};
    case T::DensifyOptions: return DensifyOptions{};
    case T::StridedSliceOptions: {
      auto* o = op->builtin_options_as_StridedSliceOptions();
      return StridedSliceOptions{o->begin_mask(), o->end_mask(), o->ellipsis_mask(), o->new_axis_mask(),
                                 o->shrink_axis_mask(), o->offset()};
    }
    default:
      if (strict)
        throw FormatError(fmt::format("{}: builtin options {} are not representable in a ModelDesc", where,
                                      tflite::EnumNameBuiltinOptions(op->builtin_options_type())));
      return std::monostate{};
  }
}

}  // namespace

ModelDesc ReadModelDesc(const ModelFile& file, bool strict) {
  const tflite::Model* m = file.model();
  ModelDesc d;
  d.version = m->version();
  d.description = m->description() ? m->description()->str() : "";
  d.buffers.clear();
  const uint32_t nb = m->buffers() ? m->buffers()->size() : 0;
  for (uint32_t i = 0; i < nb; ++i) {
    auto bytes = file.buffer(i);
    d.buffers.emplace_back(bytes.begin(), bytes.end());
  }
  if (d.buffers.empty()) d.buffers.emplace_back();
  for (uint32_t s = 0; s < m->subgraphs()->size(); ++s) {
    const auto* sg = m->subgraphs()->Get(s);
    SubGraphDesc g;
    g.name = sg->name() ? sg->name()->str() : "";
    g.inputs = Vec(sg->inputs());
    g.outputs = Vec(sg->outputs());
    if (sg->tensors())
      for (const auto* t : *sg->tensors()) {
        TensorDesc td;
        td.name = t->name() ? t->name()->str() : "";
        td.type = static_cast<TensorType>(t->type());
        td.shape = Vec(t->shape());
        td.shape_signature = Vec(t->shape_signature());
        td.buffer = t->buffer();
        td.is_variable = t->is_variable();
        if (const auto* q = t->quantization()) {
          td.quant.scale = Vec(q->scale());
          td.quant.zero_point = Vec(q->zero_point());
          td.quant.min = Vec(q->min());
          td.quant.max = Vec(q->max());
          td.quant.quantized_dimension = q->quantized_dimension();
        }
        if (const auto* sp = t->sparsity()) {
          SparsityDesc sd;
          sd.traversal_order = Vec(sp->traversal_order());
          sd.block_map = Vec(sp->block_map());
          if (sp->dim_metadata())
            for (const auto* dm : *sp->dim_metadata())
              sd.dim_metadata.push_back({(int8_t)dm->format(), dm->dense_size(),
                                         IndexValues(dm->array_segments_type(), dm->array_segments()),
                                         IndexValues(dm->array_indices_type(), dm->array_indices())});
          td.sparsity = std::move(sd);
        }
        g.tensors.push_back(std::move(td));
      }
    if (sg->operators())
      for (uint32_t o = 0; o < sg->operators()->size(); ++o) {
        const auto* op = sg->operators()->Get(o);
        const auto* code = m->operator_codes()->Get(op->opcode_index());
        OpDesc od;
        od.builtin_code = RealBuiltinCode(code);
        od.custom_code = code->custom_code() ? code->custom_code()->str() : "";
        od.version = code->version();
        od.inputs = Vec(op->inputs());
        od.outputs = Vec(op->outputs());
        od.options = ReadOptions(op, strict, fmt::format("{}: subgraph {} operator {}", file.name(), s, o));
        od.custom_options = Vec(op->custom_options());
        if (op->large_custom_options_offset() > 1) {
          const uint8_t* p = file.data() + op->large_custom_options_offset();
          od.custom_options.assign(p, p + op->large_custom_options_size());
        }
        od.intermediates = Vec(op->intermediates());
        g.ops.push_back(std::move(od));
      }
    d.subgraphs.push_back(std::move(g));
  }
  if (m->metadata())
    for (const auto* md : *m->metadata()) d.metadata.emplace_back(md->name() ? md->name()->str() : "", md->buffer());
  if (m->signature_defs())
    for (const auto* sd : *m->signature_defs()) {
      SignatureDesc s;
      s.key = sd->signature_key() ? sd->signature_key()->str() : "";
      s.subgraph_index = sd->subgraph_index();
      auto maps = [](const fb::Vector<fb::Offset<tflite::TensorMap>>* v) {
        std::vector<std::pair<std::string, uint32_t>> r;
        if (v)
          for (const auto* tm : *v) r.emplace_back(tm->name() ? tm->name()->str() : "", tm->tensor_index());
        return r;
      };
      s.inputs = maps(sd->inputs());
      s.outputs = maps(sd->outputs());
      d.signatures.push_back(std::move(s));
    }
  return d;
}

}  // namespace qat::tfl
