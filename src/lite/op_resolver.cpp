#include "lite/op_resolver.h"

#include <fmt/format.h>

namespace qat::lite {

void OpResolver::AddBuiltin(tflite::BuiltinOperator op, OpRegistration reg) {
  AddBuiltin(static_cast<int32_t>(op), std::move(reg));
}

void OpResolver::AddBuiltin(int32_t code, OpRegistration reg) {
  if (reg.name.empty()) reg.name = BuiltinOpName(code);
  builtins_[code] = std::move(reg);
}

void OpResolver::AddCustom(const std::string& name, OpRegistration reg) {
  if (reg.name.empty()) reg.name = name;
  customs_[name] = std::move(reg);
}

const OpRegistration* OpResolver::FindBuiltin(int32_t code) const {
  auto it = builtins_.find(code);
  return it == builtins_.end() ? nullptr : &it->second;
}

const OpRegistration* OpResolver::FindCustom(const std::string& name) const {
  auto it = customs_.find(name);
  return it == customs_.end() ? nullptr : &it->second;
}

std::vector<int32_t> OpResolver::builtin_codes() const {
  std::vector<int32_t> v;
  for (auto& [k, _] : builtins_) v.push_back(k);
  return v;
}

std::vector<std::string> OpResolver::custom_names() const {
  std::vector<std::string> v;
  for (auto& [k, _] : customs_) v.push_back(k);
  return v;
}

OpResolver BuiltinOpResolver() {
  OpResolver r;
  RegisterBuiltinOps(r);
  return r;
}

std::string BuiltinOpName(int32_t code) {
  if (code >= static_cast<int32_t>(tflite::BuiltinOperator::MIN) &&
      code <= static_cast<int32_t>(tflite::BuiltinOperator::MAX)) {
    const char* n = tflite::EnumNameBuiltinOperator(static_cast<tflite::BuiltinOperator>(code));
    if (n && *n) return n;
  }
  return fmt::format("BUILTIN_{}", code);
}

}  // namespace qat::lite
