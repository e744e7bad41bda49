// Shared plumbing of the optimizer Apply* ops: each takes the variable (and its slot variables)
// as data inputs so the graph shows what it updates, and updates their values in the
// VariableStore in place (the store, not the input tensor, is the state).
#pragma once
#include <functional>

#include "qat/graph.h"

namespace qat::train::detail {

// The Variable node behind input i (looking through Identity), or a ShapeError naming `n`.
const graph::Node& variable_behind(const graph::Node& n, int i);
// The store value of the variable behind input i, checked to be float32.
Tensor& variable_value(graph::KernelContext& ctx, int i);
// Shape function: output 0 has the type of input 0; inputs [first_same, last_same] must have
// its shape; input lr_index must be a float scalar.
void apply_shape_fn(graph::InferContext& c, int first_same, int last_same, int lr_index);
// Runs fn(begin, end) over [0, n) in chunks on the kernel's pool.
void parallel_chunks(graph::KernelContext& ctx, int64_t n, const std::function<void(int64_t, int64_t)>& fn);
float scalar_input(graph::KernelContext& ctx, int i);

}  // namespace qat::train::detail
