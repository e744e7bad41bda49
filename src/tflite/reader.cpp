// Verification of .tflite bytes: the FlatBuffers verifier, then qat's semantic checks.
//
// The FlatBuffers verifier only proves that every offset, vector and string lies inside the
// buffer. It says nothing about the indices stored *in* the model (tensor -> buffer, operator ->
// tensor, operator -> opcode), nor about whether a buffer holds as many bytes as its tensor's
// shape needs. Those are what turn a corrupt file into an out-of-bounds read at Invoke time, so
// they are all checked here, once, before the interpreter looks at the model.
#include <algorithm>
#include <cmath>
#include <limits>

#include <flatbuffers/flatbuffers.h>

#include "qat/error.h"
#include "qat/tflite.h"
#include "qat/tflite/schema_generated.h"

namespace qat::tfl {

namespace {

using tflite::BuiltinOperator;
using tflite::BuiltinOptions;

constexpr int kNumTensorTypes = static_cast<int>(tflite::TensorType::MAX) + 1;

// Input/output arity and the options table each builtin op qat handles expects. Ops outside this
// table are only checked generically (their kernels' prepare() checks the rest).
struct OpRule {
  BuiltinOperator op;
  int min_in, max_in;   // max_in -1: unbounded
  int min_out, max_out;
  BuiltinOptions options;  // expected builtin_options_type (NONE accepted too: defaults apply)
};

constexpr OpRule kRules[] = {
    {BuiltinOperator::CONV_2D, 2, 3, 1, 1, BuiltinOptions::Conv2DOptions},
    {BuiltinOperator::DEPTHWISE_CONV_2D, 2, 3, 1, 1, BuiltinOptions::DepthwiseConv2DOptions},
    {BuiltinOperator::FULLY_CONNECTED, 2, 3, 1, 1, BuiltinOptions::FullyConnectedOptions},
    {BuiltinOperator::ADD, 2, 2, 1, 1, BuiltinOptions::AddOptions},
    {BuiltinOperator::SUB, 2, 2, 1, 1, BuiltinOptions::SubOptions},
    {BuiltinOperator::MUL, 2, 2, 1, 1, BuiltinOptions::MulOptions},
    {BuiltinOperator::AVERAGE_POOL_2D, 1, 1, 1, 1, BuiltinOptions::Pool2DOptions},
    {BuiltinOperator::MAX_POOL_2D, 1, 1, 1, 1, BuiltinOptions::Pool2DOptions},
    {BuiltinOperator::MEAN, 2, 2, 1, 1, BuiltinOptions::ReducerOptions},
    {BuiltinOperator::PAD, 2, 2, 1, 1, BuiltinOptions::PadOptions},
    {BuiltinOperator::PADV2, 2, 3, 1, 1, BuiltinOptions::PadV2Options},
    {BuiltinOperator::RESHAPE, 1, 2, 1, 1, BuiltinOptions::ReshapeOptions},
    {BuiltinOperator::SQUEEZE, 1, 1, 1, 1, BuiltinOptions::SqueezeOptions},
    {BuiltinOperator::CONCATENATION, 1, -1, 1, 1, BuiltinOptions::ConcatenationOptions},
    {BuiltinOperator::SOFTMAX, 1, 1, 1, 1, BuiltinOptions::SoftmaxOptions},
    {BuiltinOperator::LOGISTIC, 1, 1, 1, 1, BuiltinOptions::NONE},
    {BuiltinOperator::TANH, 1, 1, 1, 1, BuiltinOptions::NONE},
    {BuiltinOperator::RELU, 1, 1, 1, 1, BuiltinOptions::NONE},
    {BuiltinOperator::RELU6, 1, 1, 1, 1, BuiltinOptions::NONE},
    {BuiltinOperator::HARD_SWISH, 1, 1, 1, 1, BuiltinOptions::HardSwishOptions},
    {BuiltinOperator::RESIZE_BILINEAR, 2, 2, 1, 1, BuiltinOptions::ResizeBilinearOptions},
    {BuiltinOperator::DEPTH_TO_SPACE, 1, 1, 1, 1, BuiltinOptions::DepthToSpaceOptions},
    {BuiltinOperator::QUANTIZE, 1, 1, 1, 1, BuiltinOptions::QuantizeOptions},
    {BuiltinOperator::DEQUANTIZE, 1, 1, 1, 1, BuiltinOptions::DequantizeOptions},
    {BuiltinOperator::DENSIFY, 1, 1, 1, 1, BuiltinOptions::DensifyOptions},
    {BuiltinOperator::STRIDED_SLICE, 4, 4, 1, 1, BuiltinOptions::StridedSliceOptions},
};

const OpRule* FindRule(int32_t code) {
  for (const auto& r : kRules)
    if (static_cast<int32_t>(r.op) == code) return &r;
  return nullptr;
}

bool IsQuantizedType(int t) {
  return t == (int)tflite::TensorType::INT8 || t == (int)tflite::TensorType::UINT8 ||
         t == (int)tflite::TensorType::INT16;
}

class Checker {
 public:
  Checker(const uint8_t* data, size_t size, const std::string& name, const VerifyOptions& opt)
      : data_(data), size_(size), name_(name), opt_(opt) {}

