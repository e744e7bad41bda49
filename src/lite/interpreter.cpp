// The interpreter: model -> tensors and nodes, prepare, arena planning, invoke.
#include "qat/interpreter.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <new>

#include "kernels/env_flag.h"
#include "kernels/reference/types.h"
#include "lite/op_resolver.h"
#include "lite/ops/op_common.h"
#include "qat/thread_pool.h"
#include "qat/tflite/schema_generated.h"

namespace qat::lite {

namespace {
namespace ref = kernels::reference;

// QAT_NO_FUSE=1: no activation fusion (A/B, or to read the intermediate tensors).
bool NoFuseFromEnv() {
  static const bool v = kernels::EnvFlag("QAT_NO_FUSE");
  return v;
}
constexpr size_t kAlign = 64;
size_t AlignUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Bytes of a tensor of `dims` and `type`, or throws if it overflows `limit`.
size_t TensorBytes(const LiteTensor& t, size_t limit, int index) {
  size_t n = dtype_size(t.type);
  for (int32_t d : t.dims) {
    if (d < 0) throw ShapeError(fmt::format("tensor {} '{}': negative dimension {}", index, t.name, d));
    if (d != 0 && n > limit / (size_t)d)
      throw ShapeError(fmt::format("tensor {} '{}': size exceeds the arena limit of {} bytes", index, t.name, limit));
    n *= (size_t)d;
  }
  return n;
}
}  // namespace

const char* RequantModeName(RequantMode m) { return m == RequantMode::kTflite ? "tflite" : "xnnpack"; }

RequantMode ParseRequantMode(const std::string& name) {
  if (name == "tflite") return RequantMode::kTflite;
  if (name == "xnnpack") return RequantMode::kXnnpack;
  throw UsageError(fmt::format("unknown requantization mode '{}' (expected tflite or xnnpack)", name));
}

FloatMath ParseFloatMath(const std::string& name) {
  if (name == "exact") return FloatMath::kExact;
  if (name == "fused") return FloatMath::kFused;
  throw UsageError(fmt::format("unknown float arithmetic '{}' (expected exact or fused)", name));
}

struct Interpreter::Node {
  OpContext ctx;
  OpRegistration reg;
  bool inited = false;
  bool fused = false;  // a float RELU / RELU6 folded into its producer (FuseFloatActivations): skipped
  // A float 1x1 CONV_2D run inside the DEPTHWISE_CONV_2D that reads its output
  // (FuseFloatExpandDepthwise): prepared (its packed weights), never evaluated on its own.
  bool absorbed = false;
};

void Interpreter::ArenaFree::operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t(kAlign)); }

// ------------------------------------------------------------------ construction
std::unique_ptr<Interpreter> Interpreter::FromFile(const std::string& path, const InterpreterOptions& opt) {
  return FromModel(tfl::ModelFile::Map(path, opt.verify), BuiltinOpResolver(), opt);
}
std::unique_ptr<Interpreter> Interpreter::FromBuffer(std::span<const uint8_t> bytes, const InterpreterOptions& opt) {
  return FromModel(tfl::ModelFile::FromBuffer(bytes, "<buffer>", opt.verify), BuiltinOpResolver(), opt);
}
std::unique_ptr<Interpreter> Interpreter::FromFile(const std::string& path, const OpResolver& resolver,
                                                   const InterpreterOptions& opt) {
  return FromModel(tfl::ModelFile::Map(path, opt.verify), resolver, opt);
}
std::unique_ptr<Interpreter> Interpreter::FromBuffer(std::span<const uint8_t> bytes, const OpResolver& resolver,
                                                     const InterpreterOptions& opt) {
  return FromModel(tfl::ModelFile::FromBuffer(bytes, "<buffer>", opt.verify), resolver, opt);
}

std::unique_ptr<Interpreter> Interpreter::FromModel(std::shared_ptr<const tfl::ModelFile> model, const OpResolver& resolver,
                                                    const InterpreterOptions& opt) {
  if (!model) throw UsageError("Interpreter::FromModel: null model");
  if (opt.threads < 1) throw UsageError(fmt::format("thread count must be >= 1 (got {})", opt.threads));
  std::unique_ptr<Interpreter> in(new Interpreter());
  in->model_ = std::move(model);
  in->resolver_ = std::make_unique<OpResolver>(resolver);
  in->opt_ = opt;
  in->pool_ = std::make_unique<ThreadPool>(opt.threads);
  if (opt.threads > 1) in->pool1_ = std::make_unique<ThreadPool>(1);
  in->Build();
  return in;
}

Interpreter::~Interpreter() {
  for (auto& n : nodes_)
    if (n->inited && n->reg.free) n->reg.free(n->ctx.user_data);
}

