// Op registry: a process-wide table filled by explicit registration calls (no static
// initialisers: objects in static libraries that nothing references are dropped by the linker).
#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "qat/graph.h"

namespace qat::graph {
namespace {
struct Registry {
  std::mutex mu;
  // Node-based map: OpDef addresses stay valid when other ops are registered later.
  std::unordered_map<std::string, std::unique_ptr<OpDef>> ops;
  std::vector<std::unique_ptr<FusionRule>> fusions;
};
Registry& registry() {
  static Registry r;
  return r;
}
}  // namespace

void register_op(OpDef def) {
  QAT_CHECK_T(UsageError, !def.name.empty(), "register_op: empty op name");
  auto& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  auto& slot = r.ops[def.name];
  if (slot)
    *slot = std::move(def);  // keep the address: nodes and plans may hold OpDef pointers
  else
    slot = std::make_unique<OpDef>(std::move(def));
}

const OpDef* find_op(std::string_view name) {
  auto& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  auto it = r.ops.find(std::string(name));
  return it == r.ops.end() ? nullptr : it->second.get();
}

const OpDef& get_op(std::string_view name) {
  const OpDef* d = find_op(name);
  if (!d) fail<UsageError>("unknown op '{}' (not registered)", name);
  return *d;
}

std::vector<std::string> registered_ops() {
  auto& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  std::vector<std::string> v;
  for (auto& [k, _] : r.ops) v.push_back(k);
  std::sort(v.begin(), v.end());
  return v;
}

void register_fusion(FusionRule rule) {
  QAT_CHECK_T(UsageError, rule.kernel, "register_fusion '{}': no kernel", rule.name);
  auto& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  for (auto& f : r.fusions)
    if (f->name == rule.name) {
      *f = std::move(rule);
      return;
    }
  r.fusions.push_back(std::make_unique<FusionRule>(std::move(rule)));
}

std::vector<const FusionRule*> fusion_rules() {
  auto& r = registry();
  std::lock_guard<std::mutex> lk(r.mu);
  std::vector<const FusionRule*> v;
  for (auto& f : r.fusions) v.push_back(f.get());
  return v;
}

}  // namespace qat::graph
