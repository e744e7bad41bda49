// The op glue of src/lite/ops/ run alone (a KernelRunner-style harness: flatbuffer Operator with
// real options, LiteTensors, init -> prepare -> eval), no interpreter: option parsing, output
// shapes, type checks and error messages, and one numeric case per op family.
#include <gtest/gtest.h>

#include <flatbuffers/flatbuffers.h>

#include <cstring>
#include <memory>
#include <vector>

#include "lite/op_resolver.h"
#include "lite/ops/mediapipe_ops.h"
#include "qat/tflite/schema_generated.h"

namespace qat::lite {
namespace {

// One node: tensors owned here, the operator built in `fbb`.
struct Harness {
  std::vector<std::unique_ptr<LiteTensor>> tensors;
  std::vector<std::vector<uint8_t>> storage;
  flatbuffers::FlatBufferBuilder fbb;
  OpContext ctx;
  OpRegistration reg;
  std::vector<uint8_t> scratch;

  template <class T>
  LiteTensor* Add(DType type, std::vector<int32_t> dims, std::vector<T> values, std::vector<float> scale = {},
                  std::vector<int64_t> zp = {}) {
    auto t = std::make_unique<LiteTensor>();
    t->name = "t" + std::to_string(tensors.size());
    t->type = type;
    t->dims = std::move(dims);
    t->quant.scale = std::move(scale);
    t->quant.zero_point = std::move(zp);
    storage.emplace_back(values.size() * sizeof(T));
    if (!values.empty()) std::memcpy(storage.back().data(), values.data(), storage.back().size());
    t->data = storage.back().data();
    t->bytes = storage.back().size();
    t->is_const = true;
    tensors.push_back(std::move(t));
    return tensors.back().get();
  }
  LiteTensor* Output(DType type, std::vector<float> scale = {}, std::vector<int64_t> zp = {}) {
    auto* t = Add<uint8_t>(type, {}, {}, std::move(scale), std::move(zp));
    t->is_const = false;
    return t;
  }