void Interpreter::Build() {
  const tflite::Model* m = model_->model();
  const std::string& file = model_->name();
  const auto* sg = m->subgraphs()->Get(0);  // the main graph; others (control flow) are not run
  const uint32_t nt = sg->tensors() ? sg->tensors()->size() : 0;
  tensors_.resize(nt);
  model_dims_.resize(nt);
  persistent_.assign(nt, 0);

  // Tensors referenced by the graph: only those need a dtype qat supports.
  std::vector<uint8_t> used(nt, 0);
  auto mark = [&](const flatbuffers::Vector<int32_t>* v) {
    if (v)
      for (int32_t t : *v)
        if (t >= 0) used[t] = 1;
  };
  mark(sg->inputs());
  mark(sg->outputs());
  if (sg->operators())
    for (const auto* op : *sg->operators()) {
      mark(op->inputs());
      mark(op->outputs());
    }

  for (uint32_t i = 0; i < nt; ++i) {
    const auto* ft = sg->tensors()->Get(i);
    LiteTensor& t = tensors_[i];
    t.name = ft->name() ? ft->name()->str() : fmt::format("tensor_{}", i);
    const auto dt = tfl::ToDType((int)ft->type());
    if (!dt && used[i])
      throw FormatError(fmt::format("{}: tensor {} '{}' has type {}, which qat's interpreter does not support", file, i,
                                    t.name, tfl::TensorTypeName((int)ft->type())));
    t.type = dt.value_or(DType::kInt8);
    if (ft->shape()) t.dims.assign(ft->shape()->begin(), ft->shape()->end());
    model_dims_[i] = t.dims;
    t.is_variable = ft->is_variable();
    if (const auto* q = ft->quantization()) {
      if (q->scale() && q->scale()->size() > 0) {
        t.quant.scale.assign(q->scale()->begin(), q->scale()->end());
        t.quant.zero_point.assign(q->zero_point()->begin(), q->zero_point()->end());
        t.quant.quantized_dimension = q->quantized_dimension();
      }
    }
    t.sparsity = ft->sparsity();
    auto bytes = model_->buffer(ft->buffer());
    if (!bytes.empty()) {
      // Constants alias the model bytes. The mapping is read-only; kernels get a non-const
      // pointer through LiteTensor::data but the verifier guarantees no op writes a constant.
      t.is_const = true;
      t.data = const_cast<uint8_t*>(bytes.data());
      t.bytes = bytes.size();
    }
    if (t.is_variable) persistent_[i] = 1;
  }
  if (sg->inputs())
    for (int32_t t : *sg->inputs()) {
      inputs_.push_back(t);
      persistent_[t] = 1;
    }
  if (sg->outputs())
    for (int32_t t : *sg->outputs()) {
      outputs_.push_back(t);
      if (!tensors_[t].is_const) persistent_[t] = 1;
    }

  const uint32_t nops = sg->operators() ? sg->operators()->size() : 0;
  for (uint32_t o = 0; o < nops; ++o) {
    const auto* op = sg->operators()->Get(o);
    const auto* code = m->operator_codes()->Get(op->opcode_index());
    const int32_t builtin = tfl::RealBuiltinCode(code);
    auto node = std::make_unique<Node>();
    OpContext& ctx = node->ctx;
    ctx.op = op;
    ctx.node_index = (int)o;
    const OpRegistration* reg = nullptr;
    if (builtin == (int32_t)tflite::BuiltinOperator::CUSTOM) {
      ctx.op_name = code->custom_code()->str();
      reg = resolver_->FindCustom(ctx.op_name);
      if (!reg)
        throw Error(fmt::format("{}: node {}: custom op '{}' is not registered (register it with OpResolver::AddCustom)",
                                file, o, ctx.op_name));
    } else {
      ctx.op_name = BuiltinOpName(builtin);
      reg = resolver_->FindBuiltin(builtin);
      if (!reg)
        throw Error(fmt::format("{}: node {}: builtin op {} (code {}) is not supported by qat's interpreter", file, o,
                                ctx.op_name, builtin));
    }
    if (!reg->prepare || !reg->eval)
      throw Error(fmt::format("{}: node {}: registration of op '{}' lacks prepare or eval", file, o, ctx.op_name));
    node->reg = *reg;
    const bool is_densify = builtin == (int32_t)tflite::BuiltinOperator::DENSIFY;
    if (op->inputs())
      for (uint32_t k = 0; k < op->inputs()->size(); ++k) {
        const int32_t t = op->inputs()->Get(k);
        ctx.inputs.push_back(t < 0 ? nullptr : &tensors_[t]);
        if (t >= 0 && tensors_[t].sparsity && !is_densify)
          throw FormatError(fmt::format("{}: node {} ({}): input {} '{}' is sparse; only DENSIFY reads sparse tensors",
                                        file, o, ctx.op_name, k, tensors_[t].name));
      }
    if (op->outputs())
      for (int32_t t : *op->outputs()) ctx.outputs.push_back(&tensors_[t]);
    ctx.requant = opt_.requant;
    ctx.float_math = opt_.float_math;
    ctx.pool = pool_.get();
    nodes_.push_back(std::move(node));
  }
  if (opt_.fuse_activations && !NoFuseFromEnv()) {
    FuseFloatActivations();
    FuseFloatResidualAdds();  // after: an ADD's fused RELU comes along
    static const bool no_expand = [] {
      const char* e = std::getenv("QAT_NO_EXPAND_FUSE");
      return e && *e && *e != '0';
    }();
    if (!no_expand) FuseFloatExpandDepthwise();  // after: the conv's fused RELU6 comes along
  }
  for (auto& n : nodes_) {
    if (n->reg.init) n->ctx.user_data = n->reg.init(n->ctx);
    n->inited = true;
  }
}

int Interpreter::fused_activations() const {
  int n = 0;
  for (const auto& np : nodes_) n += np->fused && np->ctx.op_name != "ADD";
  return n;
}
int Interpreter::fused_expands() const {
  int n = 0;
  for (const auto& np : nodes_) n += np->absorbed;
  return n;
}

int Interpreter::fused_adds() const {
  int n = 0;
  for (const auto& np : nodes_) n += np->fused && np->ctx.op_name == "ADD";
  return n;
}

// Per tensor: the node that writes it (-1: none), how many node inputs read it, and whether it is
// a graph input or output (the fusion passes' view of the graph as it stands).
Interpreter::TensorUse Interpreter::Uses() const {
  const size_t nt = tensors_.size();
  TensorUse u{std::vector<int>(nt, -1), std::vector<int>(nt, 0), std::vector<uint8_t>(nt, 0)};
  for (int t : inputs_) u.graph_io[t] = 1;
  for (int t : outputs_) u.graph_io[t] = 1;
  for (size_t k = 0; k < nodes_.size(); ++k) {
    for (const LiteTensor* t : nodes_[k]->ctx.inputs)
      if (t) ++u.consumers[(size_t)(t - tensors_.data())];
    for (const LiteTensor* t : nodes_[k]->ctx.outputs) u.producer[(size_t)(t - tensors_.data())] = (int)k;
  }
  return u;
}

// A float RELU or RELU6 whose input is the single output of a CONV_2D, DEPTHWISE_CONV_2D,
// FULLY_CONNECTED, ADD, SUB or MUL, read by nothing else and not a graph input or output, is
// folded into that op: the op writes the RELU's output tensor with its clamp narrowed to the
// RELU's range (the same values: the clamps compose exactly, op_api.h), the RELU node is skipped
// and the intermediate tensor is never written (as in TFLite with XNNPACK, intermediates are not
// guaranteed). One pass over the memory instead of two (MediaPipe's ADD + RELU residual blocks).
void Interpreter::FuseFloatActivations() {
  TensorUse use = Uses();
  std::vector<int>& producer = use.producer;
  const std::vector<int>& consumers = use.consumers;
  const std::vector<uint8_t>& graph_io = use.graph_io;
  auto index = [&](const LiteTensor* t) { return (size_t)(t - tensors_.data()); };
  auto fusable_producer = [](const std::string& name) {
    return name == "CONV_2D" || name == "DEPTHWISE_CONV_2D" || name == "FULLY_CONNECTED" || name == "ADD" ||
           name == "SUB" || name == "MUL";
  };
  for (size_t k = 0; k < nodes_.size(); ++k) {
    Node& r = *nodes_[k];
    const bool relu = r.ctx.op_name == "RELU", relu6 = r.ctx.op_name == "RELU6";
    if (!(relu || relu6) || r.ctx.inputs.size() != 1 || r.ctx.outputs.size() != 1 || !r.ctx.inputs[0]) continue;
    const size_t t = index(r.ctx.inputs[0]), o = index(r.ctx.outputs[0]);
    if (tensors_[t].type != DType::kFloat32 || tensors_[o].type != DType::kFloat32) continue;
    if (tensors_[t].is_const || tensors_[t].is_variable || graph_io[t] || consumers[t] != 1 || producer[t] < 0) continue;
    Node& p = *nodes_[producer[t]];
    if (p.fused || !fusable_producer(p.ctx.op_name) || p.ctx.outputs.size() != 1) continue;
    const ref::FloatRange a = ref::ActivationRangeFloat(relu ? ref::Activation::kRelu : ref::Activation::kRelu6);
    p.ctx.fused_act_min = std::max(p.ctx.fused_act_min, a.min);
    p.ctx.fused_act_max = std::min(p.ctx.fused_act_max, a.max);
    p.ctx.outputs[0] = &tensors_[o];
    producer[o] = producer[t];
    producer[t] = -1;
    r.fused = true;
    r.ctx.inputs.clear();
    r.ctx.outputs.clear();
  }
}