  void Run() {
    if (size_ < 8) Fail("file too small for a .tflite model ({} bytes)", size_);
    if (!flatbuffers::BufferHasIdentifier(data_, tflite::ModelIdentifier()))
      Fail("not a TFLite model: file identifier is '{}', expected 'TFL3'", Printable(data_ + 4, 4));
    // The flatbuffer itself can address at most 2 GB; larger files keep buffers after it.
    const size_t fb_size = std::min<size_t>(size_, FLATBUFFERS_MAX_BUFFER_SIZE - 1);
    flatbuffers::Verifier verifier(data_, fb_size, /*max_depth=*/64, /*max_tables=*/4000000,
                                   /*check_alignment=*/true);
    if (!tflite::VerifyModelBuffer(verifier)) Fail("corrupt or truncated FlatBuffer (verifier failed)");
    model_ = tflite::GetModel(data_);
    if (model_->version() != 3) Fail("schema version {} is not supported (expected 3)", model_->version());
    CheckBuffers();
    CheckOpcodes();
    if (!model_->subgraphs() || model_->subgraphs()->size() == 0) Fail("model has no subgraph");
    for (uint32_t s = 0; s < model_->subgraphs()->size(); ++s) CheckSubgraph(s);
    CheckMetadata();
  }

 private:
  template <class... Args>
  [[noreturn]] void Fail(fmt::format_string<Args...> f, Args&&... args) const {
    throw FormatError(fmt::format("{}: {}", name_, fmt::format(f, std::forward<Args>(args)...)));
  }

  static std::string Printable(const uint8_t* p, size_t n) {
    std::string s;
    for (size_t i = 0; i < n; ++i) s += (p[i] >= 32 && p[i] < 127) ? (char)p[i] : '?';
    return s;
  }

  size_t num_buffers() const { return model_->buffers() ? model_->buffers()->size() : 0; }

  void CheckBuffers() {
    const auto* buffers = model_->buffers();
    if (!buffers) return;
    for (uint32_t i = 0; i < buffers->size(); ++i) {
      const auto* b = buffers->Get(i);
      if (!b) Fail("buffer {} is null", i);
      const uint64_t off = b->offset(), sz = b->size();
      const bool external = off > 1;  // the schema defines offsets 0 and 1 as "not used"
      if (external) {
        if (b->data() && b->data()->size() > 0) Fail("buffer {} has both inline data and an external offset", i);
        if (off > size_ || sz > size_ - off)
          Fail("buffer {}: external data [{}, +{}) lies outside the file ({} bytes)", i, off, sz, size_);
      }
      if (i == 0 && ((b->data() && b->data()->size() > 0) || (external && sz > 0)))
        Fail("buffer 0 must be empty (it is the sentinel of tensors without data)");
    }
  }

  void CheckOpcodes() {
    const auto* codes = model_->operator_codes();
    if (!codes) return;
    for (uint32_t i = 0; i < codes->size(); ++i) {
      const auto* c = codes->Get(i);
      if (!c) Fail("operator code {} is null", i);
      if (c->deprecated_builtin_code() < 0) Fail("operator code {}: negative deprecated_builtin_code {}", i, c->deprecated_builtin_code());
      if ((int32_t)c->builtin_code() < 0) Fail("operator code {}: negative builtin_code {}", i, (int32_t)c->builtin_code());
      if (RealBuiltinCode(c) == (int32_t)BuiltinOperator::CUSTOM && (!c->custom_code() || c->custom_code()->size() == 0))
        Fail("operator code {}: CUSTOM without a custom_code", i);
    }
  }

  void CheckMetadata() {
    if (const auto* md = model_->metadata())
      for (uint32_t i = 0; i < md->size(); ++i)
        if (md->Get(i)->buffer() >= num_buffers())
          Fail("metadata {}: buffer {} out of range ({} buffers)", i, md->Get(i)->buffer(), num_buffers());
    if (const auto* sigs = model_->signature_defs())
      for (uint32_t i = 0; i < sigs->size(); ++i) {
        const auto* sd = sigs->Get(i);
        if (sd->subgraph_index() >= model_->subgraphs()->size())
          Fail("signature {}: subgraph {} out of range", i, sd->subgraph_index());
        const auto* sg = model_->subgraphs()->Get(sd->subgraph_index());
        const size_t nt = sg->tensors() ? sg->tensors()->size() : 0;
        for (const auto* maps : {sd->inputs(), sd->outputs()})
          if (maps)
            for (const auto* m : *maps)
              if (m->tensor_index() >= nt) Fail("signature {}: tensor {} out of range", i, m->tensor_index());
      }
  }

