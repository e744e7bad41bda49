// DENSIFY: expands a constant sparse tensor (LiteTensor::sparsity -> tflite::SparsityParameters;
// the tensor's dims are the dense shape, its buffer holds the stored values). The dense values are
// computed once in prepare (the input is a model constant); the output then aliases them and is
// marked constant, so the ops that read it (DEQUANTIZE, CONV_2D, ...) resolve or pack it once, and
// eval has nothing to do (a variable output gets a copy in eval instead).
#include <cstring>

#include "kernels/reference/densify.h"
#include "lite/ops/op_common.h"

namespace qat::lite::ops {
namespace {

struct OpData {
  std::vector<uint8_t> dense;
};

std::vector<int32_t> IndexVector(const OpContext& ctx, tflite::SparseIndexVector type, const void* v,
                                 const char* what) {
  std::vector<int32_t> r;
  switch (type) {
    case tflite::SparseIndexVector::Int32Vector: {
      auto* t = static_cast<const tflite::Int32Vector*>(v);
      if (t && t->values()) r.assign(t->values()->begin(), t->values()->end());
      break;
    }
    case tflite::SparseIndexVector::Uint16Vector: {
      auto* t = static_cast<const tflite::Uint16Vector*>(v);
      if (t && t->values()) r.assign(t->values()->begin(), t->values()->end());
      break;
    }
    case tflite::SparseIndexVector::Uint8Vector: {
      auto* t = static_cast<const tflite::Uint8Vector*>(v);
      if (t && t->values()) r.assign(t->values()->begin(), t->values()->end());
      break;
    }
    default: ctx.fail("sparse dimension without {}", what);
  }
  return r;
}

void Prepare(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  CheckArity(ctx, 1, 1);
  const LiteTensor& in = ctx.in(0);
  CheckType(ctx, ctx.out(0), in.type, "output");
  const auto* sp = static_cast<const tflite::SparsityParameters*>(in.sparsity);
  if (!sp || !in.data) ctx.fail("input '{}' must be a constant sparse tensor", in.name);
  ref::DensifyParams p;
  p.dense_shape.assign(in.dims.begin(), in.dims.end());
  if (sp->traversal_order()) p.traversal_order.assign(sp->traversal_order()->begin(), sp->traversal_order()->end());
  if (sp->block_map()) p.block_map.assign(sp->block_map()->begin(), sp->block_map()->end());
  if (!sp->dim_metadata()) ctx.fail("input '{}' has no dim_metadata", in.name);
  for (const auto* m : *sp->dim_metadata()) {
    ref::DensifyLevel L;
    L.sparse = m->format() == tflite::DimensionType::SPARSE_CSR;
    L.dense_size = m->dense_size();
    if (L.sparse) {
      L.segments = IndexVector(ctx, m->array_segments_type(), m->array_segments(), "array_segments");
      L.indices = IndexVector(ctx, m->array_indices_type(), m->array_indices(), "array_indices");
    }
    p.levels.push_back(std::move(L));
  }
  const size_t elem = dtype_size(in.type);
  d.dense.assign((size_t)in.num_elements() * elem, 0);
  if (!ref::Densify(p, in.data, (int64_t)(in.bytes / elem), d.dense.data(), elem))
    ctx.fail("input '{}': inconsistent sparsity parameters", in.name);
  ResizeOutput(ctx, 0, in.dims);
  LiteTensor& out = ctx.out(0);
  if (!out.is_variable) {
    out.data = d.dense.data();
    out.bytes = d.dense.size();
    out.is_const = true;
  }
}

void Eval(OpContext& ctx) {
  auto& d = Data<OpData>(ctx);
  if (ctx.out(0).data != d.dense.data()) std::memcpy(ctx.out(0).data, d.dense.data(), d.dense.size());
}

}  // namespace

OpRegistration Register_DENSIFY() { return MakeRegistration<OpData>("DENSIFY", Prepare, Eval); }

}  // namespace qat::lite::ops
