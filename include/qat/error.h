// Errors: every failure in qat is an exception derived from qat::Error whose message names the
// node, file, tensor or op concerned. The CLI maps them to a one-line message and exit code.
#pragma once
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace qat {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
// Malformed input file (IDX, checkpoint, graph, .tflite): the message names the file.
class FormatError : public Error {
 public:
  using Error::Error;
};
// A file could not be opened, read or written.
class IoError : public Error {
 public:
  using Error::Error;
};
// Shapes or attributes that do not fit an op: the message names the node or op.
class ShapeError : public Error {
 public:
  using Error::Error;
};
// Bad user input on the command line or in an API call (exit code 2 in the CLI).
class UsageError : public Error {
 public:
  using Error::Error;
};

template <class E = Error, class... Args>
[[noreturn]] void fail(fmt::format_string<Args...> f, Args&&... args) {
  throw E(fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace qat

// QAT_CHECK(cond, "fmt {}", args...) throws qat::Error with the formatted message.
#define QAT_CHECK(cond, ...)                      \
  do {                                            \
    if (!(cond)) ::qat::fail<::qat::Error>(__VA_ARGS__); \
  } while (0)
#define QAT_CHECK_T(E, cond, ...)                 \
  do {                                            \
    if (!(cond)) ::qat::fail<E>(__VA_ARGS__);     \
  } while (0)