// A float ADD of two same-shaped tensors, one of them (t) the single output of a float CONV_2D or
// DEPTHWISE_CONV_2D read by nothing else and not a graph input or output, the other (r) an
// activation (not a constant or variable) ready before that op runs (a graph input, or written by
// an earlier node), is folded into the op: it writes the ADD's output, adding r to each block of
// outputs right after computing it (kernels/optimized/elementwise_float.h, FloatResidual), with
// the ADD's clamp (its own activation and any RELU fused into it above) and operand order, so the
// values are the unfused graph's bit for bit. The op's output is then never written to memory and
// read back (MediaPipe's residual blocks: CONV_2D + ADD + RELU become one pass; ONNX Runtime
// fuses the same "Conv + Sum").
void Interpreter::FuseFloatResidualAdds() {
  TensorUse use = Uses();
  std::vector<int>& producer = use.producer;
  const std::vector<int>& consumers = use.consumers;
  const std::vector<uint8_t>& graph_io = use.graph_io;
  auto index = [&](const LiteTensor* t) { return (size_t)(t - tensors_.data()); };
  for (size_t k = 0; k < nodes_.size(); ++k) {
    Node& a = *nodes_[k];
    if (a.fused || a.ctx.op_name != "ADD" || a.ctx.inputs.size() != 2 || a.ctx.outputs.size() != 1) continue;
    if (!a.ctx.inputs[0] || !a.ctx.inputs[1] || a.ctx.inputs[0] == a.ctx.inputs[1]) continue;
    const size_t o = index(a.ctx.outputs[0]);
    const auto* opts = a.ctx.op ? a.ctx.op->builtin_options_as_AddOptions() : nullptr;
    const auto act = opts ? (ref::Activation)(uint8_t)opts->fused_activation_function() : ref::Activation::kNone;
    if (act == ref::Activation::kTanh || act == ref::Activation::kSignBit) continue;
    for (int side = 0; side < 2; ++side) {
      const size_t t = index(a.ctx.inputs[side]), r = index(a.ctx.inputs[1 - side]);
      auto f32 = [&](size_t i) { return tensors_[i].type == DType::kFloat32; };
      if (!f32(t) || !f32(r) || !f32(o)) break;
      if (tensors_[t].is_const || tensors_[t].is_variable || graph_io[t] || consumers[t] != 1 || producer[t] < 0) continue;
      Node& p = *nodes_[producer[t]];
      if (p.fused || (p.ctx.op_name != "CONV_2D" && p.ctx.op_name != "DEPTHWISE_CONV_2D") ||
          p.ctx.outputs.size() != 1 || p.ctx.residual)
        continue;
      if (p.ctx.inputs.size() < 2 || p.ctx.inputs.size() > 3) continue;
      // Not a constant residual: its shape stays when the batch is resized (ResizeInputTensor) and
      // the ADD then broadcasts, which the fused form does not do.
      if (tensors_[r].is_variable || tensors_[r].is_const || model_dims_[t] != model_dims_[r] ||
          model_dims_[o] != model_dims_[t])
        continue;
      // r must be complete when the conv runs. When a node between the conv and the ADD writes it
      // (face_detection_full_range: the PAD of the skip path), the conv runs in the ADD's slot
      // instead: nothing else reads its output, and its inputs (no variables) are ready earlier.
      const bool move = producer[r] > producer[t];
      if (move && std::any_of(p.ctx.inputs.begin(), p.ctx.inputs.end(),
                              [](const LiteTensor* x) { return x && x->is_variable; }))
        continue;
      const ref::FloatRange range = ref::ActivationRangeFloat(act);
      p.ctx.residual = &tensors_[r];
      p.ctx.residual_first = side == 1;  // r was the ADD's input 0
      p.ctx.residual_min = std::max(range.min, a.ctx.fused_act_min);
      p.ctx.residual_max = std::min(range.max, a.ctx.fused_act_max);
      if (p.ctx.inputs.size() == 2) p.ctx.inputs.push_back(nullptr);  // the absent bias keeps its slot
      p.ctx.inputs.push_back(&tensors_[r]);
      p.ctx.outputs[0] = &tensors_[o];
      producer[o] = producer[t];
      if (move) {
        std::swap(nodes_[producer[t]], nodes_[k]);  // the objects stay; a and p still name them
        producer[o] = (int)k;
      }
      producer[t] = -1;
      a.fused = true;
      a.ctx.inputs.clear();
      a.ctx.outputs.clear();
      break;
    }
  }
}

// A float DEPTHWISE_CONV_2D (no fused ADD) whose input t is the single output of a float CONV_2D
// with a constant 1x1 filter and stride 1 (an "expand" layer), read by nothing else and not a graph
// input or output, absorbs that conv: its eval runs both in one pass from the conv's input
// (kernels/optimized/expand_depthwise_float.h), keeping a ring of the conv's output rows per task,
// so t (MediaPipe's 112x112x64 and 56x56x144 tensors) is never written to memory and read back.
// The values are the unfused graph's bit for bit (the same kernels over the same taps). The conv
// stays prepared (its packed weights); after each prepare the pair is checked
// (ops::ExpandDepthwiseReady: packed float weights, not a narrow conv) and undone if it cannot run
// fused. t then gets no arena memory.
constexpr int kExpandMinRows = 24;
constexpr int64_t kExpandMinBytes = 400 << 10;
void Interpreter::FuseFloatExpandDepthwise() {
  TensorUse use = Uses();
  const std::vector<int>& producer = use.producer;
  const std::vector<int>& consumers = use.consumers;
  const std::vector<uint8_t>& graph_io = use.graph_io;
  auto index = [&](const LiteTensor* t) { return (size_t)(t - tensors_.data()); };
  for (size_t k = 0; k < nodes_.size(); ++k) {
    Node& d = *nodes_[k];
    if (d.fused || d.absorbed || d.ctx.op_name != "DEPTHWISE_CONV_2D" || d.ctx.residual || d.ctx.expand) continue;
    if (d.ctx.inputs.size() < 2 || d.ctx.inputs.size() > 3 || d.ctx.outputs.size() != 1 || !d.ctx.inputs[0]) continue;
    const size_t t = index(d.ctx.inputs[0]);
    const LiteTensor& mid = tensors_[t];
    if (mid.type != DType::kFloat32 || d.ctx.outputs[0]->type != DType::kFloat32) continue;
    if (mid.is_const || mid.is_variable || graph_io[t] || consumers[t] != 1 || producer[t] < 0) continue;
    Node& c = *nodes_[producer[t]];
    if (c.fused || c.absorbed || c.ctx.op_name != "CONV_2D" || c.ctx.residual || c.ctx.outputs.size() != 1) continue;
    if (c.ctx.inputs.size() < 2 || !c.ctx.inputs[0] || !c.ctx.inputs[1]) continue;
    const LiteTensor& x = *c.ctx.inputs[0];
    const LiteTensor& w = *c.ctx.inputs[1];
    // The filter may be a DEQUANTIZE of a constant (fp16 weights): constant by the prepare, which
    // the check after it sees (packed weights).
    const std::vector<int32_t>& wd = model_dims_[index(&w)];
    if (x.type != DType::kFloat32 || x.is_variable || w.is_variable || wd.size() != 4 || wd[1] != 1 || wd[2] != 1)
      continue;
    const auto* o = c.ctx.op ? c.ctx.op->builtin_options_as_Conv2DOptions() : nullptr;
    if (!o || o->stride_h() != 1 || o->stride_w() != 1) continue;
    // Only large, tall tensors (kExpandMinRows, kExpandMinBytes per image): on 14x14 and 7x7 ones
    // (hand_landmark_full's 14x14x672, 7x7x1152: within L2 anyway) the pair ran as fast or slower
    // fused (0.212 against 0.205 ms), and face_detection_full_range's few-channel ones (96x96x8,
    // 48x48x12: 295 and 110 KiB) made the model slower at 2 threads (1.79 -> 2.0-2.2 ms).
    const std::vector<int32_t>& md = model_dims_[t];
    if (md.size() != 4 || md[1] < kExpandMinRows ||
        (int64_t)md[1] * md[2] * md[3] * (int64_t)sizeof(float) < kExpandMinBytes)
      continue;
    c.absorbed = true;
    d.ctx.expand = &c.ctx;
    if (d.ctx.inputs.size() == 2) d.ctx.inputs.push_back(nullptr);  // the absent bias keeps its slot
    d.ctx.inputs.push_back(c.ctx.inputs[0]);
  }
}