  // Bytes of buffer `b` (inline or external); buffers were bounds-checked by CheckBuffers.
  uint64_t BufferSize(uint32_t b) const {
    if (b >= num_buffers()) return 0;
    const auto* buf = model_->buffers()->Get(b);
    if (buf->offset() > 1) return buf->size();
    return buf->data() ? buf->data()->size() : 0;
  }

  std::string TensorLabel(uint32_t s, uint32_t t) const {
    const auto* tensors = model_->subgraphs()->Get(s)->tensors();
    const auto* tn = tensors->Get(t)->name();
    return fmt::format("subgraph {} tensor {} '{}'", s, t, tn ? tn->str() : "");
  }

  void CheckSubgraph(uint32_t s) {
    const auto* sg = model_->subgraphs()->Get(s);
    const auto* tensors = sg->tensors();
    const size_t nt = tensors ? tensors->size() : 0;
    if (nt > opt_.max_tensors) Fail("subgraph {}: {} tensors exceeds the limit {}", s, nt, opt_.max_tensors);
    has_data_.assign(nt, false);
    elems_.assign(nt, 0);
    for (uint32_t t = 0; t < nt; ++t) CheckTensor(s, t);

    // Dataflow: a tensor is readable once it is constant, a graph input, a variable, or written by
    // an earlier operator. This catches reads of never-written arena memory and writes into
    // constant (possibly read-only mapped) data.
    std::vector<uint8_t> ready(nt, 0), written(nt, 0);
    for (uint32_t t = 0; t < nt; ++t) ready[t] = has_data_[t] || tensors->Get(t)->is_variable();
    auto check_io = [&](const flatbuffers::Vector<int32_t>* v, const char* what) {
      if (!v) return;
      for (uint32_t k = 0; k < v->size(); ++k) {
        const int32_t t = v->Get(k);
        if (t < 0 || (size_t)t >= nt) Fail("subgraph {}: {} {} is tensor {}, out of range ({} tensors)", s, what, k, t, nt);
      }
    };
    check_io(sg->inputs(), "input");
    check_io(sg->outputs(), "output");
    if (sg->inputs())
      for (int32_t t : *sg->inputs()) {
        if (has_data_[t]) Fail("{}: a graph input cannot be a constant", TensorLabel(s, t));
        ready[t] = 1;
      }

    const auto* ops = sg->operators();
    const size_t nops = ops ? ops->size() : 0;
    if (nops > opt_.max_operators) Fail("subgraph {}: {} operators exceeds the limit {}", s, nops, opt_.max_operators);
    const size_t ncodes = model_->operator_codes() ? model_->operator_codes()->size() : 0;
    for (uint32_t o = 0; o < nops; ++o) {
      const auto* op = ops->Get(o);
      if (!op) Fail("subgraph {} operator {} is null", s, o);
      if (op->opcode_index() >= ncodes)
        Fail("subgraph {} operator {}: opcode_index {} out of range ({} operator codes)", s, o, op->opcode_index(), ncodes);
      const int32_t code = RealBuiltinCode(model_->operator_codes()->Get(op->opcode_index()));
      const std::string label = fmt::format("subgraph {} operator {} ({})", s, o, OpName(code, op));
      const auto* ins = op->inputs();
      const auto* outs = op->outputs();
      const int nin = ins ? (int)ins->size() : 0, nout = outs ? (int)outs->size() : 0;
      if (ins)
        for (int k = 0; k < nin; ++k) {
          const int32_t t = ins->Get(k);
          if (t == -1) continue;  // optional input omitted
          if (t < 0 || (size_t)t >= nt) Fail("{}: input {} is tensor {}, out of range ({} tensors)", label, k, t, nt);
          if (!ready[t]) Fail("{}: input {} ({}) is read before any operator writes it", label, k, TensorLabel(s, t));
        }
      if (outs)
        for (int k = 0; k < nout; ++k) {
          const int32_t t = outs->Get(k);
          if (t < 0 || (size_t)t >= nt) Fail("{}: output {} is tensor {}, out of range ({} tensors)", label, k, t, nt);
          if (has_data_[t]) Fail("{}: output {} ({}) is a constant tensor", label, k, TensorLabel(s, t));
          if (written[t]) Fail("{}: output {} ({}) is already written by an earlier operator", label, k, TensorLabel(s, t));
          if (sg->inputs() && std::find(sg->inputs()->begin(), sg->inputs()->end(), t) != sg->inputs()->end())
            Fail("{}: output {} ({}) is a graph input", label, k, TensorLabel(s, t));
          written[t] = ready[t] = 1;
        }
      if (const auto* im = op->intermediates())
        for (int32_t t : *im)
          if (t < 0 || (size_t)t >= nt) Fail("{}: intermediate tensor {} out of range", label, t);
      if (op->large_custom_options_offset() > 1) {
        const uint64_t off = op->large_custom_options_offset(), sz = op->large_custom_options_size();
        if (off > size_ || sz > size_ - off) Fail("{}: external custom options lie outside the file", label);
      }
      // The verifier accepts a union type without a value; kernels would then read options
      // through a null pointer, so reject it for every op.
      if (op->builtin_options_type() != BuiltinOptions::NONE && !op->builtin_options())
        Fail("{}: builtin_options_type is {} but the options table is missing", label,
             tflite::EnumNameBuiltinOptions(op->builtin_options_type()));
      CheckOpRule(s, label, code, op);
    }
    if (sg->outputs())
      for (int32_t t : *sg->outputs())
        if (!ready[t]) Fail("{}: graph output is never written", TensorLabel(s, t));
  }

