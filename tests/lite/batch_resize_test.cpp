// Batch resize of models converted at batch 1 (RESHAPE with a constant [1, ...] shape, see
// src/lite/ops/reshape.cpp): each row of a resized batch gives the bytes the batch-1 model gives
// for that row alone; a shape that cannot follow the batch still fails. Micro-batching
// (InterpreterOptions::micro_batch) gives the whole batch's bytes. With QAT_PEERS_DIR, the same on
// MobileNet-v1 1.0 (the int8_vs_ort.sh batch-64 row), whole and in micro-batches.
#include <gtest/gtest.h>

#include <cstdlib>
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

// The model resized to `batch` images and allocated.
std::unique_ptr<Interpreter> AtBatch(const std::vector<uint8_t>& bytes, const InterpreterOptions& opt, int batch) {
  auto in = Interpreter::FromBuffer(bytes, opt);
  auto dims = in->input(0).dims;
  dims[0] = batch;
  in->ResizeInputTensor(0, dims);
  in->AllocateTensors();
  return in;
}

// Fills x with random bytes (seed) for `in`'s input, runs it, returns its output bytes.
std::vector<uint8_t> RunOnRandomInput(Interpreter& in, uint32_t seed, std::vector<uint8_t>& x) {
  std::mt19937 rng(seed);
  x.resize(in.input(0).bytes);
  for (auto& v : x) v = (uint8_t)rng();
  in.SetInput(0, x.data(), x.size());
  in.Invoke();
  const auto* out = (const uint8_t*)in.output(0).data;
  return {out, out + in.output(0).bytes};
}

// Micro-batching (InterpreterOptions::micro_batch): the same bytes as the whole batch, batch-sized
// input and output tensors between runs, the profile's shapes at the whole batch; a count that does
// not divide the batch, or a graph whose shapes do not follow the batch, runs the batch whole.
TEST(MicroBatch, SameBytesAsTheWholeBatch) {
  const auto bytes = tfl::WriteModel(qat::testing::SmallInt8Model());
  auto make = [&](int micro) {
    InterpreterOptions opt;
    opt.micro_batch = micro;
    return AtBatch(bytes, opt, 6);
  };
  auto whole = make(0);
  EXPECT_EQ(whole->micro_batch(), 0);
  std::vector<uint8_t> x;
  const std::vector<uint8_t> want = RunOnRandomInput(*whole, 3, x);
  for (int micro : {1, 2, 3, 4}) {
    auto m = make(micro);
    EXPECT_EQ(m->micro_batch(), micro == 4 ? 0 : micro) << micro;
    EXPECT_EQ(m->input(0).dims, whole->input(0).dims);
    EXPECT_EQ(m->output(0).dims, whole->output(0).dims);
    ASSERT_EQ(m->input(0).bytes, x.size());
    m->set_profiling(true);
    for (int run = 0; run < 2; ++run) {
      m->SetInput(0, x.data(), x.size());
      m->Invoke();
      EXPECT_EQ(m->output(0).dims, whole->output(0).dims) << micro;
      ASSERT_EQ(m->output(0).bytes, want.size());
      EXPECT_EQ(std::memcmp(m->output(0).data, want.data(), want.size()), 0) << "micro-batch " << micro;
    }
    const InvokeProfile prof = m->profile();
    EXPECT_EQ(prof.runs, 2);
    ASSERT_FALSE(prof.ops.empty());
    EXPECT_EQ(prof.ops[0].output_shape[0], 6) << "profile shapes are the whole batch's";
    EXPECT_GT(prof.ops[0].median_ms, 0.0);
  }
}

