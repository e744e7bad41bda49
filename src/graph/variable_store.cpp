// VariableStore: variable values by name (the checkpoint), shared by every graph and session
// that names the same variables (train/eval graphs, towers).
#include "qat/graph.h"

namespace qat::graph {

Tensor& VariableStore::get(const std::string& name) {
  auto it = vars_.find(name);
  if (it == vars_.end()) fail<UsageError>("variable '{}' has no value (not initialised or not in the checkpoint)", name);
  return it->second;
}

const Tensor& VariableStore::get(const std::string& name) const {
  return const_cast<VariableStore*>(this)->get(name);
}

void VariableStore::set(const std::string& name, Tensor value) {
  QAT_CHECK_T(UsageError, value.defined(), "VariableStore::set('{}'): undefined tensor", name);
  auto it = vars_.find(name);
  // Sessions hold pointers to the map slot, so assign in place rather than re-insert.
  if (it == vars_.end())
    vars_.emplace(name, value.clone());
  else
    it->second = value.clone();
}

void VariableStore::initialize(const Graph& g, bool overwrite) {
  for (Node* n : g.nodes()) {
    if (n->op() != "Variable") continue;
    if (!overwrite && has(n->name())) continue;
    if (!n->has_attr("init"))
      fail<UsageError>("variable '{}' has no initial value (attribute 'init') and is not in the store", n->name());
    set(n->name(), n->attr_tensor("init"));
  }
}

}  // namespace qat::graph