  std::string OpName(int32_t code, const tflite::Operator* op) const {
    if (code == (int32_t)BuiltinOperator::CUSTOM) {
      const auto* c = model_->operator_codes()->Get(op->opcode_index())->custom_code();
      return c ? c->str() : "CUSTOM";
    }
    if (code >= 0 && code <= (int32_t)BuiltinOperator::MAX)
      return tflite::EnumNameBuiltinOperator(static_cast<BuiltinOperator>(code));
    return fmt::format("BUILTIN_{}", code);
  }

  void CheckOpRule(uint32_t s, const std::string& label, int32_t code, const tflite::Operator* op) {
    const OpRule* rule = FindRule(code);
    if (!rule) return;
    const int nin = op->inputs() ? (int)op->inputs()->size() : 0;
    const int nout = op->outputs() ? (int)op->outputs()->size() : 0;
    if (nin < rule->min_in || (rule->max_in >= 0 && nin > rule->max_in))
      Fail("{}: {} inputs, expected {}", label, nin,
           rule->max_in < 0 ? fmt::format("at least {}", rule->min_in)
           : rule->min_in == rule->max_in ? fmt::format("{}", rule->min_in)
                                          : fmt::format("{} to {}", rule->min_in, rule->max_in));
    if (nout < rule->min_out || nout > rule->max_out)
      Fail("{}: {} outputs, expected {}", label, nout, rule->min_out);
    const auto ot = op->builtin_options_type();
    if (ot != BuiltinOptions::NONE && ot != rule->options)
      Fail("{}: builtin options of type {} (expected {})", label, tflite::EnumNameBuiltinOptions(ot),
           tflite::EnumNameBuiltinOptions(rule->options));
    CheckOptionEnums(label, op);
    // Required (non-optional) inputs: all but the bias of CONV/DW/FC and PADV2's constant value.
    const bool has_optional_last = code == (int32_t)BuiltinOperator::CONV_2D ||
                                   code == (int32_t)BuiltinOperator::DEPTHWISE_CONV_2D ||
                                   code == (int32_t)BuiltinOperator::FULLY_CONNECTED ||
                                   code == (int32_t)BuiltinOperator::PADV2;
    const auto* tensors = model_->subgraphs()->Get(s)->tensors();
    auto type_of = [&](int k) { return (int)tensors->Get(op->inputs()->Get(k))->type(); };
    for (int k = 0; k < nin; ++k)
      if (op->inputs()->Get(k) < 0 && !(has_optional_last && k == 2))
        Fail("{}: required input {} is missing (-1)", label, k);
    const int out_type = (int)tensors->Get(op->outputs()->Get(0))->type();
    const int in_type = op->inputs()->Get(0) >= 0 ? type_of(0) : -1;
    switch (rule->op) {
      case BuiltinOperator::QUANTIZE:
        if (!IsQuantizedType(out_type)) Fail("{}: output type {} is not a quantized type", label, TensorTypeName(out_type));
        break;
      case BuiltinOperator::DEQUANTIZE:
        if (out_type != (int)tflite::TensorType::FLOAT32)
          Fail("{}: output type {} (expected FLOAT32)", label, TensorTypeName(out_type));
        break;
      case BuiltinOperator::DENSIFY:
        if (in_type != out_type) Fail("{}: input type {} != output type {}", label, TensorTypeName(in_type), TensorTypeName(out_type));
        break;
      case BuiltinOperator::CONV_2D:
      case BuiltinOperator::DEPTHWISE_CONV_2D:
      case BuiltinOperator::FULLY_CONNECTED: {
        if (in_type != out_type)
          Fail("{}: input type {} != output type {}", label, TensorTypeName(in_type), TensorTypeName(out_type));
        if (nin == 3 && op->inputs()->Get(2) >= 0 && IsQuantizedType(in_type)) {
          const int bt = type_of(2);
          if (bt != (int)tflite::TensorType::INT32 && bt != (int)tflite::TensorType::INT64)
            Fail("{}: bias type {} for a quantized op (expected INT32 or INT64)", label, TensorTypeName(bt));
        }
        break;
      }
      case BuiltinOperator::MEAN:
      case BuiltinOperator::PAD:
      case BuiltinOperator::PADV2:
      case BuiltinOperator::RESHAPE:
      case BuiltinOperator::RESIZE_BILINEAR:
      case BuiltinOperator::STRIDED_SLICE: {
        // The index-like second (and later) inputs are int32 or int64.
        for (int k = 1; k < nin; ++k) {
          if (rule->op == BuiltinOperator::PADV2 && k == 2) continue;  // the pad value has the data type
          if (op->inputs()->Get(k) < 0) continue;
          const int t = type_of(k);
          if (t != (int)tflite::TensorType::INT32 && t != (int)tflite::TensorType::INT64)
            Fail("{}: input {} has type {} (expected INT32 or INT64)", label, k, TensorTypeName(t));
        }
        [[fallthrough]];
      }
      default:
        // Same-type ops: every data input and the output share the type.
        if (rule->op != BuiltinOperator::MEAN && rule->op != BuiltinOperator::PAD &&
            rule->op != BuiltinOperator::RESHAPE && rule->op != BuiltinOperator::RESIZE_BILINEAR &&
            rule->op != BuiltinOperator::STRIDED_SLICE && rule->op != BuiltinOperator::PADV2) {
          for (int k = 0; k < nin; ++k)
            if (op->inputs()->Get(k) >= 0 && type_of(k) != out_type)
              Fail("{}: input {} type {} != output type {}", label, k, TensorTypeName(type_of(k)), TensorTypeName(out_type));
        } else if (in_type != out_type) {
          Fail("{}: input type {} != output type {}", label, TensorTypeName(in_type), TensorTypeName(out_type));
        }
    }
  }