// Micro-batches of one image with a tail on groups of images (InterpreterOptions::tail_batch), on
// one thread and on two image lanes: the whole batch's bytes, with and without profiling, twice; a
// group size that does not divide the batch, or 0, runs without a tail.
TEST(MicroBatch, TailGroupsGiveTheWholeBatchBytes) {
  const auto bytes = tfl::WriteModel(qat::testing::SmallInt8Model());
  auto make = [&](int micro, int tail, int threads = 1) {
    InterpreterOptions opt;
    opt.micro_batch = micro;
    opt.tail_batch = tail;
    opt.threads = threads;
    return AtBatch(bytes, opt, 6);
  };
  auto whole = make(0, 0);
  std::vector<uint8_t> x;
  const std::vector<uint8_t> want = RunOnRandomInput(*whole, 5, x);
  // One thread (micro-batches of one image), then two image lanes that take whole groups.
  for (int tail : {2, 3, 6, 4, 0, -2, -3}) {
    const int threads = tail < 0 ? 2 : 1;
    tail = std::abs(tail);
    auto m = make(threads == 1 ? 1 : -1, tail, threads);
    const bool grouped = tail > 0 && 6 % tail == 0;
    EXPECT_EQ(m->micro_batch(), 1);
    EXPECT_EQ(m->lanes(), threads == 1 ? 0 : 2);
    EXPECT_EQ(m->tail_batch(), grouped ? tail : 0) << tail;
    if (grouped) {
      EXPECT_GT(m->tail_start(), 0);
    }
    EXPECT_EQ(m->output(0).dims, whole->output(0).dims);
    for (bool profile : {false, true, false}) {
      m->set_profiling(profile);
      std::vector<uint8_t> junk(want.size(), 0x5a);
      std::memcpy(m->output(0).data, junk.data(), junk.size());
      m->SetInput(0, x.data(), x.size());
      m->Invoke();
      EXPECT_EQ(m->output(0).dims, whole->output(0).dims) << tail;
      ASSERT_EQ(m->output(0).bytes, want.size());
      EXPECT_EQ(std::memcmp(m->output(0).data, want.data(), want.size()), 0) << "tail groups of " << tail;
    }
  }
}

// Two threads, automatic mode: image lanes (each thread whole images on its own copy of the
// graph) from two images per thread; the same bytes with and without profiling (which runs the
// images on one lane), and after a second AllocateTensors.
TEST(MicroBatch, ImageLanesGiveTheWholeBatchBytes) {
  const auto bytes = tfl::WriteModel(qat::testing::SmallInt8Model());
  auto make = [&](int batch, int micro) {
    InterpreterOptions opt;
    opt.threads = 2;
    opt.micro_batch = micro;
    return AtBatch(bytes, opt, batch);
  };
  for (int batch : {3, 4, 7}) {
    auto whole = make(batch, 0);
    auto lanes = make(batch, -1);
    EXPECT_EQ(whole->lanes(), 0);
    EXPECT_EQ(lanes->lanes(), batch >= 4 ? 2 : 0) << batch;
    std::mt19937 rng(batch);
    std::vector<uint8_t> x(whole->input(0).bytes);
    for (auto& v : x) v = (uint8_t)rng();
    whole->SetInput(0, x.data(), x.size());
    whole->Invoke();
    for (int round = 0; round < 3; ++round) {
      if (round == 1) lanes->set_profiling(true);
      if (round == 2) {
        lanes->set_profiling(false);
        lanes->AllocateTensors();
      }
      lanes->SetInput(0, x.data(), x.size());
      lanes->Invoke();
      EXPECT_EQ(lanes->output(0).dims, whole->output(0).dims);
      ASSERT_EQ(lanes->output(0).bytes, whole->output(0).bytes);
      EXPECT_EQ(std::memcmp(lanes->output(0).data, whole->output(0).data, whole->output(0).bytes), 0)
          << "batch " << batch << " round " << round;
    }
  }
}

