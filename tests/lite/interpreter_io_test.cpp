// Input/output files of `qat run`: .npy round trips, input conversion (quantize, resize).
#include <gtest/gtest.h>

#include <cstring>

#include "../tflite/test_models.h"
#include "lite/npy.h"
#include "lite/tool_support.h"
#include "qat/interpreter.h"

namespace qat::lite {
namespace {

TEST(InterpreterIo, NpyRoundTrip) {
  std::vector<int8_t> v = {1, -2, 3, -4, 5, -6};
  auto bytes = EncodeNpy(DType::kInt8, {2, 3}, v.data(), v.size());
  EXPECT_EQ((bytes.size() - v.size()) % 64, 0u);  // data 64-byte aligned like numpy's writer
  NpyArray a = ParseNpy(bytes, "x.npy");
  EXPECT_EQ(a.type, DType::kInt8);
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::memcmp(a.data.data(), v.data(), 6), 0);
  std::vector<float> f = {1.5f};
  a = ParseNpy(EncodeNpy(DType::kFloat32, {1}, f.data(), 4), "f.npy");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{1}));
  a = ParseNpy(EncodeNpy(DType::kFloat32, {}, f.data(), 4), "s.npy");
  EXPECT_TRUE(a.shape.empty());
}

TEST(InterpreterIo, NpyRejectsBadFiles) {
  std::vector<float> f = {1, 2};
  auto good = EncodeNpy(DType::kFloat32, {2}, f.data(), 8);
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + n);
    EXPECT_THROW(ParseNpy(cut, "cut.npy"), FormatError) << n;
  }
  auto big = good;
  const std::string h(big.begin(), big.end());
  auto pos = h.find("<f4");
  big[pos] = '>';
  EXPECT_THROW(ParseNpy(big, "be.npy"), FormatError);
  auto obj = good;
  obj[pos + 1] = 'O';
  EXPECT_THROW(ParseNpy(obj, "obj.npy"), FormatError);
}

TEST(InterpreterIo, LoadInputQuantizesAndResizes) {
  // The custom-op chain has a float input; use a quantized-input variant for quantization.
  auto m = qat::testing::ChainModel(1, 4);
  m.subgraphs[0].tensors[0].type = tfl::TensorType::kInt8;
  m.subgraphs[0].tensors[0].quant.scale = {0.5f};
  m.subgraphs[0].tensors[0].quant.zero_point = {-10};
  OpResolver r;
  OpRegistration id;
  id.prepare = [](OpContext& c) { c.resize_output(0, c.in(0).dims); };
  id.eval = [](OpContext&) {};
  r.AddCustom("ADD1", id);
  auto in = Interpreter::FromBuffer(tfl::WriteModel(m), r);
  const std::string dir = QAT_BINARY_DIR;
  std::vector<float> x = {0.f, 1.f, -1.26f, 100.f, 2.f, 3.f, 4.f, 5.f};
  WriteNpy(dir + "/io_in.npy", DType::kFloat32, {2, 4}, x.data(), x.size() * 4);
  InputData d = LoadInputFile(*in, 0, dir + "/io_in.npy");
  ASSERT_TRUE(d.resize.has_value());
  EXPECT_EQ(*d.resize, (std::vector<int32_t>{2, 4}));
  ASSERT_EQ(d.bytes.size(), 8u);
  const auto* q = reinterpret_cast<const int8_t*>(d.bytes.data());
  EXPECT_EQ(q[0], -10);
  EXPECT_EQ(q[1], -8);
  EXPECT_EQ(q[2], -13);  // -2.52 rounds to -3
  EXPECT_EQ(q[3], 127);  // clamped
  // Raw .bin: exact int8 bytes, or float32 values.
  WriteFileBytes(dir + "/io_in.bin", x.data(), 16);
  d = LoadInputFile(*in, 0, dir + "/io_in.bin");
  EXPECT_FALSE(d.resize.has_value());
  EXPECT_EQ(d.bytes.size(), 4u);
  WriteFileBytes(dir + "/io_in3.bin", x.data(), 3);
  EXPECT_THROW(LoadInputFile(*in, 0, dir + "/io_in3.bin"), UsageError);
  WriteNpy(dir + "/io_rank.npy", DType::kFloat32, {8}, x.data(), 32);
  EXPECT_THROW(LoadInputFile(*in, 0, dir + "/io_rank.npy"), UsageError);
}

}  // namespace
}  // namespace qat::lite
