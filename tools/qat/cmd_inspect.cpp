// `qat inspect MODEL.tflite [--all]`: what a .tflite holds: operators (with their main options),
// tensors (shape, type, quantization, size), constants and the op histogram. Verifies first.
#include <cstdio>
#include <map>

#include "commands.h"
#include "lite/op_resolver.h"
#include "qat/tflite.h"
#include "qat/tflite/schema_generated.h"

namespace qat::cli {
namespace {

const char* Act(tflite::ActivationFunctionType a) { return tflite::EnumNameActivationFunctionType(a); }
const char* Pad(tflite::Padding p) { return tflite::EnumNamePadding(p); }

// A short human-readable summary of the options of the ops qat handles.
std::string OptionsStr(const tflite::Operator* op) {
  using T = tflite::BuiltinOptions;
  if (!op->builtin_options()) return "";
  switch (op->builtin_options_type()) {
    case T::Conv2DOptions: {
      auto* o = op->builtin_options_as_Conv2DOptions();
      return fmt::format("{} stride {}x{} dilation {}x{} {}", Pad(o->padding()), o->stride_h(), o->stride_w(),
                         o->dilation_h_factor(), o->dilation_w_factor(), Act(o->fused_activation_function()));
    }
    case T::DepthwiseConv2DOptions: {
      auto* o = op->builtin_options_as_DepthwiseConv2DOptions();
      return fmt::format("{} stride {}x{} multiplier {} {}", Pad(o->padding()), o->stride_h(), o->stride_w(),
                         o->depth_multiplier(), Act(o->fused_activation_function()));
    }
    case T::Pool2DOptions: {
      auto* o = op->builtin_options_as_Pool2DOptions();
      return fmt::format("{} filter {}x{} stride {}x{} {}", Pad(o->padding()), o->filter_height(), o->filter_width(),
                         o->stride_h(), o->stride_w(), Act(o->fused_activation_function()));
    }
    case T::FullyConnectedOptions: {
      auto* o = op->builtin_options_as_FullyConnectedOptions();
      return fmt::format("{}{}", Act(o->fused_activation_function()), o->keep_num_dims() ? " keep_num_dims" : "");
    }
    case T::AddOptions: return Act(op->builtin_options_as_AddOptions()->fused_activation_function());
    case T::SubOptions: return Act(op->builtin_options_as_SubOptions()->fused_activation_function());
    case T::MulOptions: return Act(op->builtin_options_as_MulOptions()->fused_activation_function());
    case T::ConcatenationOptions: {
      auto* o = op->builtin_options_as_ConcatenationOptions();
      return fmt::format("axis {} {}", o->axis(), Act(o->fused_activation_function()));
    }
    case T::SoftmaxOptions: return fmt::format("beta {}", op->builtin_options_as_SoftmaxOptions()->beta());
    case T::ReducerOptions: return op->builtin_options_as_ReducerOptions()->keep_dims() ? "keep_dims" : "";
    case T::DepthToSpaceOptions: return fmt::format("block {}", op->builtin_options_as_DepthToSpaceOptions()->block_size());
    case T::ResizeBilinearOptions: {
      auto* o = op->builtin_options_as_ResizeBilinearOptions();
      return fmt::format("align_corners {} half_pixel_centers {}", o->align_corners(), o->half_pixel_centers());
    }
    default: return "";
  }
}

std::string IndexList(const flatbuffers::Vector<int32_t>* v) {
  std::string r;
  if (v)
    for (uint32_t i = 0; i < v->size(); ++i) r += (i ? "," : "") + std::to_string(v->Get(i));
  return r;
}

std::string Bytes(uint64_t b) {
  if (b >= (1u << 20)) return fmt::format("{:.2f} MiB", b / 1048576.0);
  if (b >= 1024) return fmt::format("{:.1f} KiB", b / 1024.0);
  return fmt::format("{} B", b);
}

}  // namespace

void register_inspect(CLI::App& app) {
  struct Args {
    std::string model;
    int max_values = 4;
  };
  auto a = std::make_shared<Args>();
  CLI::App* c = app.add_subcommand("inspect", "Describe a .tflite model: ops, tensors, quantization, sizes");
  c->add_option("model", a->model, ".tflite model")->required();
  c->add_option("--scales", a->max_values, "Per-channel scales to print per tensor")->check(CLI::NonNegativeNumber);
  c->callback([a] {
    auto file = tfl::ModelFile::Map(a->model);
    const tflite::Model* m = file->model();
    std::printf("%s: %s, schema version %u, %u subgraph(s), %u buffers\n", a->model.c_str(), Bytes(file->size()).c_str(),
                m->version(), m->subgraphs()->size(), m->buffers() ? m->buffers()->size() : 0);
    if (m->description()) std::printf("description: %s\n", m->description()->c_str());
    if (m->metadata())
      for (const auto* md : *m->metadata())
        std::printf("metadata '%s': buffer %u (%zu bytes)\n", md->name() ? md->name()->c_str() : "", md->buffer(),
                    file->buffer(md->buffer()).size());
    if (m->signature_defs())
      for (const auto* sd : *m->signature_defs())
        std::printf("signature '%s' -> subgraph %u\n", sd->signature_key() ? sd->signature_key()->c_str() : "",
                    sd->subgraph_index());
    for (uint32_t s = 0; s < m->subgraphs()->size(); ++s) {
      const auto* sg = m->subgraphs()->Get(s);
      const uint32_t nt = sg->tensors() ? sg->tensors()->size() : 0;
      const uint32_t nops = sg->operators() ? sg->operators()->size() : 0;
      std::printf("\nsubgraph %u '%s': %u tensors, %u operators, inputs [%s], outputs [%s]\n", s,
                  sg->name() ? sg->name()->c_str() : "", nt, nops, IndexList(sg->inputs()).c_str(),
                  IndexList(sg->outputs()).c_str());
      std::printf("\n  operators:\n");
      std::map<std::string, int> histogram;
      for (uint32_t o = 0; o < nops; ++o) {
        const auto* op = sg->operators()->Get(o);
        const auto* code = m->operator_codes()->Get(op->opcode_index());
        const int32_t b = tfl::RealBuiltinCode(code);
        const std::string name = b == (int32_t)tflite::BuiltinOperator::CUSTOM
                                     ? fmt::format("CUSTOM '{}'", code->custom_code()->str())
                                     : lite::BuiltinOpName(b);
        ++histogram[name];
        std::printf("  %4u %-22s v%d  in [%s] out [%s]  %s\n", o, name.c_str(), code->version(),
                    IndexList(op->inputs()).c_str(), IndexList(op->outputs()).c_str(), OptionsStr(op).c_str());
      }
      std::printf("\n  tensors:\n");
      uint64_t const_bytes = 0, act_bytes = 0;
      for (uint32_t t = 0; t < nt; ++t) {
        const auto* ft = sg->tensors()->Get(t);
        const auto data = file->buffer(ft->buffer());
        int64_t n = 1;
        std::string shape = "[";
        if (ft->shape())
          for (uint32_t d = 0; d < ft->shape()->size(); ++d) {
            n *= ft->shape()->Get(d);
            shape += (d ? "," : "") + std::to_string(ft->shape()->Get(d));
          }
        shape += "]";
        const uint64_t bytes = data.empty() ? (uint64_t)n * tfl::TensorTypeSize((int)ft->type()) : data.size();
        (data.empty() ? act_bytes : const_bytes) += bytes;
        std::string q;
        if (const auto* qp = ft->quantization(); qp && qp->scale() && qp->scale()->size() > 0) {
          if (qp->scale()->size() == 1) {
            q = fmt::format("scale {:.9g} zp {}", qp->scale()->Get(0), qp->zero_point()->Get(0));
          } else {
            q = fmt::format("per-channel dim {} x{}: scales", qp->quantized_dimension(), qp->scale()->size());
            for (uint32_t i = 0; i < std::min<uint32_t>(a->max_values, qp->scale()->size()); ++i)
              q += fmt::format(" {:.4g}", qp->scale()->Get(i));
            if ((int)qp->scale()->size() > a->max_values) q += " ...";
          }
        }
        std::printf("  %4u %-32s %-7s %-16s %10s %s%s%s\n", t, ft->name() ? ft->name()->c_str() : "",
                    tfl::TensorTypeName((int)ft->type()), shape.c_str(), Bytes(bytes).c_str(),
                    data.empty() ? "" : "const ", ft->sparsity() ? "sparse " : "", q.c_str());
      }
      std::printf("\n  constants %s, activations %s (sum, before arena reuse)\n", Bytes(const_bytes).c_str(),
                  Bytes(act_bytes).c_str());
      std::printf("  ops:");
      for (const auto& [name, count] : histogram) std::printf(" %s x%d", name.c_str(), count);
      std::printf("\n");
    }
  });
}

}  // namespace qat::cli