  // Enum-valued options must hold a declared value: kernels switch on them, and an unknown
  // padding or activation would otherwise reach them (found by fuzzing: padding -1 made a
  // depthwise conv take seconds on a tiny tensor).
  void CheckOptionEnums(const std::string& label, const tflite::Operator* op) const {
    auto pad = [&](tflite::Padding p) {
      if ((int)p < 0 || (int)p > (int)tflite::Padding::MAX) Fail("{}: invalid padding value {}", label, (int)p);
    };
    auto act = [&](tflite::ActivationFunctionType a) {
      if ((int)a < 0 || (int)a > (int)tflite::ActivationFunctionType::MAX)
        Fail("{}: invalid fused activation value {}", label, (int)a);
    };
    if (auto* o = op->builtin_options_as_Conv2DOptions()) pad(o->padding()), act(o->fused_activation_function());
    if (auto* o = op->builtin_options_as_DepthwiseConv2DOptions()) pad(o->padding()), act(o->fused_activation_function());
    if (auto* o = op->builtin_options_as_Pool2DOptions()) pad(o->padding()), act(o->fused_activation_function());
    if (auto* o = op->builtin_options_as_FullyConnectedOptions()) act(o->fused_activation_function());
    if (auto* o = op->builtin_options_as_AddOptions()) act(o->fused_activation_function());
    if (auto* o = op->builtin_options_as_SubOptions()) act(o->fused_activation_function());
    if (auto* o = op->builtin_options_as_MulOptions()) act(o->fused_activation_function());
    if (auto* o = op->builtin_options_as_ConcatenationOptions()) act(o->fused_activation_function());
  }

