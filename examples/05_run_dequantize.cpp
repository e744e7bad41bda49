// Step 5: run the int8 .tflite with qat's interpreter (TFLite's Interpreter API), quantize an
// input image, Invoke, dequantize the output and print the top class.
//
// TF equivalent:
//   interp = tf.lite.Interpreter("model.tflite"); interp.allocate_tensors()
//   inp = interp.get_input_details()[0]; scale, zp = inp["quantization"]
//   interp.set_tensor(inp["index"], np.round(x / scale + zp).astype(np.int8)); interp.invoke()
//
// Usage: 05_run_dequantize MODEL.tflite [TEST_IMAGE_INDEX]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>
#include "qat/data.h"
#include "qat/interpreter.h"
#include "qat/tensor.h"

static void print_details(const char* what, const qat::lite::TensorDetails& d) {
  std::printf("%s '%s': type %s, shape [", what, d.name.c_str(), qat::dtype_name(d.type));
  for (size_t i = 0; i < d.shape.size(); ++i) std::printf("%s%d", i ? ", " : "", d.shape[i]);
  std::printf("], scale %g, zero point %lld\n", d.scales.empty() ? 0.0 : d.scales[0],
              d.zero_points.empty() ? 0LL : (long long)d.zero_points[0]);
}

int main(int argc, char** argv) {
  if (argc < 2) { std::fprintf(stderr, "usage: %s MODEL.tflite [INDEX]\n", argv[0]); return 2; }
  const int64_t index = argc > 2 ? std::atoll(argv[2]) : 0;

  qat::lite::InterpreterOptions opt;
  opt.threads = 2;
  auto interp = qat::lite::Interpreter::FromFile(argv[1], opt);  // mmap + verify the flatbuffer
  interp->AllocateTensors();                                     // shapes, multipliers, arena

  qat::lite::TensorDetails in = interp->input_details()[0];
  qat::lite::TensorDetails out = interp->output_details()[0];
  print_details("input ", in);
  print_details("output", out);
  if (in.type != qat::DType::kInt8 || out.type != qat::DType::kInt8) {
    std::fprintf(stderr, "expected an int8 model (04_convert.cpp)\n");
    return 1;
  }

  // One test image, pixels / 255 (the training scale), quantized with the input tensor's own
  // parameters: q = round(real / scale) + zero_point, clamped to int8.
  qat::data::Dataset test = qat::data::load_mnist(qat::data::fashion_mnist_dir()).test;
  const uint8_t* pixels = test.pixels.data() + index * test.image_size();
  std::vector<int8_t> q(test.image_size());
  for (size_t i = 0; i < q.size(); ++i) {
    float real = pixels[i] / 255.0f;
    long v = std::lround(real / in.scales[0]) + (long)in.zero_points[0];
    q[i] = (int8_t)std::clamp(v, -128L, 127L);
  }
  interp->SetInput(0, q.data(), q.size());
  interp->Invoke();

  // Dequantize the int8 logits: real = scale * (q - zero_point).
  const int8_t* logits_q = interp->typed_output<int8_t>(0);
  int best = 0;
  std::vector<float> logits(interp->output(0).num_elements());
  for (size_t k = 0; k < logits.size(); ++k) {
    logits[k] = out.scales[0] * (float)(logits_q[k] - out.zero_points[0]);
    std::printf("class %zu: q=%4d real=%8.4f\n", k, logits_q[k], logits[k]);
    if (logits[k] > logits[best]) best = (int)k;
  }
  std::printf("image %lld: predicted class %d, label %d\n", (long long)index, best, test.labels[index]);
  return 0;
}
