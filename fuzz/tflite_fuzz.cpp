// libFuzzer target: arbitrary bytes -> Interpreter::FromBuffer -> AllocateTensors -> Invoke, in
// both requantization modes. Every qat::Error is an acceptable outcome; crashes, sanitizer
// reports, leaks and timeouts are bugs (add a regression test in tests/lite/ for each).
#include <cstddef>
#include <cstdint>

#include "lite/tool_support.h"
#include "qat/interpreter.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const qat::lite::OpResolver resolver = qat::lite::DefaultOpResolver();
  qat::lite::InterpreterOptions opt;
  opt.threads = 1;
  // Corrupt shapes must fail cleanly, not exhaust memory. A small cap also keeps each run short:
  // a mutated but valid shape (a 1536x1536 input) is slow, not a bug
  // (fuzz/regressions/).
  opt.max_arena_bytes = size_t(4) << 20;
  try {
    auto in = qat::lite::Interpreter::FromBuffer({data, size}, resolver, opt);
    in->AllocateTensors();
    qat::lite::FillRandomInputs(*in, 1);
    in->Invoke();
    in->set_requant_mode(qat::lite::RequantMode::kXnnpack);
    in->AllocateTensors();
    in->Invoke();
    for (int i = 0; i < in->outputs_size(); ++i) {
      const auto& t = in->output(i);
      if (t.quant.quantized() || t.type == qat::DType::kFloat32 || t.type == qat::DType::kFloat16)
        (void)qat::lite::Dequantize(t);
    }
  } catch (const qat::Error&) {
  }
  return 0;
}