  void CheckTensor(uint32_t s, uint32_t t) {
    const auto* tensor = model_->subgraphs()->Get(s)->tensors()->Get(t);
    if (!tensor) Fail("subgraph {} tensor {} is null", s, t);
    const std::string label = TensorLabel(s, t);
    const int type = (int)tensor->type();
    if (type < 0 || type >= kNumTensorTypes) Fail("{}: invalid tensor type {}", label, type);
    const auto* shape = tensor->shape();
    const int rank = shape ? (int)shape->size() : 0;
    if (rank > opt_.max_rank) Fail("{}: rank {} exceeds {}", label, rank, opt_.max_rank);
    // Element count with overflow detection: each dimension is < 2^31, and we stop as soon as
    // the product passes the byte limit.
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) {
      const int32_t dim = shape->Get(d);
      if (dim < 0) Fail("{}: negative dimension {} in shape", label, dim);
      if (dim != 0 && n > opt_.max_tensor_bytes / dim)  // checked before multiplying: no overflow
        Fail("{}: shape has more than {} elements", label, opt_.max_tensor_bytes);
      n *= dim;
    }
    const size_t esize = TensorTypeSize(type);
    if (esize && n > opt_.max_tensor_bytes / (int64_t)esize) Fail("{}: tensor larger than {} bytes", label, opt_.max_tensor_bytes);
    elems_[t] = n;
    if (tensor->shape_signature() && (int)tensor->shape_signature()->size() != rank)
      Fail("{}: shape_signature has rank {} but shape has rank {}", label, tensor->shape_signature()->size(), rank);

    const uint32_t b = tensor->buffer();
    if (b != 0 && b >= num_buffers()) Fail("{}: buffer {} out of range ({} buffers)", label, b, num_buffers());
    const uint64_t have = BufferSize(b);
    has_data_[t] = have > 0;
    if (have > 0) {
      if (tensor->is_variable()) Fail("{}: a variable tensor cannot have constant data", label);
      if (tensor->sparsity()) {
        CheckSparsity(label, tensor, rank);
      } else if (type == (int)tflite::TensorType::INT4) {
        if (have != (uint64_t)((n + 1) / 2)) Fail("{}: buffer {} has {} bytes, INT4{} needs {}", label, b, have, ShapeStr(shape), (n + 1) / 2);
      } else if (esize && have != (uint64_t)n * esize) {
        Fail("{}: buffer {} has {} bytes, but {}{} needs {}", label, b, have, TensorTypeName(type), ShapeStr(shape),
             (uint64_t)n * esize);
      }
    }
    if (const auto* q = tensor->quantization()) CheckQuant(label, q, type, shape, rank);
  }

  static std::string ShapeStr(const flatbuffers::Vector<int32_t>* shape) {
    std::string r = "[";
    if (shape)
      for (uint32_t i = 0; i < shape->size(); ++i) r += (i ? "," : "") + std::to_string(shape->Get(i));
    return r + "]";
  }

  void CheckQuant(const std::string& label, const tflite::QuantizationParameters* q, int type,
                  const flatbuffers::Vector<int32_t>* shape, int rank) {
    const size_t ns = q->scale() ? q->scale()->size() : 0;
    const size_t nz = q->zero_point() ? q->zero_point()->size() : 0;
    if (ns == 0 && nz == 0) return;  // min/max only, or nothing: not quantized
    if (ns != nz) Fail("{}: quantization has {} scales but {} zero points", label, ns, nz);
    for (size_t i = 0; i < ns; ++i) {
      const float sc = q->scale()->Get(i);
      if (!std::isfinite(sc) || sc < 0) Fail("{}: quantization scale[{}] = {} is not a finite non-negative number", label, i, sc);
    }
    int64_t lo = std::numeric_limits<int64_t>::min(), hi = std::numeric_limits<int64_t>::max();
    if (type == (int)tflite::TensorType::INT8) lo = -128, hi = 127;
    if (type == (int)tflite::TensorType::UINT8) lo = 0, hi = 255;
    if (type == (int)tflite::TensorType::INT16) lo = -32768, hi = 32767;
    for (size_t i = 0; i < nz; ++i) {
      const int64_t z = q->zero_point()->Get(i);
      if (z < lo || z > hi) Fail("{}: zero_point[{}] = {} out of range for {}", label, i, z, TensorTypeName(type));
    }
    if (ns > 1) {
      const int qd = q->quantized_dimension();
      if (qd < 0 || qd >= rank) Fail("{}: quantized_dimension {} out of range for rank {}", label, qd, rank);
      if ((int64_t)ns != shape->Get(qd))
        Fail("{}: {} per-channel scales but dimension {} has size {}", label, ns, qd, shape->Get(qd));
    }
  }

