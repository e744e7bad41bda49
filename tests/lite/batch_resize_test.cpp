// Batch resize of models converted at batch 1 (RESHAPE with a constant [1, ...] shape, see
// src/lite/ops/reshape.cpp): each row of a resized batch gives the bytes the batch-1 model gives
// for that row alone; a shape that cannot follow the batch still fails. With QAT_PEERS_DIR, the
// same on MobileNet-v1 1.0 (the int8_vs_ort.sh batch-64 row).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <random>

#include "../tflite/test_models.h"
#include "qat/interpreter.h"

namespace qat::lite {
namespace {

// Runs `rows` inputs (each `row_bytes`) one at a time at batch 1 and all together resized to
// batch `rows`; expects identical output bytes per row.
void ExpectRowsMatchBatch1(const std::function<std::unique_ptr<Interpreter>()>& make, int rows, uint32_t seed) {
  auto one = make();
  one->AllocateTensors();
  const size_t in_row = one->input(0).bytes, out_row = one->output(0).bytes;
  std::mt19937 rng(seed);
  std::vector<uint8_t> x(in_row * rows);
  for (auto& v : x) v = (uint8_t)rng();
  std::vector<uint8_t> want(out_row * rows);
  for (int r = 0; r < rows; ++r) {
    one->SetInput(0, x.data() + r * in_row, in_row);
    one->Invoke();
    std::memcpy(want.data() + r * out_row, one->output(0).data, out_row);
  }
  auto many = make();
  auto dims = many->input(0).dims;
  dims[0] = rows;
  many->ResizeInputTensor(0, dims);
  many->AllocateTensors();
  ASSERT_EQ(many->output(0).bytes, out_row * rows);
  EXPECT_EQ(many->output(0).dims[0], rows);
  many->SetInput(0, x.data(), x.size());
  many->Invoke();
  EXPECT_EQ(std::memcmp(many->output(0).data, want.data(), want.size()), 0);
}

TEST(BatchResize, ConstantBatch1ReshapeFollowsTheInputBatch) {
  const auto bytes = tfl::WriteModel(qat::testing::SmallInt8Model());  // RESHAPE to [1, 48]
  ExpectRowsMatchBatch1([&] { return Interpreter::FromBuffer(bytes); }, 5, 1);
}

// float [2, 6] -> RESHAPE [3, 4].
std::vector<uint8_t> ReshapeModel() {
  tfl::ModelDesc m;
  tfl::SubGraphDesc g;
  g.name = "main";
  tfl::TensorDesc in, shape, out;
  in.name = "in";
  in.shape = {2, 6};
  shape.name = "shape";
  shape.type = tfl::TensorType::kInt32;
  shape.shape = {2};
  const std::vector<int32_t> s = {3, 4};
  shape.buffer = m.AddBuffer(std::span<const int32_t>(s));
  out.name = "out";
  out.shape = {3, 4};
  g.tensors = {in, shape, out};
  tfl::OpDesc op;
  op.builtin_code = qat::testing::kReshape;
  op.inputs = {0, 1};
  op.outputs = {2};
  g.ops = {op};
  g.inputs = {0};
  g.outputs = {2};
  m.subgraphs.push_back(g);
  return tfl::WriteModel(m);
}

TEST(BatchResize, ShapesThatFitOrCannotFollowAreNotRewritten) {
  const auto bytes = ReshapeModel();
  auto a = Interpreter::FromBuffer(bytes);
  a->AllocateTensors();  // 12 elements: [3, 4] as written, not [2, 6]
  EXPECT_EQ(a->output(0).dims, (std::vector<int32_t>{3, 4}));
  auto b = Interpreter::FromBuffer(bytes);
  b->ResizeInputTensor(0, {4, 6});  // 24 elements: 4 x 4 != 24, so no batch reading
  EXPECT_THROW(b->AllocateTensors(), Error);
  auto c = Interpreter::FromBuffer(bytes);
  c->ResizeInputTensor(0, {1, 12});  // 12 elements again: [3, 4] as written
  c->AllocateTensors();
  EXPECT_EQ(c->output(0).dims, (std::vector<int32_t>{3, 4}));
}

TEST(BatchResize, MobileNetV1Batch1ModelResized) {
  const std::string dir = qat::testing::PeersDir();
  if (dir.empty()) GTEST_SKIP() << "QAT_PEERS_DIR not set";
  const std::string path = dir + "/data/models/mbv1_100_b1.tflite";
  for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
    InterpreterOptions opt;
    opt.requant = mode;
    opt.threads = 2;
    ExpectRowsMatchBatch1([&] { return Interpreter::FromFile(path, opt); }, 3, 2);
  }
}

}  // namespace
}  // namespace qat::lite