// After a prepare: undoes the expand fusions that cannot run fused (ops::ExpandDepthwiseReady).
void Interpreter::CheckExpandFusions() {
  for (auto& np : nodes_) {
    OpContext& ctx = np->ctx;
    if (!ctx.expand || ops::ExpandDepthwiseReady(ctx)) continue;
    for (auto& cp : nodes_)
      if (&cp->ctx == ctx.expand) cp->absorbed = false;
    ctx.expand = nullptr;
    ctx.inputs.pop_back();
    if (ctx.inputs.size() == 3 && !ctx.inputs[2]) ctx.inputs.pop_back();
  }
}

// ------------------------------------------------------------------ allocation
void Interpreter::ResizeInputTensor(int input, const std::vector<int32_t>& dims) {
  if (input < 0 || input >= inputs_size())
    throw UsageError(fmt::format("ResizeInputTensor: input {} out of range ({} inputs)", input, inputs_size()));
  if ((int)dims.size() > opt_.verify.max_rank) throw UsageError(fmt::format("ResizeInputTensor: rank {} too large", dims.size()));
  for (int32_t d : dims)
    if (d < 0) throw UsageError(fmt::format("ResizeInputTensor: negative dimension {}", d));
  LiteTensor& t = tensors_[inputs_[input]];
  if (t.dims != dims) {
    t.dims = dims;
    model_dims_[inputs_[input]] = dims;
    allocated_ = false;
  }
}

void Interpreter::set_requant_mode(RequantMode m) {
  if (m == opt_.requant) return;
  opt_.requant = m;
  for (auto& n : nodes_) n->ctx.requant = m;
  allocated_ = false;  // prepare computes mode-specific multipliers
}

void Interpreter::PrepareNodes(int batch, int tail_start, int tail_batch) {
  // Start from the model's shapes (inputs: as resized, or with `batch` images when > 0) so repeated
  // allocations are deterministic; each op's prepare then propagates shapes forward through
  // resize_output.
  for (size_t i = 0; i < tensors_.size(); ++i)
    if (!tensors_[i].is_const) {
      tensors_[i].dims = model_dims_[i];
      tensors_[i].data = nullptr;
      tensors_[i].bytes = 0;
    }
  if (batch > 0)
    for (int i : inputs_) tensors_[i].dims[0] = batch;
  for (size_t k = 0; k < nodes_.size(); ++k) {
    auto& np = nodes_[k];
    // The tail (ChooseTail) sees its inputs from earlier nodes as groups of tail_batch images.
    if ((int)k == tail_start)
      for (int t : tail_bounds_) tensors_[t].dims[0] = tail_batch;
    OpContext& ctx = np->ctx;
    ctx.scratch_bytes = 0;
    ctx.scratch = nullptr;
    if (np->fused) continue;
    ctx.resize_output = [&ctx](int output, const std::vector<int32_t>& dims) {
      if (output < 0 || output >= (int)ctx.outputs.size()) ctx.fail("resize_output: output {} out of range", output);
      for (int32_t d : dims)
        if (d < 0) ctx.fail("resize_output: negative dimension {}", d);
      ctx.outputs[output]->dims = dims;
    };
    try {
      np->reg.prepare(ctx);
    } catch (const Error& e) {
      // Messages from ctx.fail already name the node; others get the node prefixed here.
      const std::string what = e.what();
      if (what.rfind("node ", 0) == 0) throw;
      throw Error(fmt::format("node {} ({}): {}", ctx.node_index, ctx.op_name, what));
    }
    ctx.resize_output = nullptr;
  }
  CheckExpandFusions();
}

void Interpreter::AllocateTensors() {
  allocated_ = false;
  micro_ = 0;
  tail_start_ = -1;
  tail_batch_ = 0;
  tail_bounds_.clear();
  io_.clear();
  io_buf_.reset();
  lanes_.clear();
  SetNodePool(pool_.get());
  PrepareNodes(0);
  const int micro = ChooseMicroBatch();
  PlanArena();
  if (micro) {
    // Graph inputs and outputs hold the whole batch in their own buffer; Invoke points them at
    // one micro-batch after another.
    size_t total = 0;
    for (Io& io : io_) {
      LiteTensor& t = tensors_[io.tensor];
      io.chunk_dims = t.dims;
      io.chunk_bytes = t.bytes;
      io.offset = total;
      // With a tail, the graph outputs come from it (ChooseTail), in groups of tail_batch_ images.
      io.tail = tail_start_ >= 0 && std::find(outputs_.begin(), outputs_.end(), io.tensor) != outputs_.end();
      total += AlignUp(io.chunk_bytes * (size_t)(full_batch_ / (io.tail ? tail_batch_ : micro)));
    }
    tail_bound_dims_.clear();
    tail_bound_data_.clear();
    tail_bound_bytes_.clear();
    for (int b : tail_bounds_) {
      tail_bound_dims_.push_back(tensors_[b].dims);
      tail_bound_data_.push_back(static_cast<uint8_t*>(tensors_[b].data));
      tail_bound_bytes_.push_back(tensors_[b].bytes);
    }
    io_buf_.reset(static_cast<uint8_t*>(::operator new[](std::max<size_t>(total, kAlign), std::align_val_t(kAlign))));
    std::memset(io_buf_.get(), 0, total);
    micro_ = micro;
    SetIoChunk(-1);
  }
  allocated_ = true;
  ClearProfile();  // times of another shape or mode must not mix with the next runs
}