  // Sparse constants (DENSIFY inputs): the index metadata must be self-consistent so that
  // densifying can never index outside the dense tensor or the value buffer.
  void CheckSparsity(const std::string& label, const tflite::Tensor* tensor, int rank) {
    const auto* sp = tensor->sparsity();
    const auto* order = sp->traversal_order();
    const auto* dims = sp->dim_metadata();
    if (!order || !dims || order->size() != dims->size() || (int)order->size() < rank)
      Fail("{}: inconsistent sparsity parameters (traversal_order/dim_metadata sizes)", label);
    const int n = (int)order->size();
    const int nblock = n - rank;
    const auto* bmap = sp->block_map();
    if (nblock > 0 && (!bmap || (int)bmap->size() != nblock)) Fail("{}: sparsity block_map must have {} entries", label, nblock);
    if (n > opt_.max_rank * 2) Fail("{}: sparsity with {} dimensions", label, n);
    // traversal_order: a permutation of [0, rank) followed by a permutation of [rank, n).
    std::vector<uint8_t> seen(n, 0);
    for (int i = 0; i < n; ++i) {
      const int v = order->Get(i);
      if (v < 0 || v >= n || seen[v] || (i < rank) != (v < rank)) Fail("{}: invalid sparsity traversal_order", label);
      seen[v] = 1;
    }
    if (bmap)
      for (uint32_t i = 0; i < bmap->size(); ++i)
        if (bmap->Get(i) < 0 || bmap->Get(i) >= rank) Fail("{}: sparsity block_map[{}] out of range", label, i);
    // Block dimensions (levels >= rank) must be dense; block[d] = product of the block sizes of
    // original dimension d, and each original dimension is an exact multiple of its block.
    std::vector<int64_t> block(rank, 1);
    for (int i = 0; i < n; ++i) {
      const auto* dm = dims->Get(i);
      if (!dm) Fail("{}: null dim_metadata {}", label, i);
      const int v = order->Get(i);
      if (v >= rank) {
        if (dm->format() != tflite::DimensionType::DENSE || dm->dense_size() <= 0)
          Fail("{}: sparse block dimension {} must be dense with a positive size", label, v);
        const int d = bmap->Get(v - rank);
        block[d] *= dm->dense_size();
        if (block[d] > (int64_t)1 << 31) Fail("{}: sparsity block too large", label);
      }
    }
    std::vector<int64_t> extent(n);
    for (int v = 0; v < n; ++v) {
      if (v < rank) {
        const int64_t dim = tensor->shape()->Get(v);
        if (dim % block[v] != 0) Fail("{}: dimension {} ({}) is not a multiple of its block size {}", label, v, dim, block[v]);
        extent[v] = dim / block[v];
      }
    }
    for (int i = 0; i < n; ++i)
      if (order->Get(i) >= rank) extent[order->Get(i)] = dims->Get(i)->dense_size();
    // Walk the levels: `count` = number of index tuples reaching this level.
    int64_t count = 1;
    for (int i = 0; i < n; ++i) {
      const auto* dm = dims->Get(i);
      const int v = order->Get(i);
      if (dm->format() == tflite::DimensionType::DENSE) {
        if (dm->dense_size() != extent[v])
          Fail("{}: sparsity dim {}: dense_size {} != extent {}", label, i, dm->dense_size(), extent[v]);
        if (dm->dense_size() != 0 && count > opt_.max_tensor_bytes / dm->dense_size())
          Fail("{}: sparsity describes too many values", label);
        count *= dm->dense_size();
      } else if (dm->format() == tflite::DimensionType::SPARSE_CSR) {
        auto seg = IndexVector(label, dm->array_segments_type(), dm->array_segments());
        auto idx = IndexVector(label, dm->array_indices_type(), dm->array_indices());
        if ((int64_t)seg.size() != count + 1) Fail("{}: sparsity dim {}: {} segments, expected {}", label, i, seg.size(), count + 1);
        if (seg[0] != 0) Fail("{}: sparsity dim {}: segments must start at 0", label, i);
        for (size_t k = 1; k < seg.size(); ++k)
          if (seg[k] < seg[k - 1]) Fail("{}: sparsity dim {}: segments not non-decreasing", label, i);
        if (seg.back() != (int64_t)idx.size()) Fail("{}: sparsity dim {}: last segment {} != {} indices", label, i, seg.back(), idx.size());
        for (int64_t x : idx)
          if (x < 0 || x >= extent[v]) Fail("{}: sparsity dim {}: index {} out of range [0, {})", label, i, x, extent[v]);
        count = (int64_t)idx.size();
      } else {
        Fail("{}: sparsity dim {}: unknown format {}", label, i, (int)dm->format());
      }
      if (count > opt_.max_tensor_bytes) Fail("{}: sparsity describes too many values", label);
    }
    const size_t esize = TensorTypeSize((int)tensor->type());
    const uint64_t have = BufferSize(tensor->buffer());
    if (!esize || have != (uint64_t)count * esize)
      Fail("{}: sparse buffer has {} bytes, the sparsity metadata describes {} values of {} bytes", label, have, count, esize);
  }