  void Build(const std::string& name, std::vector<LiteTensor*> ins, std::vector<LiteTensor*> outs,
             tflite::BuiltinOptions type = tflite::BuiltinOptions::NONE, flatbuffers::Offset<void> options = 0,
             std::vector<uint8_t> custom = {}) {
    auto custom_off = custom.empty() ? 0 : fbb.CreateVector(custom);
    fbb.Finish(tflite::CreateOperator(fbb, 0, 0, 0, type, options, custom_off));
    ctx.op = flatbuffers::GetRoot<tflite::Operator>(fbb.GetBufferPointer());
    ctx.op_name = name;
    ctx.node_index = 7;
    ctx.inputs = std::move(ins);
    ctx.outputs = std::move(outs);
    ctx.resize_output = [this](int i, const std::vector<int32_t>& dims) {
      LiteTensor& t = *ctx.outputs[i];
      t.dims = dims;
      int64_t n = 1;
      for (int d : dims) n *= d;
      storage.emplace_back((size_t)n * dtype_size(t.type));
      t.data = storage.back().data();
      t.bytes = storage.back().size();
    };
    OpResolver r = BuiltinOpResolver();
    RegisterMediaPipeOps(r);
    const OpRegistration* found = nullptr;
    for (int32_t code : r.builtin_codes())
      if (BuiltinOpName(code) == name) found = r.FindBuiltin(code);
    if (!found) found = r.FindCustom(name);
    if (!found) throw Error("no registration for " + name);
    reg = *found;
  }
  void Run() {
    if (reg.init) ctx.user_data = reg.init(ctx);
    reg.prepare(ctx);
    scratch.assign(ctx.scratch_bytes, 0);
    ctx.scratch = scratch.data();
    reg.eval(ctx);
  }
  ~Harness() {
    if (reg.free && ctx.user_data) reg.free(ctx.user_data);
  }
  template <class T>
  std::vector<T> Values(int i = 0) const {
    const LiteTensor& t = *ctx.outputs[i];
    return std::vector<T>(t.as<T>(), t.as<T>() + t.num_elements());
  }
};

TEST(OpsGlue, RegistersEveryBuiltin) {
  OpResolver r = BuiltinOpResolver();
  std::vector<std::string> names;
  for (int32_t c : r.builtin_codes()) names.push_back(BuiltinOpName(c));
  for (const char* want : {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "SUB", "MUL", "AVERAGE_POOL_2D",
                           "MAX_POOL_2D", "MEAN", "PAD", "RESHAPE", "SQUEEZE", "CONCATENATION", "SOFTMAX",
                           "LOGISTIC", "TANH", "RELU", "RELU6", "HARD_SWISH", "RESIZE_BILINEAR", "DEPTH_TO_SPACE",
                           "QUANTIZE", "DEQUANTIZE", "DENSIFY"})
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want;
  RegisterMediaPipeOps(r);
  EXPECT_NE(r.FindCustom("Convolution2DTransposeBias"), nullptr);
}

TEST(OpsGlue, Conv2DInt8SameStride2) {
  Harness h;
  // 3x3 input, 1 channel, Z_in = -128; 1x1 filter per-channel (2 outputs), stride 2 SAME -> 2x2.
  auto* in = h.Add<int8_t>(DType::kInt8, {1, 3, 3, 1}, {-128, -127, -126, -125, -124, -123, -122, -121, -120},
                           {0.5f}, {-128});
  auto* w = h.Add<int8_t>(DType::kInt8, {2, 1, 1, 1}, {1, -1}, {1.f, 2.f}, {0, 0});
  auto* b = h.Add<int32_t>(DType::kInt32, {2}, {0, 0});
  auto* out = h.Output(DType::kInt8, {0.5f}, {0});
  h.Build("CONV_2D", {in, w, b}, {out}, tflite::BuiltinOptions::Conv2DOptions,
          tflite::CreateConv2DOptions(h.fbb, tflite::Padding::SAME, 2, 2).Union());
  h.Run();
  EXPECT_EQ(out->dims, (std::vector<int32_t>{1, 2, 2, 2}));
  // taps (0,0)=0 (0,2)=2 (2,0)=6 (2,2)=8 in real units 0.5 q: ch0 = q, ch1 = -2 q (at out scale 0.5)
  EXPECT_EQ(h.Values<int8_t>(), (std::vector<int8_t>{0, 0, 2, -4, 6, -12, 8, -16}));
}

TEST(OpsGlue, Conv2DErrorsNameTheNode) {
  Harness h;
  auto* in = h.Add<float>(DType::kFloat32, {1, 2, 2, 3}, std::vector<float>(12));
  auto* w = h.Add<float>(DType::kFloat32, {1, 1, 1, 2}, std::vector<float>(2));
  auto* out = h.Output(DType::kFloat32);
  h.Build("CONV_2D", {in, w}, {out}, tflite::BuiltinOptions::Conv2DOptions,
          tflite::CreateConv2DOptions(h.fbb, tflite::Padding::VALID, 1, 1).Union());
  try {
    h.Run();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("node 7 (CONV_2D)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("input channels"), std::string::npos) << e.what();
  }
}

TEST(OpsGlue, DepthwiseFloatMultiplier) {
  Harness h;
  auto* in = h.Add<float>(DType::kFloat32, {1, 1, 1, 2}, {1, 2});
  auto* w = h.Add<float>(DType::kFloat32, {1, 1, 1, 4}, {1, 2, 3, 4});
  auto* out = h.Output(DType::kFloat32);
  h.Build("DEPTHWISE_CONV_2D", {in, w}, {out}, tflite::BuiltinOptions::DepthwiseConv2DOptions,
          tflite::CreateDepthwiseConv2DOptions(h.fbb, tflite::Padding::VALID, 1, 1, 2).Union());
  h.Run();
  EXPECT_EQ(h.Values<float>(), (std::vector<float>{1, 2, 6, 8}));
}

TEST(OpsGlue, FullyConnectedKeepNumDimsAndHybrid) {
  Harness h;
  auto* in = h.Add<float>(DType::kFloat32, {2, 1, 3}, {1, 2, 3, 0, 0, 1});
  auto* w = h.Add<int8_t>(DType::kInt8, {2, 3}, {2, 2, 2, 0, 0, 4}, {0.5f, 0.25f}, {0, 0});
  auto* out = h.Output(DType::kFloat32);
  h.Build("FULLY_CONNECTED", {in, w, nullptr}, {out}, tflite::BuiltinOptions::FullyConnectedOptions,
          tflite::CreateFullyConnectedOptions(h.fbb, tflite::ActivationFunctionType::NONE,
                                              tflite::FullyConnectedOptionsWeightsFormat::DEFAULT, true)
              .Union());
  h.Run();
  EXPECT_EQ(out->dims, (std::vector<int32_t>{2, 1, 2}));
  EXPECT_EQ(h.Values<float>(), (std::vector<float>{6, 3, 1, 1}));
}

TEST(OpsGlue, AddBroadcastRelu) {
  Harness h;
  auto* a = h.Add<float>(DType::kFloat32, {1, 2, 2}, {1, -2, 3, -4});
  auto* b = h.Add<float>(DType::kFloat32, {2}, {1, 1});
  auto* out = h.Output(DType::kFloat32);
  h.Build("ADD", {a, b}, {out}, tflite::BuiltinOptions::AddOptions,
          tflite::CreateAddOptions(h.fbb, tflite::ActivationFunctionType::RELU).Union());
  h.Run();
  EXPECT_EQ(out->dims, (std::vector<int32_t>{1, 2, 2}));
  EXPECT_EQ(h.Values<float>(), (std::vector<float>{2, 0, 4, 0}));
}

TEST(OpsGlue, PoolOutputShape) {
  Harness h;
  std::vector<int8_t> v(5 * 5);
  for (int i = 0; i < 25; ++i) v[i] = (int8_t)(i - 128);
  auto* in = h.Add<int8_t>(DType::kInt8, {1, 5, 5, 1}, v, {1.f}, {0});
  auto* out = h.Output(DType::kInt8, {1.f}, {0});
  h.Build("MAX_POOL_2D", {in}, {out}, tflite::BuiltinOptions::Pool2DOptions,
          tflite::CreatePool2DOptions(h.fbb, tflite::Padding::SAME, 2, 2, 3, 3).Union());
  h.Run();
  EXPECT_EQ(out->dims, (std::vector<int32_t>{1, 3, 3, 1}));
  EXPECT_EQ(h.Values<int8_t>()[0], (int8_t)(6 - 128));   // window rows 0-1, cols 0-1
  EXPECT_EQ(h.Values<int8_t>()[8], (int8_t)(24 - 128));  // bottom-right
}

TEST(OpsGlue, MeanKeepDims) {
  Harness h;
  auto* in = h.Add<float>(DType::kFloat32, {1, 2, 2, 2}, {1, 10, 2, 20, 3, 30, 4, 40});
  auto* axes = h.Add<int32_t>(DType::kInt32, {2}, {1, -2});
  auto* out = h.Output(DType::kFloat32);
  h.Build("MEAN", {in, axes}, {out}, tflite::BuiltinOptions::ReducerOptions,
          tflite::CreateReducerOptions(h.fbb, true).Union());
  h.Run();
  EXPECT_EQ(out->dims, (std::vector<int32_t>{1, 1, 1, 2}));
  EXPECT_EQ(h.Values<float>(), (std::vector<float>{2.5f, 25.f}));
}

TEST(OpsGlue, ReshapeInfersAndSqueeze) {
  Harness h;
  auto* in = h.Add<float>(DType::kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6});
  auto* shape = h.Add<int32_t>(DType::kInt32, {3}, {3, -1, 1});
  auto* out = h.Output(DType::kFloat32);
  h.Build("RESHAPE", {in, shape}, {out});
  h.Run();
  EXPECT_EQ(out->dims, (std::vector<int32_t>{3, 2, 1}));
  Harness s;
  auto* sin = s.Add<float>(DType::kFloat32, {1, 3, 1}, {1, 2, 3});
  auto* sout = s.Output(DType::kFloat32);
  s.Build("SQUEEZE", {sin}, {sout});
  s.Run();
  EXPECT_EQ(sout->dims, (std::vector<int32_t>{3}));
}

TEST(OpsGlue, ConcatenationNegativeAxis) {
  Harness h;
  auto* a = h.Add<float>(DType::kFloat32, {2, 1}, {1, 2});
  auto* b = h.Add<float>(DType::kFloat32, {2, 2}, {3, 4, 5, 6});
  auto* out = h.Output(DType::kFloat32);
  h.Build("CONCATENATION", {a, b}, {out}, tflite::BuiltinOptions::ConcatenationOptions,
          tflite::CreateConcatenationOptions(h.fbb, -1).Union());
  h.Run();
  EXPECT_EQ(out->dims, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(h.Values<float>(), (std::vector<float>{1, 3, 4, 2, 5, 6}));
}

TEST(OpsGlue, PadQuantizedUsesZeroPoint) {
  Harness h;
  auto* in = h.Add<int8_t>(DType::kInt8, {1, 1}, {5}, {1.f}, {-7});
  auto* pads = h.Add<int32_t>(DType::kInt32, {2, 2}, {0, 0, 2, 1});
  auto* out = h.Output(DType::kInt8, {1.f}, {-7});
  h.Build("PAD", {in, pads}, {out});
  h.Run();
  EXPECT_EQ(h.Values<int8_t>(), (std::vector<int8_t>{-7, -7, 5, -7}));
}

TEST(OpsGlue, QuantizeDequantizeRoundTrip) {
  Harness q;
  auto* x = q.Add<float>(DType::kFloat32, {3}, {-1.f, 0.25f, 100.f});
  auto* qo = q.Output(DType::kInt8, {0.5f}, {1});
  q.Build("QUANTIZE", {x}, {qo});
  q.ctx.requant = kernels::RequantMode::kTflite;
  q.Run();
  EXPECT_EQ(q.Values<int8_t>(), (std::vector<int8_t>{-1, 2, 127}));  // 0.5 -> 1 (away from zero) + 1
  Harness d;
  auto* h16 = d.Add<uint16_t>(DType::kFloat16, {2}, {0x3C00, 0xBC00});
  auto* fo = d.Output(DType::kFloat32);
  d.Build("DEQUANTIZE", {h16}, {fo});
  d.Run();
  EXPECT_EQ(d.Values<float>(), (std::vector<float>{1.f, -1.f}));
}

TEST(OpsGlue, DensifyFromSparsityParameters) {
  Harness h;
  // Sparsity flatbuffer for [[0, 1, 0], [2, 0, 3]] (dim 0 dense, dim 1 CSR).
  flatbuffers::FlatBufferBuilder sb;
  auto seg = tflite::CreateInt32Vector(sb, sb.CreateVector(std::vector<int32_t>{0, 1, 3}));
  auto idx = tflite::CreateInt32Vector(sb, sb.CreateVector(std::vector<int32_t>{1, 0, 2}));
  std::vector<flatbuffers::Offset<tflite::DimensionMetadata>> dims = {
      tflite::CreateDimensionMetadata(sb, tflite::DimensionType::DENSE, 2),
      tflite::CreateDimensionMetadata(sb, tflite::DimensionType::SPARSE_CSR, 0,
                                      tflite::SparseIndexVector::Int32Vector, seg.Union(),
                                      tflite::SparseIndexVector::Int32Vector, idx.Union())};
  sb.Finish(tflite::CreateSparsityParameters(sb, sb.CreateVector(std::vector<int32_t>{0, 1}), 0,
                                             sb.CreateVector(dims)));
  auto* in = h.Add<float>(DType::kFloat32, {2, 3}, {1, 2, 3});
  in->sparsity = flatbuffers::GetRoot<tflite::SparsityParameters>(sb.GetBufferPointer());
  auto* out = h.Output(DType::kFloat32);
  h.Build("DENSIFY", {in}, {out});
  h.Run();
  EXPECT_EQ(h.Values<float>(), (std::vector<float>{0, 1, 0, 2, 0, 3}));
}

TEST(OpsGlue, TransposeConvBiasCustomOptions) {
  Harness h;
  auto* in = h.Add<float>(DType::kFloat32, {1, 2, 2, 1}, {1, 2, 3, 4});
  auto* w = h.Add<float>(DType::kFloat32, {1, 2, 2, 1}, {1, 1, 1, 1});
  auto* b = h.Add<float>(DType::kFloat32, {1}, {0.5f});
  auto* out = h.Output(DType::kFloat32);
  const int32_t opts[3] = {1 /* SAME */, 2, 2};
  std::vector<uint8_t> raw(12);
  std::memcpy(raw.data(), opts, 12);
  h.Build("Convolution2DTransposeBias", {in, w, b}, {out}, tflite::BuiltinOptions::NONE, 0, raw);
  h.Run();
  // SAME, stride 2, 2x2 filter on 2x2: pad = max(0, 2 - 1 % 2 - 1) = 0 -> output 4x4; each input
  // pixel fills its own 2x2 block.
  EXPECT_EQ(out->dims, (std::vector<int32_t>{1, 4, 4, 1}));
  EXPECT_EQ(h.Values<float>(), (std::vector<float>{1.5f, 1.5f, 2.5f, 2.5f, 1.5f, 1.5f, 2.5f, 2.5f, 3.5f, 3.5f, 4.5f,
                                                   4.5f, 3.5f, 3.5f, 4.5f, 4.5f}));
}

TEST(OpsGlue, SoftmaxInt8ChecksOutputQuantization) {
  Harness h;
  auto* in = h.Add<int8_t>(DType::kInt8, {1, 2}, {0, 0}, {0.1f}, {0});
  auto* out = h.Output(DType::kInt8, {1.f / 128}, {0});
  h.Build("SOFTMAX", {in}, {out}, tflite::BuiltinOptions::SoftmaxOptions,
          tflite::CreateSoftmaxOptions(h.fbb, 1.f).Union());
  EXPECT_THROW(h.Run(), Error);
}

TEST(OpsGlue, ResizeBilinearAndDepthToSpace) {
  Harness h;
  auto* in = h.Add<float>(DType::kFloat32, {1, 1, 2, 1}, {0, 1});
  auto* size = h.Add<int32_t>(DType::kInt32, {2}, {1, 3});
  auto* out = h.Output(DType::kFloat32);
  h.Build("RESIZE_BILINEAR", {in, size}, {out}, tflite::BuiltinOptions::ResizeBilinearOptions,
          tflite::CreateResizeBilinearOptions(h.fbb, true, false).Union());
  h.Run();
  EXPECT_EQ(h.Values<float>(), (std::vector<float>{0, 0.5f, 1}));
  Harness d;
  auto* din = d.Add<float>(DType::kFloat32, {1, 1, 1, 4}, {1, 2, 3, 4});
  auto* dout = d.Output(DType::kFloat32);
  d.Build("DEPTH_TO_SPACE", {din}, {dout}, tflite::BuiltinOptions::DepthToSpaceOptions,
          tflite::CreateDepthToSpaceOptions(d.fbb, 2).Union());
  d.Run();
  EXPECT_EQ(dout->dims, (std::vector<int32_t>{1, 2, 2, 1}));
}

TEST(OpsGlue, LogisticInt8Table) {
  Harness h;
  auto* in = h.Add<int8_t>(DType::kInt8, {3}, {0, -128, 127}, {1.f / 16}, {0});
  auto* out = h.Output(DType::kInt8, {1.f / 256}, {-128});
  h.Build("LOGISTIC", {in}, {out});
  h.Run();
  EXPECT_EQ(h.Values<int8_t>(), (std::vector<int8_t>{0, -128, 127}));
}

}  // namespace
}  // namespace qat::lite