// Micro-batching: a network whose every op works image by image runs a large batch a few images
// at a time (all ops on images 0..S-1, then S..2S-1, ...), so each layer's activations stay in
// the core's cache instead of streaming the whole batch's through memory between layers; the
// results are the same bytes. Applies when every graph input has the same batch B > 1, there are
// no variables, every op is one of the per-image ops below, and every activation has shape
// [B, ...] at batch B and [1, ...] with the same rest at batch 1 (so no op mixes images). When the
// whole batch's working set (B times the batch-1 arena) exceeds kWholeBatchBytes (an L3 here),
// S is the largest divisor of B whose working set fits kMicroBatchBytes (an L2), at least 1;
// otherwise the batch stays whole (SmallCNN b64, 11 MB: whole 5.67 ms, S = 2-8 5.71-5.78 ms).
// InterpreterOptions::micro_batch (or QAT_MICROBATCH=N) forces N images (a divisor of B; 0: off).
// Several threads, automatic mode: image lanes instead (B >= 2 threads): each thread runs whole
// images on its own batch-1 interpreter (RunLanes), with no barrier between ops. Sequential
// micro-batches would pay a barrier per op per pass, more than the cache saves (mbv1_100 b64,
// 2 threads: whole 267 ms, micro-batches of 1-2 281-293 ms). With profiling on, the images run one
// after another on lane 0 (one thread), so that every op has one timeline.
int Interpreter::ChooseMicroBatch() {
  constexpr size_t kMicroBatchBytes = size_t(1) << 20, kWholeBatchBytes = size_t(32) << 20;
  if (inputs_.empty() || tensors_[inputs_[0]].dims.empty()) return 0;
  const int batch = tensors_[inputs_[0]].dims[0];
  if (batch <= 1) return 0;
  static const int env = [] {
    const char* e = std::getenv("QAT_MICROBATCH");
    return e && *e ? std::atoi(e) : -1;
  }();
  const int forced = opt_.micro_batch >= 0 ? opt_.micro_batch : env;
  if (forced == 0 || (forced > 0 && batch % forced != 0)) return 0;
  // Several threads (automatic mode): image lanes, when there are at least two images per thread.
  const bool lanes = forced < 0 && opt_.threads > 1;
  if (lanes && batch < 2 * opt_.threads) return 0;
  for (int i : inputs_)
    if (tensors_[i].dims.empty() || tensors_[i].dims[0] != batch) return 0;
  static const char* const kPerImage[] = {
      "CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "FULLY_CONNECTED", "RESHAPE", "SOFTMAX",
      "ADD", "SUB", "MUL", "RELU", "RELU6", "LOGISTIC", "TANH", "HARD_SWISH", "QUANTIZE", "PAD", "MEAN",
      "CONCATENATION", "RESIZE_BILINEAR", "DEPTH_TO_SPACE"};
  std::vector<uint8_t> used(tensors_.size(), 0);
  for (const auto& np : nodes_) {
    if (std::none_of(std::begin(kPerImage), std::end(kPerImage), [&](const char* op) { return np->ctx.op_name == op; }))
      return 0;
    for (const LiteTensor* t : np->ctx.inputs)
      if (t) used[t - tensors_.data()] = 1;
    for (const LiteTensor* t : np->ctx.outputs) used[t - tensors_.data()] = 1;
  }
  for (int i : outputs_) {
    if (tensors_[i].is_const) return 0;
    used[i] = 1;
  }
  std::vector<std::vector<int32_t>> full(tensors_.size());
  for (size_t i = 0; i < tensors_.size(); ++i) {
    if (!used[i]) continue;
    if (tensors_[i].is_variable) return 0;
    if (tensors_[i].is_const) continue;
    if (tensors_[i].dims.empty() || tensors_[i].dims[0] != batch) return 0;
    full[i] = tensors_[i].dims;
  }
  // Batch 1: every activation must be its batch-B shape with 1 image.
  PrepareNodes(1);
  bool per_image = true;
  for (size_t i = 0; i < tensors_.size() && per_image; ++i) {
    if (full[i].empty()) continue;
    const auto& d = tensors_[i].dims;
    per_image = d.size() == full[i].size() && d[0] == 1 && std::equal(d.begin() + 1, d.end(), full[i].begin() + 1);
  }
  int micro = 0;
  if (per_image && lanes) {
    micro = 1;
  } else if (per_image) {
    PlanArena();
    micro = batch;
    if (forced > 0) {
      micro = forced;
    } else if ((size_t)batch * arena_size_ > kWholeBatchBytes) {
      micro = 1;
      for (int s = batch - 1; s > 1; --s)
        if (batch % s == 0 && (size_t)s * arena_size_ <= kMicroBatchBytes) {
          micro = s;
          break;
        }
    }
  }
  if (micro == batch || micro == 0) {
    PrepareNodes(0);
    return 0;
  }
  // Lanes take whole groups: at least 8 per lane, so that a lane slowed down by another process
  // still leaves the others enough to take.
  if (micro == 1 && ChooseTail(batch, lanes ? 8 * opt_.threads : 1)) PrepareNodes(1, tail_start_, tail_batch_);
  if (lanes) {
    // Lane 0 is this interpreter on one thread; lanes 1.. are batch-1 interpreters of the same
    // model, one thread each (with a tail: interpreters of one group, micro-batches of one image
    // and the same tail; lanes then take whole groups).
    SetNodePool(pool1_.get());
    PrepareNodes(1, tail_start_, tail_batch_);
    const bool tail = tail_start_ >= 0;
    InterpreterOptions lo = opt_;
    lo.threads = 1;
    lo.micro_batch = tail ? 1 : 0;
    lo.tail_batch = tail ? tail_batch_ : 0;
    for (int k = 1; k < opt_.threads; ++k) {
      auto lane = FromModel(model_, *resolver_, lo);
      for (size_t i = 0; i < inputs_.size(); ++i) {
        std::vector<int32_t> d = full[inputs_[i]];
        d[0] = tail ? tail_batch_ : 1;
        lane->ResizeInputTensor((int)i, d);
      }
      lane->AllocateTensors();
      bool same = !tail || (lane->tail_start() == tail_start_ && lane->tail_batch() == tail_batch_);
      for (size_t i = 0; i < outputs_.size(); ++i) same = same && lane->output((int)i).dims == tensors_[outputs_[i]].dims;
      if (!same) {
        lanes_.clear();
        tail_start_ = -1;
        tail_batch_ = 0;
        tail_bounds_.clear();
        SetNodePool(pool_.get());
        PrepareNodes(0);
        return 0;
      }
      lanes_.push_back(std::move(lane));
    }
  } else if (micro != 1) {
    PrepareNodes(micro);
  }
  full_batch_ = batch;
  full_dims_ = std::move(full);
  std::vector<int> io(inputs_);
  for (int i : outputs_)
    if (std::find(io.begin(), io.end(), i) == io.end()) io.push_back(i);
  for (int i : io) io_.push_back(Io{i, {}, 0, 0});
  auto io_index = [&](int t) { return (int)(std::find(io.begin(), io.end(), t) - io.begin()); };
  in_io_.clear();
  out_io_.clear();
  for (int i : inputs_) in_io_.push_back(io_index(i));
  for (int i : outputs_) out_io_.push_back(io_index(i));
  return micro;
}

