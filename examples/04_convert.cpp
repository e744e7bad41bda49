// Step 4: convert the frozen graph to a fully integer (int8) .tflite.
//
// TF1 equivalent:
//   conv = tf.lite.TFLiteConverter.from_frozen_graph(frozen, ["input"], ["logits"])
//   conv.inference_type = tf.int8   # ranges come from the FakeQuant nodes
//   open("model.tflite", "wb").write(conv.convert())
//
// Usage: 04_convert FROZEN.json MODEL.tflite
#include <cstdio>
#include <string>
#include "qat/convert.h"

int main(int argc, char** argv) {
  if (argc < 3) { std::fprintf(stderr, "usage: %s FROZEN.json MODEL.tflite\n", argv[0]); return 2; }

  qat::convert::ConvertOptions opt;
  opt.inference_type = qat::convert::InferenceType::kInt8;  // int8 weights and activations
  opt.input_arrays = {"input"};
  opt.output_arrays = {"logits"};
  // No input_stats needed: the QAT rewrite put a FakeQuant on the input, so its range (and
  // hence the input tensor's scale / zero point) is in the graph.

  // Loads the frozen graph, lowers it to TFLite builtins (Conv2D+BiasAdd+Relu -> CONV_2D with a
  // fused RELU, ...), quantizes with the FakeQuant ranges, writes the flatbuffer.
  qat::convert::ConvertReport r = qat::convert::convert_file(argv[1], argv[2], opt);

  std::printf("wrote %s (%zu bytes); ops:", argv[2], r.bytes);
  for (const auto& [op, n] : r.op_counts) std::printf(" %s x%d", op.c_str(), n);
  std::printf("\n");
  for (const std::string& note : r.notes) std::printf("note: %s\n", note.c_str());
  return 0;
}