  std::vector<int64_t> IndexVector(const std::string& label, tflite::SparseIndexVector type, const void* v) const {
    std::vector<int64_t> r;
    if (!v) Fail("{}: sparse index vector missing", label);
    switch (type) {
      case tflite::SparseIndexVector::Int32Vector: {
        const auto* p = static_cast<const tflite::Int32Vector*>(v)->values();
        if (p) r.assign(p->begin(), p->end());
        break;
      }
      case tflite::SparseIndexVector::Uint16Vector: {
        const auto* p = static_cast<const tflite::Uint16Vector*>(v)->values();
        if (p) r.assign(p->begin(), p->end());
        break;
      }
      case tflite::SparseIndexVector::Uint8Vector: {
        const auto* p = static_cast<const tflite::Uint8Vector*>(v)->values();
        if (p) r.assign(p->begin(), p->end());
        break;
      }
      default:
        Fail("{}: sparse index vector missing or of unknown type", label);
    }
    return r;
  }

  const uint8_t* data_;
  size_t size_;
  const std::string& name_;
  const VerifyOptions& opt_;
  const tflite::Model* model_ = nullptr;
  std::vector<bool> has_data_;
  std::vector<int64_t> elems_;
};

}  // namespace

const char* TensorTypeName(int type) {
  if (type < 0 || type >= kNumTensorTypes) return "UNKNOWN";
  return tflite::EnumNameTensorType(static_cast<tflite::TensorType>(type));
}

size_t TensorTypeSize(int type) {
  switch (static_cast<tflite::TensorType>(type)) {
    case tflite::TensorType::FLOAT32: return 4;
    case tflite::TensorType::FLOAT16: return 2;
    case tflite::TensorType::INT32: return 4;
    case tflite::TensorType::UINT8: return 1;
    case tflite::TensorType::INT64: return 8;
    case tflite::TensorType::BOOL: return 1;
    case tflite::TensorType::INT16: return 2;
    case tflite::TensorType::COMPLEX64: return 8;
    case tflite::TensorType::INT8: return 1;
    case tflite::TensorType::FLOAT64: return 8;
    case tflite::TensorType::COMPLEX128: return 16;
    case tflite::TensorType::UINT64: return 8;
    case tflite::TensorType::UINT32: return 4;
    case tflite::TensorType::UINT16: return 2;
    case tflite::TensorType::BFLOAT16: return 2;
    default: return 0;  // STRING, RESOURCE, VARIANT, INT4 (packed)
  }
}

std::optional<DType> ToDType(int type) {
  switch (static_cast<tflite::TensorType>(type)) {
    case tflite::TensorType::FLOAT32: return DType::kFloat32;
    case tflite::TensorType::FLOAT16: return DType::kFloat16;
    case tflite::TensorType::INT32: return DType::kInt32;
    case tflite::TensorType::UINT8: return DType::kUInt8;
    case tflite::TensorType::INT64: return DType::kInt64;
    case tflite::TensorType::INT16: return DType::kInt16;
    case tflite::TensorType::INT8: return DType::kInt8;
    default: return std::nullopt;
  }
}

TensorType FromDType(DType t) {
  switch (t) {
    case DType::kFloat32: return TensorType::kFloat32;
    case DType::kFloat16: return TensorType::kFloat16;
    case DType::kInt32: return TensorType::kInt32;
    case DType::kUInt8: return TensorType::kUInt8;
    case DType::kInt64: return TensorType::kInt64;
    case DType::kInt16: return TensorType::kInt16;
    case DType::kInt8: return TensorType::kInt8;
  }
  fail<UsageError>("FromDType: unknown dtype {}", (int)t);
}

int32_t RealBuiltinCode(const tflite::OperatorCode* code) {
  return std::max<int32_t>(static_cast<int32_t>(code->builtin_code()), static_cast<int32_t>(code->deprecated_builtin_code()));
}

std::span<const uint8_t> BufferBytes(const uint8_t* file, size_t file_size, const tflite::Buffer* buffer) {
  if (!buffer) return {};
  if (buffer->offset() > 1) {
    if (buffer->offset() > file_size || buffer->size() > file_size - buffer->offset()) return {};
    return {file + buffer->offset(), (size_t)buffer->size()};
  }
  if (!buffer->data()) return {};
  return {buffer->data()->data(), buffer->data()->size()};
}

void VerifyModel(const uint8_t* data, size_t size, const std::string& name, const VerifyOptions& opt) {
  if (!data) throw FormatError(fmt::format("{}: no data", name));
  Checker(data, size, name, opt).Run();
}

}  // namespace qat::tfl