// The tail of a graph run in micro-batches of one image (one thread or image lanes): its last nodes, from the
// first after which every activation is small (<= 64 KB per image), run once per group of G
// images instead of once per image when they hold at least 256 KB of weights (constants). Per
// image those weights are read again for every image (mbv1_100's last 1x1 layers and FC: 2.5 MB,
// the FC's 1 MB from memory at batch 64); per group once. Activations stay in cache either way.
// G: the largest divisor of the batch up to 16 with G times the tail's largest tensor within
// 512 KB (and at least min_groups groups). The tail must not read a graph input, and every graph output must come from it.
// InterpreterOptions::tail_batch (or QAT_TAIL_BATCH) 0 turns it off; G forces groups of G (any
// weights, G must divide the batch; a graph small throughout gets its last node as the tail).
bool Interpreter::ChooseTail(int batch, int min_groups) {
  static const int env_value = [] {
    const char* e = std::getenv("QAT_TAIL_BATCH");
    return e && *e ? std::atoi(e) : -1;
  }();
  const int env = opt_.tail_batch >= 0 ? opt_.tail_batch : env_value;
  if (env == 0) return false;
  // Not with expand fusions: a tail boundary between the pair would need the unwritten tensor.
  for (const auto& np : nodes_)
    if (np->absorbed) return false;
  constexpr size_t kSmall = size_t(64) << 10, kMinWeights = size_t(256) << 10, kGroupBytes = size_t(512) << 10;
  const int n = (int)nodes_.size();
  auto image_bytes = [&](const LiteTensor* t) {
    return t && !t->is_const ? TensorBytes(*t, opt_.max_arena_bytes, (int)(t - tensors_.data())) : 0;
  };
  auto small = [&](const Node& np) {
    for (const LiteTensor* t : np.ctx.inputs)
      if (image_bytes(t) > kSmall) return false;
    for (const LiteTensor* t : np.ctx.outputs)
      if (image_bytes(t) > kSmall) return false;
    return true;
  };
  int k = n;
  while (k > 0 && (nodes_[k - 1]->fused || small(*nodes_[k - 1]))) --k;
  if (k == 0 && env > 0) k = n - 1;
  if (k <= 0 || k >= n) return false;
  std::vector<int> producer(tensors_.size(), -1);
  for (int j = 0; j < n; ++j)
    for (const LiteTensor* t : nodes_[j]->ctx.outputs) producer[t - tensors_.data()] = j;
  for (int o : outputs_)
    if (producer[o] < k) return false;  // a graph output before the tail (or a graph input)
  size_t weights = 0, biggest = 0;
  std::vector<int> bounds;
  for (int j = k; j < n; ++j) {
    if (nodes_[j]->fused) {
      // Folded into its producer, which writes this node's output: that must be in the tail too.
      for (const LiteTensor* t : nodes_[j]->ctx.inputs)
        if (t && !t->is_const && producer[t - tensors_.data()] < k) return false;
      continue;
    }
    for (const LiteTensor* t : nodes_[j]->ctx.inputs) {
      if (!t) continue;
      const int i = (int)(t - tensors_.data());
      if (t->is_const) {
        weights += t->bytes;
        continue;
      }
      if (std::find(inputs_.begin(), inputs_.end(), i) != inputs_.end()) return false;
      if (producer[i] < k && std::find(bounds.begin(), bounds.end(), i) == bounds.end()) bounds.push_back(i);
      biggest = std::max(biggest, image_bytes(t));
    }
    for (const LiteTensor* t : nodes_[j]->ctx.outputs) biggest = std::max(biggest, image_bytes(t));
  }
  if (bounds.empty()) return false;
  int g = 0;
  if (env > 0) {
    if (env < 2 || batch % env != 0) return false;
    g = env;
  } else {
    if (weights < kMinWeights) return false;
    for (int s = std::min(batch, 16); s >= 2 && !g; --s)
      if (batch % s == 0 && batch / s >= min_groups && (size_t)s * biggest <= kGroupBytes) g = s;
  }
  if (g < 2) return false;
  tail_start_ = k;
  tail_batch_ = g;
  tail_bounds_ = std::move(bounds);
  return true;
}

// Group g with a tail: its images one by one up to the tail, then the tail on the whole group.
void Interpreter::RunTailGroup(int g, int64_t* profile_row) {
  for (int i = 0; i < tail_batch_; ++i) {
    SetIoChunk(g * tail_batch_ + i);
    SetTailBounds(i);
    RunNodes(profile_row, 0, tail_start_);
  }
  SetTailBounds(-1);
  SetIoChunk(g, true);
  RunNodes(profile_row, tail_start_);
}

// The tail's inputs from earlier nodes: image `image` of the group (its slice, batch-1 shape) while
// the nodes before the tail write it, the whole group (image < 0) while the tail reads it.
void Interpreter::SetTailBounds(int image) {
  for (size_t b = 0; b < tail_bounds_.size(); ++b) {
    LiteTensor& t = tensors_[tail_bounds_[b]];
    t.dims = tail_bound_dims_[b];
    t.bytes = tail_bound_bytes_[b];
    t.data = tail_bound_data_[b];
    if (image >= 0) {
      t.dims[0] = 1;
      t.bytes /= (size_t)tail_batch_;
      t.data = tail_bound_data_[b] + (size_t)image * t.bytes;
    }
  }
}

void Interpreter::SetNodePool(ThreadPool* pool) {
  for (auto& np : nodes_) np->ctx.pool = pool;
}

// Image lanes: lane k starts with image k, then every lane takes the next image until none is
// left (a lane slowed down by another process takes fewer); lane 0 runs this
// interpreter's nodes on the image's slices, lane k > 0 copies the image into its interpreter,
// runs it and copies the outputs back.
void Interpreter::RunLanes() {
  const int n = (int)lanes_.size() + 1;
  // Units: images, or with a tail groups of tail_batch_ images (the tail's outputs in group chunks).
  const int per_unit = tail_start_ >= 0 ? tail_batch_ : 1, units = full_batch_ / per_unit;
  std::atomic<int> next{n};
  pool_->run_tasks(n, [&](int lane) {
    for (int u = lane; u < units; u = next.fetch_add(1)) {
      if (lane == 0) {
        if (tail_start_ < 0) {
          SetIoChunk(u);
          RunNodes(nullptr);
          continue;
        }
        RunTailGroup(u, nullptr);
        continue;
      }
      Interpreter& l = *lanes_[lane - 1];
      for (size_t k = 0; k < inputs_.size(); ++k) {
        const Io& io = io_[in_io_[k]];
        const size_t bytes = io.chunk_bytes * (size_t)per_unit;
        std::memcpy(l.tensors_[l.inputs_[k]].data, io_buf_.get() + io.offset + (size_t)u * bytes, bytes);
      }
      l.Invoke();
      for (size_t k = 0; k < outputs_.size(); ++k) {
        const Io& io = io_[out_io_[k]];  // a tail's output: chunk_bytes is the group's
        const size_t bytes = io.chunk_bytes * (size_t)(io.tail ? 1 : per_unit);
        std::memcpy(io_buf_.get() + io.offset + (size_t)u * bytes, l.tensors_[l.outputs_[k]].data, bytes);
      }
    }
  });
}

// Points the graph inputs and outputs at micro-batch `chunk` (chunk dims), or at the whole batch
// (chunk < 0: the batch-B dims users see between runs).
void Interpreter::SetIoChunk(int chunk, bool tail) {
  for (const Io& io : io_) {
    LiteTensor& t = tensors_[io.tensor];
    uint8_t* base = io_buf_.get() + io.offset;
    if (chunk < 0) {
      t.dims = full_dims_[io.tensor];
      t.bytes = io.chunk_bytes * (size_t)(full_batch_ / (io.tail ? tail_batch_ : micro_));
      t.data = base;
    } else if (io.tail == tail) {
      t.dims = io.chunk_dims;
      t.bytes = io.chunk_bytes;
      t.data = base + (size_t)chunk * io.chunk_bytes;
    }
  }
}

