// Builders for the graph layer's core ops (sources, identity, AddN).
#include "ops/common.h"

namespace qat::ops {

Output placeholder(Graph& g, DType dtype, Shape shape, const std::string& name) {
  return make(g, "Placeholder", name, {}, {{"dtype", dtype}, {"shape", std::vector<int64_t>(shape)}});
}

Output constant(Graph& g, Tensor value, const std::string& name) {
  QAT_CHECK_T(UsageError, value.defined(), "constant '{}': undefined tensor", name);
  return make(g, "Const", name, {}, {{"value", value}});
}

Output variable(Graph& g, const std::string& name, Tensor init, bool trainable) {
  QAT_CHECK_T(UsageError, init.defined(), "variable '{}': undefined initial value", name);
  Node* n = make_node(g, "Variable", name.empty() ? "Variable" : name, {},
                      {{"dtype", init.dtype()},
                       {"shape", std::vector<int64_t>(init.shape())},
                       {"trainable", trainable},
                       {"init", init}});
  g.add_to_collection(graph::kGlobalVariables, n);
  if (trainable) g.add_to_collection(graph::kTrainableVariables, n);
  return n->output(0);
}

Output identity(Graph& g, Output x, const std::string& name) { return make(g, "Identity", name, {x}); }

Output add_n(Graph& g, const std::vector<Output>& xs, const std::string& name) { return make(g, "AddN", name, xs); }

}  // namespace qat::ops
