// OpResolver: maps a model's operator codes to kernel registrations (op_api.h).
//
// Builtin ops are looked up by their BuiltinOperator code (the real code, i.e.
// max(builtin_code, deprecated_builtin_code)); custom ops by their custom_code string.
// RegisterBuiltinOps() fills a resolver with every builtin kernel qat has; it is implemented by
// the kernels in src/lite/ops/register_builtins.cpp. Registration is explicit (no static
// initialisers) because qat's layers are static libraries.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "lite/op_api.h"
#include "qat/tflite/schema_generated.h"

namespace qat::lite {

class OpResolver {
 public:
  // Later registrations of the same code/name replace earlier ones (lets users override a
  // builtin kernel, as TFLite's MutableOpResolver does).
  void AddBuiltin(tflite::BuiltinOperator op, OpRegistration reg);
  void AddBuiltin(int32_t code, OpRegistration reg);
  void AddCustom(const std::string& name, OpRegistration reg);

  // nullptr when not registered.
  const OpRegistration* FindBuiltin(int32_t code) const;
  const OpRegistration* FindCustom(const std::string& name) const;

  std::vector<int32_t> builtin_codes() const;
  std::vector<std::string> custom_names() const;

 private:
  std::map<int32_t, OpRegistration> builtins_;
  std::map<std::string, OpRegistration> customs_;
};

// Every builtin kernel in src/lite/ops/ (implemented there, in register_builtins.cpp).
void RegisterBuiltinOps(OpResolver& resolver);

// A resolver with RegisterBuiltinOps applied.
OpResolver BuiltinOpResolver();

// "CONV_2D" for a builtin code (official enum name), "BUILTIN_<n>" when out of range.
std::string BuiltinOpName(int32_t code);

}  // namespace qat::lite