void Interpreter::PlanArena() {
  // Lifetimes in node steps: a tensor written by node p and last read by node l occupies
  // [p, l]; persistent tensors occupy [-1, n]. Scratch of node k occupies [k, k].
  const int n = (int)nodes_.size();
  struct Alloc {
    size_t bytes;
    int first, last;
    int tensor;    // >= 0: tensor index; < 0: scratch of node (-tensor - 1)
    size_t offset = 0;
  };
  std::vector<int> first(tensors_.size(), INT32_MAX), last(tensors_.size(), -1);
  for (int k = 0; k < n; ++k) {
    for (auto* t : nodes_[k]->ctx.inputs)
      if (t) last[t - tensors_.data()] = std::max(last[t - tensors_.data()], k);
    for (auto* t : nodes_[k]->ctx.outputs) {
      const int i = (int)(t - tensors_.data());
      first[i] = std::min(first[i], k);
      last[i] = std::max(last[i], k);
    }
  }
  // The output of an absorbed expand conv is never written or read (FuseFloatExpandDepthwise).
  std::vector<uint8_t> unused(tensors_.size(), 0);
  for (const auto& np : nodes_)
    if (np->absorbed)
      for (const LiteTensor* t : np->ctx.outputs) unused[(size_t)(t - tensors_.data())] = 1;
  std::vector<Alloc> allocs;
  for (size_t i = 0; i < tensors_.size(); ++i) {
    LiteTensor& t = tensors_[i];
    if (t.is_const || unused[i]) continue;
    // A tail's inputs from earlier nodes hold a group of images written over several passes.
    const bool persistent =
        persistent_[i] || std::find(tail_bounds_.begin(), tail_bounds_.end(), (int)i) != tail_bounds_.end();
    if (!persistent && first[i] == INT32_MAX) continue;  // not used by the graph
    t.bytes = TensorBytes(t, opt_.max_arena_bytes, (int)i);
    allocs.push_back({t.bytes, persistent ? -1 : first[i], persistent ? n : last[i], (int)i});
  }
  for (int k = 0; k < n; ++k)
    if (nodes_[k]->ctx.scratch_bytes) {
      if (nodes_[k]->ctx.scratch_bytes > opt_.max_arena_bytes)
        throw ShapeError(fmt::format("node {} ({}): scratch of {} bytes exceeds the arena limit", k, nodes_[k]->ctx.op_name,
                                     nodes_[k]->ctx.scratch_bytes));
      allocs.push_back({nodes_[k]->ctx.scratch_bytes, k, k, -k - 1});
    }

  // Greedy by size (largest first, as TFLite's and TFLM's greedy planners do): each allocation
  // takes the lowest aligned offset that does not collide with an already placed allocation
  // whose lifetime overlaps.
  std::vector<size_t> order(allocs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return allocs[a].bytes > allocs[b].bytes; });
  std::vector<size_t> placed;
  size_t total = 0, unshared = 0;
  std::vector<std::pair<size_t, size_t>> busy;  // [offset, end) of overlapping placed allocs
  for (size_t idx : order) {
    Alloc& a = allocs[idx];
    const size_t need = AlignUp(std::max<size_t>(a.bytes, 1));
    unshared += need;
    busy.clear();
    for (size_t p : placed) {
      const Alloc& b = allocs[p];
      if (b.first <= a.last && a.first <= b.last) busy.emplace_back(b.offset, b.offset + AlignUp(std::max<size_t>(b.bytes, 1)));
    }
    std::sort(busy.begin(), busy.end());
    size_t off = 0;
    for (const auto& [s, e] : busy) {
      if (off + need <= s) break;
      off = std::max(off, e);
    }
    a.offset = off;
    if (off + need > opt_.max_arena_bytes)
      throw ShapeError(fmt::format("{}: the arena would need more than {} bytes", model_->name(), opt_.max_arena_bytes));
    total = std::max(total, off + need);
    placed.push_back(idx);
  }

  if (total > arena_capacity_ || !arena_) {
    arena_.reset(static_cast<uint8_t*>(::operator new[](std::max<size_t>(total, kAlign), std::align_val_t(kAlign))));
    arena_capacity_ = std::max<size_t>(total, kAlign);
  }
  arena_size_ = total;
  unshared_bytes_ = unshared;
  // Zero the arena: inputs nobody set and variables start at zero (TFLite resets variables to 0).
  std::memset(arena_.get(), 0, arena_size_);
  for (const Alloc& a : allocs) {
    if (a.tensor >= 0) {
      tensors_[a.tensor].data = arena_.get() + a.offset;
    } else {
      nodes_[-a.tensor - 1]->ctx.scratch = arena_.get() + a.offset;
    }
  }
}

// ------------------------------------------------------------------ running
void Interpreter::Invoke() {
  if (!allocated_) throw UsageError("Invoke: call AllocateTensors first (after loading, resizing or changing the mode)");
  int64_t* row = nullptr;
  if (profiling_) {
    prof_ns_.resize(prof_ns_.size() + nodes_.size(), 0);
    row = prof_ns_.data() + prof_ns_.size() - nodes_.size();
  }
  try {
    if (!micro_) {
      RunNodes(row);
    } else if (!lanes_.empty() && !row) {
      RunLanes();
      SetIoChunk(-1);
    } else if (tail_start_ >= 0) {
      for (int g = 0; g < full_batch_ / tail_batch_; ++g) RunTailGroup(g, row);
      SetIoChunk(-1);
    } else {
      for (int c = 0; c < full_batch_ / micro_; ++c) {
        SetIoChunk(c);
        RunNodes(row);
      }
      SetIoChunk(-1);
    }
  } catch (...) {
    if (micro_) SetIoChunk(-1);
    if (tail_start_ >= 0) SetTailBounds(-1);
    if (row) prof_ns_.resize(prof_ns_.size() - nodes_.size());  // a failed run is not recorded
    throw;
  }
  if (row) ++prof_runs_;
}

// One pass over the nodes. Profiling (row != null): one clock reading before the first op and one
// after each op, op k's time added to row[k] (the difference of consecutive readings), so a run's
// op times add up to its total exactly and the bookkeeping (one store per op) is charged to the
// following op, as in TFLite's per-op profiler. Without profiling no clock is read.
void Interpreter::RunNodes(int64_t* row, int begin, int end) {
  if (end < 0) end = (int)nodes_.size();
  if (!row) {
    for (int k = begin; k < end; ++k)
      if (!nodes_[k]->fused && !nodes_[k]->absorbed) nodes_[k]->reg.eval(nodes_[k]->ctx);
    return;
  }
  using Clock = std::chrono::steady_clock;
  Clock::time_point prev = Clock::now();
  for (int k = begin; k < end; ++k) {
    if (!nodes_[k]->fused && !nodes_[k]->absorbed) nodes_[k]->reg.eval(nodes_[k]->ctx);
    const Clock::time_point now = Clock::now();
    row[k] += std::chrono::duration_cast<std::chrono::nanoseconds>(now - prev).count();
    prev = now;
  }
}

void Interpreter::set_profiling(bool on) {
  if (on && !profiling_) ClearProfile();
  profiling_ = on;
}

void Interpreter::ClearProfile() {
  prof_ns_.clear();
  prof_runs_ = 0;
}

