// QAT_* switches of the kernels and the interpreter (A/B timing, tests): read from the
// environment where the caller keeps the result (once per process); on when set to anything but
// an empty string or a leading '0'.
#pragma once
#include <cstdlib>

namespace qat::kernels {

inline bool EnvFlag(const char* name) {
  const char* e = std::getenv(name);
  return e && *e && *e != '0';
}

}  // namespace qat::kernels