// Two graph inputs (float ADD, [B, 3, 2] each): every input's slice goes to its micro-batch / lane.
std::vector<uint8_t> TwoInputAddModel(int batch) {
  tfl::ModelDesc m;
  tfl::SubGraphDesc g;
  g.name = "main";
  tfl::TensorDesc a, b, out;
  a.name = "a";
  b.name = "b";
  out.name = "sum";
  a.shape = b.shape = out.shape = {batch, 3, 2};
  g.tensors = {a, b, out};
  tfl::OpDesc op;
  op.builtin_code = qat::testing::kAdd;
  op.inputs = {0, 1};
  op.outputs = {2};
  g.ops = {op};
  g.inputs = {0, 1};
  g.outputs = {2};
  m.subgraphs.push_back(g);
  return tfl::WriteModel(m);
}

TEST(MicroBatch, EveryInputIsSliced) {
  const auto bytes = TwoInputAddModel(8);
  for (int threads : {1, 2}) {
    InterpreterOptions opt;
    opt.threads = threads;
    opt.micro_batch = threads == 1 ? 2 : -1;  // micro-batches of 2; two lanes
    auto in = Interpreter::FromBuffer(bytes, opt);
    in->AllocateTensors();
    EXPECT_EQ(threads == 1 ? in->micro_batch() : in->lanes(), 2);
    std::vector<float> a(48), b(48);
    for (int i = 0; i < 48; ++i) {
      a[i] = (float)i;
      b[i] = 1000.0f * (float)i;
    }
    in->SetInput(0, a.data(), a.size() * 4);
    in->SetInput(1, b.data(), b.size() * 4);
    in->Invoke();
    ASSERT_EQ(in->output(0).bytes, 48u * 4);
    const float* y = static_cast<const float*>(in->output(0).data);
    for (int i = 0; i < 48; ++i) EXPECT_EQ(y[i], 1001.0f * (float)i) << "threads " << threads << " element " << i;
  }
}

TEST(MicroBatch, ShapesThatDoNotFollowTheBatchRunWhole) {
  InterpreterOptions opt;
  opt.micro_batch = 1;
  auto a = Interpreter::FromBuffer(ReshapeModel(), opt);  // [2, 6] -> [3, 4]: rows mix
  a->AllocateTensors();
  EXPECT_EQ(a->micro_batch(), 0);
  std::vector<float> x(12);
  for (int i = 0; i < 12; ++i) x[i] = (float)i;
  a->SetInput(0, x.data(), 48);
  a->Invoke();
  EXPECT_EQ(std::memcmp(a->output(0).data, x.data(), 48), 0);
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
    // One thread, 16 images: automatic micro-batches of one image (16 x 2.5 MB > 32 MB), the last
    // 1x1 layers, pool and FC (from the 7x7x512 input on) on groups of 8 images.
    opt.threads = 1;
    auto m = Interpreter::FromFile(path, opt);
    m->ResizeInputTensor(0, {16, 224, 224, 3});
    m->AllocateTensors();
    EXPECT_EQ(m->micro_batch(), 1);
    EXPECT_EQ(m->tail_batch(), 8);
    EXPECT_EQ(m->tail_start(), 24);
    ExpectRowsMatchBatch1([&] { return Interpreter::FromFile(path, opt); }, 16, 3);
    // Two threads, 6 images: two image lanes (too few images for tail groups, 8 per lane), and with
    // groups of 3 asked for: the lanes take groups, the tail from node 24.
    opt.threads = 2;
    for (int tail : {-1, 3}) {
      opt.tail_batch = tail;
      auto l = Interpreter::FromFile(path, opt);
      l->ResizeInputTensor(0, {6, 224, 224, 3});
      l->AllocateTensors();
      EXPECT_EQ(l->lanes(), 2);
      EXPECT_EQ(l->tail_batch(), tail < 0 ? 0 : tail);
      EXPECT_EQ(l->tail_start(), tail < 0 ? -1 : 24);
      ExpectRowsMatchBatch1([&] { return Interpreter::FromFile(path, opt); }, 6, tail < 0 ? 4 : 5);
    }
    opt.tail_batch = -1;
  }
}

}  // namespace
}  // namespace qat::lite
