// Writes the seed models of fuzz/corpus/ that qat generates itself (small, valid, covering the
// writer's features). Real models (the peers' cnn_b1, a MediaPipe model) are copied in by hand.
#include <cstdio>

#include "qat/tflite.h"
#include "tflite/test_models.h"

using namespace qat::tfl;

namespace {

// float32 [1,6,6,4] -> PAD -> DEPTHWISE_CONV_2D 3x3 (+bias, RELU6) -> MAX_POOL_2D 2x2 ->
// ADD(self) -> MUL(self) -> SUB(self) -> MEAN(axes 1,2) -> LOGISTIC -> output [1,4]
ModelDesc FloatModel() {
  ModelDesc m;
  SubGraphDesc g;
  auto t = [&](std::string name, std::vector<int32_t> shape, TensorType type = TensorType::kFloat32) {
    TensorDesc d;
    d.name = std::move(name);
    d.shape = std::move(shape);
    d.type = type;
    g.tensors.push_back(d);
    return (int32_t)g.tensors.size() - 1;
  };
  auto cst = [&](int32_t idx, auto values) {
    using V = typename decltype(values)::value_type;
    g.tensors[idx].buffer = m.AddBuffer(std::span<const V>(values));
  };
  const int x = t("x", {1, 6, 6, 4});
  const int pads = t("pads", {4, 2}, TensorType::kInt32);
  cst(pads, std::vector<int32_t>{0, 0, 1, 1, 1, 1, 0, 0});
  const int padded = t("padded", {1, 8, 8, 4});
  const int w = t("dw/w", {1, 3, 3, 4});
  std::vector<float> wv(36);
  for (int i = 0; i < 36; ++i) wv[i] = (i % 7 - 3) * 0.1f;
  cst(w, wv);
  const int b = t("dw/b", {4});
  cst(b, std::vector<float>{0.1f, -0.2f, 0.3f, 0.f});
  const int dw = t("dw", {1, 6, 6, 4});
  const int pool = t("pool", {1, 3, 3, 4});
  const int add = t("add", {1, 3, 3, 4});
  const int mul = t("mul", {1, 3, 3, 4});
  const int sub = t("sub", {1, 3, 3, 4});
  const int axes = t("axes", {2}, TensorType::kInt32);
  cst(axes, std::vector<int32_t>{1, 2});
  const int mean = t("mean", {1, 4});
  const int y = t("y", {1, 4});
  auto op = [&](int32_t code, std::vector<int32_t> in, std::vector<int32_t> out, BuiltinOptions o = {}) {
    OpDesc d;
    d.builtin_code = code;
    d.inputs = std::move(in);
    d.outputs = std::move(out);
    d.options = o;
    g.ops.push_back(d);
  };
  op(34, {x, pads}, {padded}, PadOptions{});
  DepthwiseConv2DOptions dwo;
  dwo.padding = 1;
  dwo.fused_activation_function = 3;
  op(4, {padded, w, b}, {dw}, dwo);
  Pool2DOptions po;
  po.padding = 1;
  po.stride_w = po.stride_h = po.filter_width = po.filter_height = 2;
  op(17, {dw}, {pool}, po);
  op(0, {pool, pool}, {add}, AddOptions{});
  op(18, {add, pool}, {mul}, MulOptions{});
  op(41, {mul, add}, {sub}, SubOptions{});
  op(40, {sub, axes}, {mean}, ReducerOptions{false});
  op(14, {mean}, {y});
  g.inputs = {x};
  g.outputs = {y};
  m.subgraphs.push_back(g);
  return m;
}

void Write(const std::string& dir, const std::string& name, const ModelDesc& m) {
  WriteModelFile(m, dir + "/" + name);
  std::printf("wrote %s/%s\n", dir.c_str(), name.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  Write(dir, "small_int8.tflite", qat::testing::SmallInt8Model());
  Write(dir, "float_ops.tflite", FloatModel());
  return 0;
}