InvokeProfile Interpreter::profile() const {
  auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    const size_t m = v.size();
    return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
  };
  InvokeProfile p;
  p.runs = prof_runs_;
  const size_t n = nodes_.size();
  p.invoke_ms.assign((size_t)prof_runs_, 0.0);
  std::vector<double> ms((size_t)prof_runs_);
  for (size_t k = 0; k < n; ++k) {
    const OpContext& ctx = nodes_[k]->ctx;
    OpProfile op;
    op.node = ctx.node_index;  // the model's index (a conv with a fused ADD runs in the ADD's slot)
    op.op = nodes_[k]->fused      ? ctx.op_name + " (fused)"
            : nodes_[k]->absorbed ? ctx.op_name + " (in depthwise)"
            : ctx.op_name;
    if (!ctx.outputs.empty()) {
      const size_t t = (size_t)(ctx.outputs[0] - tensors_.data());
      op.output_shape = micro_ && !full_dims_[t].empty() ? full_dims_[t] : ctx.outputs[0]->dims;
    }
    double sum = 0;
    for (int r = 0; r < prof_runs_; ++r) {
      const int64_t ns = prof_ns_[(size_t)r * n + k];
      ms[r] = ns * 1e-6;
      sum += ms[r];
      p.invoke_ms[r] += ms[r];
    }
    if (prof_runs_ > 0) {
      op.median_ms = median(ms);
      op.mean_ms = sum / prof_runs_;
      op.min_ms = *std::min_element(ms.begin(), ms.end());
      op.max_ms = *std::max_element(ms.begin(), ms.end());
    }
    p.sum_of_medians_ms += op.median_ms;
    p.ops.push_back(std::move(op));
  }
  p.invoke_median_ms = median(p.invoke_ms);
  std::map<std::string, OpTypeProfile> types;
  for (OpProfile& op : p.ops) {
    op.share = p.sum_of_medians_ms > 0 ? op.median_ms / p.sum_of_medians_ms : 0.0;
    OpTypeProfile& t = types[op.op];
    t.op = op.op;
    ++t.count;
    t.median_ms += op.median_ms;
    t.share += op.share;
  }
  for (auto& [name, t] : types) p.by_type.push_back(t);
  std::stable_sort(p.by_type.begin(), p.by_type.end(),
                   [](const OpTypeProfile& a, const OpTypeProfile& b) { return a.median_ms > b.median_ms; });
  return p;
}

LiteTensor& Interpreter::input(int i) {
  if (i < 0 || i >= inputs_size()) throw UsageError(fmt::format("input {} out of range ({} inputs)", i, inputs_size()));
  return tensors_[inputs_[i]];
}

const LiteTensor& Interpreter::output(int i) const {
  if (i < 0 || i >= outputs_size()) throw UsageError(fmt::format("output {} out of range ({} outputs)", i, outputs_size()));
  return tensors_[outputs_[i]];
}

const LiteTensor& Interpreter::tensor(int index) const {
  if (index < 0 || index >= tensors_size()) throw UsageError(fmt::format("tensor {} out of range", index));
  return tensors_[index];
}

const OpContext& Interpreter::node(int index) const {
  if (index < 0 || index >= nodes_size()) throw UsageError(fmt::format("node {} out of range", index));
  if (nodes_[index]->ctx.node_index == index) return nodes_[index]->ctx;
  for (const auto& np : nodes_)  // moved by FuseFloatResidualAdds
    if (np->ctx.node_index == index) return np->ctx;
  throw UsageError(fmt::format("node {} not found", index));
}

void Interpreter::SetInput(int i, const void* data, size_t bytes) {
  LiteTensor& t = input(i);
  if (!allocated_) throw UsageError("SetInput: call AllocateTensors first");
  if (bytes != t.bytes)
    throw UsageError(fmt::format("input {} '{}': got {} bytes, expected {} ({}{})", i, t.name, bytes, t.bytes,
                                 dtype_name(t.type), shape_str(Shape(t.dims.begin(), t.dims.end()))));
  if (bytes) std::memcpy(t.data, data, bytes);
}

TensorDetails Interpreter::tensor_details(int index) const {
  const LiteTensor& t = tensor(index);
  TensorDetails d;
  d.name = t.name;
  d.index = index;
  d.shape = t.dims;
  d.type = t.type;
  d.scales = t.quant.scale;
  d.zero_points = t.quant.zero_point;
  d.quantized_dimension = t.quant.quantized_dimension;
  d.bytes = t.bytes ? t.bytes : (size_t)std::max<int64_t>(t.num_elements(), 0) * dtype_size(t.type);
  return d;
}

std::vector<TensorDetails> Interpreter::input_details() const {
  std::vector<TensorDetails> r;
  for (int t : inputs_) r.push_back(tensor_details(t));
  return r;
}

std::vector<TensorDetails> Interpreter::output_details() const {
  std::vector<TensorDetails> r;
  for (int t : outputs_) r.push_back(tensor_details(t));
  return r;
}

std::vector<float> Interpreter::DequantizeOutput(int i) const {
  if (!allocated_) throw UsageError("DequantizeOutput: call AllocateTensors and Invoke first");
  return Dequantize(output(i));
}

// ------------------------------------------------------------------ dequantize
std::vector<float> Dequantize(const LiteTensor& t) {
  const int64_t n = t.num_elements();
  std::vector<float> r((size_t)std::max<int64_t>(n, 0));
  if (n == 0) return r;
  if (!t.data) throw UsageError(fmt::format("Dequantize: tensor '{}' has no data", t.name));
  if ((size_t)n * dtype_size(t.type) > t.bytes && !t.sparsity)
    throw UsageError(fmt::format("Dequantize: tensor '{}' holds fewer bytes than its shape", t.name));
  if (t.type == DType::kFloat32) {
    std::memcpy(r.data(), t.data, (size_t)n * 4);
    return r;
  }
  if (t.type == DType::kFloat16) {
    const auto* h = static_cast<const uint16_t*>(t.data);
    for (int64_t i = 0; i < n; ++i) r[i] = half_to_float(h[i]);
    return r;
  }
  if (!t.quant.quantized()) throw UsageError(fmt::format("Dequantize: tensor '{}' ({}) is not quantized", t.name, dtype_name(t.type)));
  // Per-channel: channel of flat index i = (i / inner) % channels, inner = product of the dims
  // after quantized_dimension.
  int64_t inner = 1, channels = 1;
  if (t.quant.per_channel()) {
    const int qd = t.quant.quantized_dimension;
    if (qd < 0 || qd >= (int)t.dims.size() || t.dims[qd] != (int32_t)t.quant.scale.size())
      throw UsageError(fmt::format("Dequantize: tensor '{}': per-channel parameters do not match its shape", t.name));
    channels = t.dims[qd];
    for (size_t d = qd + 1; d < t.dims.size(); ++d) inner *= t.dims[d];
  }
  auto get = [&](int64_t i) -> int32_t {
    switch (t.type) {
      case DType::kInt8: return static_cast<const int8_t*>(t.data)[i];
      case DType::kUInt8: return static_cast<const uint8_t*>(t.data)[i];
      case DType::kInt16: return static_cast<const int16_t*>(t.data)[i];
      case DType::kInt32: return static_cast<const int32_t*>(t.data)[i];
      default: throw UsageError(fmt::format("Dequantize: tensor '{}' has type {}", t.name, dtype_name(t.type)));
    }
  };
  for (int64_t i = 0; i < n; ++i) {
    const size_t c = t.quant.per_channel() ? (size_t)((i / inner) % channels) : 0;
    r[i] = Dequantize(get(i), t.quant.scale[c], t.quant.zero_point[c]);
  }
  return r;
}

}  // namespace qat::lite
