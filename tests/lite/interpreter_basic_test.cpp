// Interpreter core with custom test ops (independent of the builtin kernels): op resolution,
// the arena planner, resizing, inputs/outputs, error messages.
#include <gtest/gtest.h>

#include <cstring>

#include "../tflite/test_models.h"
#include "lite/op_resolver.h"
#include "qat/interpreter.h"
#include "qat/thread_pool.h"

namespace qat::lite {
namespace {

using qat::testing::ChainModel;

// ADD1: float output = input + 1, output shaped like the input (so resizing propagates).
OpRegistration Add1() {
  OpRegistration r;
  r.name = "ADD1";
  r.prepare = [](OpContext& ctx) {
    if (ctx.in(0).type != DType::kFloat32) ctx.fail("float32 only");
    ctx.resize_output(0, ctx.in(0).dims);
    ctx.scratch_bytes = 100;  // exercise scratch planning
  };
  r.eval = [](OpContext& ctx) {
    const float* x = ctx.in(0).as<float>();
    float* y = ctx.out(0).as<float>();
    // The scratch must be usable and must not alias the tensors of this node.
    std::memset(ctx.scratch, 0xAB, ctx.scratch_bytes);
    for (int64_t i = 0; i < ctx.out(0).num_elements(); ++i) y[i] = x[i] + 1.f;
  };
  return r;
}

OpResolver Resolver() {
  OpResolver r;
  r.AddCustom("ADD1", Add1());
  return r;
}

std::unique_ptr<Interpreter> Load(const tfl::ModelDesc& m, const InterpreterOptions& opt = {}) {
  return Interpreter::FromBuffer(tfl::WriteModel(m), Resolver(), opt);
}

TEST(InterpreterBasic, ChainRuns) {
  auto in = Load(ChainModel(5, 16));
  in->AllocateTensors();
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = (float)i;
  in->SetInput(0, x.data(), x.size() * 4);
  in->Invoke();
  const float* y = in->typed_output<float>(0);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(y[i], i + 5.f);
  // Inputs survive Invoke: a second run gives the same result.
  in->Invoke();
  EXPECT_EQ(in->typed_output<float>(0)[3], 8.f);
  EXPECT_EQ(in->typed_input<float>(0)[3], 3.f);
}

TEST(InterpreterBasic, ArenaReusesBuffersByLifetime) {
  // 10 ops on 4 KB activations: without reuse 11 tensors + 10 scratch; with reuse the live set
  // at any step is input + output (persistent) + producer/consumer pair + one scratch.
  auto in = Load(ChainModel(10, 1024));
  in->AllocateTensors();
  EXPECT_LT(in->arena_bytes(), in->unshared_bytes());
  EXPECT_LE(in->arena_bytes(), 4u * 4096 + 128);
  EXPECT_GE(in->arena_bytes(), 3u * 4096);
  // Every data pointer is 64-byte aligned, and tensors live at the same time never overlap.
  for (int k = 0; k < in->nodes_size(); ++k) {
    const auto& ctx = in->node(k);
    const auto* a = static_cast<const uint8_t*>(ctx.inputs[0]->data);
    const auto* b = static_cast<const uint8_t*>(ctx.outputs[0]->data);
    const auto* s = static_cast<const uint8_t*>(ctx.scratch);
    EXPECT_EQ((uintptr_t)a % 64, 0u);
    EXPECT_EQ((uintptr_t)b % 64, 0u);
    EXPECT_EQ((uintptr_t)s % 64, 0u);
    EXPECT_TRUE(a + 4096 <= b || b + 4096 <= a) << "node " << k;
    EXPECT_TRUE(s + 100 <= b || b + 4096 <= s) << "node " << k;
    EXPECT_TRUE(s + 100 <= a || a + 4096 <= s) << "node " << k;
  }
  // And the numbers are still right (scratch writes of 0xAB did not clobber anything).
  std::vector<float> x(1024, 1.f);
  in->SetInput(0, x.data(), x.size() * 4);
  in->Invoke();
  for (int i = 0; i < 1024; ++i) ASSERT_EQ(in->typed_output<float>(0)[i], 11.f);
}

TEST(InterpreterBasic, ResizeInput) {
  auto in = Load(ChainModel(3, 8));
  in->AllocateTensors();
  const size_t small = in->arena_bytes();
  in->ResizeInputTensor(0, {4, 8});
  EXPECT_THROW(in->Invoke(), UsageError);  // must re-allocate first
  in->AllocateTensors();
  EXPECT_GT(in->arena_bytes(), small);
  EXPECT_EQ(in->output_details()[0].shape, (std::vector<int32_t>{4, 8}));
  std::vector<float> x(32, 2.f);
  in->SetInput(0, x.data(), x.size() * 4);
  in->Invoke();
  EXPECT_EQ(in->typed_output<float>(0)[31], 5.f);
  in->ResizeInputTensor(0, {1, 8});
  in->AllocateTensors();
  EXPECT_EQ(in->input(0).bytes, 32u);
  EXPECT_THROW(in->ResizeInputTensor(0, {-1, 8}), UsageError);
  EXPECT_THROW(in->ResizeInputTensor(3, {1}), UsageError);
}

TEST(InterpreterBasic, UnregisteredCustomOpIsNamed) {
  auto bytes = tfl::WriteModel(ChainModel(2, 4, "MyFancyOp"));
  try {
    Interpreter::FromBuffer(bytes, Resolver());
    FAIL() << "loaded a model with an unregistered op";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("custom op 'MyFancyOp' is not registered"), std::string::npos) << msg;
    EXPECT_NE(msg.find("node 0"), std::string::npos) << msg;
  }
}

TEST(InterpreterBasic, UnsupportedBuiltinIsNamed) {
  auto m = ChainModel(1, 4);
  m.subgraphs[0].ops[0].builtin_code = 150;  // GELU: qat has no kernel
  m.subgraphs[0].ops[0].custom_code.clear();
  try {
    Interpreter::FromBuffer(tfl::WriteModel(m), Resolver());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("builtin op GELU (code 150)"), std::string::npos) << e.what();
  }
}

TEST(InterpreterBasic, PrepareErrorsNameTheNode) {
  auto m = ChainModel(2, 4);
  m.subgraphs[0].tensors[0].type = tfl::TensorType::kInt32;
  auto in = Load(m);
  try {
    in->AllocateTensors();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "node 0 (ADD1): float32 only");
  }
}

TEST(InterpreterBasic, InputOutputDetails) {
  auto in = Load(ChainModel(1, 6));
  in->AllocateTensors();
  auto d = in->input_details();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].name, "input");
  EXPECT_EQ(d[0].index, 0);
  EXPECT_EQ(d[0].type, DType::kFloat32);
  EXPECT_EQ(d[0].bytes, 24u);
  EXPECT_TRUE(d[0].scales.empty());
  EXPECT_EQ(in->output_details()[0].name, "output");
  std::vector<float> x(5);
  EXPECT_THROW(in->SetInput(0, x.data(), 20), UsageError);
  EXPECT_THROW(in->typed_input<int8_t>(0), UsageError);
  EXPECT_THROW(in->input(1), UsageError);
}

TEST(InterpreterBasic, OverrideAndThreads) {
  InterpreterOptions opt;
  opt.threads = 3;
  opt.requant = RequantMode::kXnnpack;
  auto in = Load(ChainModel(1, 4), opt);
  EXPECT_EQ(in->node(0).pool->size(), 3);
  EXPECT_EQ(in->node(0).requant, RequantMode::kXnnpack);
  in->set_requant_mode(RequantMode::kTflite);
  EXPECT_EQ(in->node(0).requant, RequantMode::kTflite);
  EXPECT_THROW(in->Invoke(), UsageError);
  opt.threads = 0;
  EXPECT_THROW(Load(ChainModel(1, 4), opt), UsageError);
}

TEST(InterpreterBasic, ArenaLimit) {
  InterpreterOptions opt;
  opt.max_arena_bytes = 1000;
  auto in = Load(ChainModel(2, 1024), opt);
  EXPECT_THROW(in->AllocateTensors(), ShapeError);
}

TEST(InterpreterBasic, RequantModeNames) {
  EXPECT_EQ(ParseRequantMode("tflite"), RequantMode::kTflite);
  EXPECT_EQ(ParseRequantMode("xnnpack"), RequantMode::kXnnpack);
  EXPECT_STREQ(RequantModeName(RequantMode::kXnnpack), "xnnpack");
  EXPECT_THROW(ParseRequantMode("fast"), UsageError);
  EXPECT_EQ(InterpreterOptions{}.requant, RequantMode::kTflite);
}

TEST(InterpreterBasic, DequantizeHelpers) {
  EXPECT_FLOAT_EQ(Dequantize(10, 0.5f, 4), 3.f);
  LiteTensor t;
  t.name = "w";
  t.type = DType::kInt8;
  t.dims = {2, 3};
  int8_t v[6] = {1, 2, 3, -1, -2, -3};
  t.data = v;
  t.bytes = 6;
  t.quant.scale = {0.5f, 2.f};
  t.quant.zero_point = {1, -1};
  t.quant.quantized_dimension = 0;
  auto r = Dequantize(t);
  EXPECT_EQ(r, (std::vector<float>{0.f, 0.5f, 1.f, 0.f, -2.f, -4.f}));
  t.quant.quantized_dimension = 1;  // dim 1 has 3 entries, 2 scales: mismatch
  EXPECT_THROW(Dequantize(t), UsageError);
  t.quant = {};
  EXPECT_THROW(Dequantize(t), UsageError);
}

TEST(InterpreterBasic, FromFileMapsConstants) {
  // Constants alias the mapped file; a constant input of the custom op reads through it.
  auto m = ChainModel(1, 4);
  m.subgraphs[0].tensors.push_back({});
  auto& c = m.subgraphs[0].tensors.back();
  c.name = "const";
  c.shape = {1, 4};
  std::vector<float> cv = {1, 2, 3, 4};
  c.buffer = m.AddBuffer(std::span<const float>(cv));
  m.subgraphs[0].ops[0].inputs = {2};  // read the constant instead of the graph input
  const std::string path = std::string(QAT_BINARY_DIR) + "/interp_const.tflite";
  tfl::WriteModelFile(m, path);
  auto in = Interpreter::FromFile(path, Resolver());
  in->AllocateTensors();
  in->Invoke();
  EXPECT_TRUE(in->tensor(2).is_const);
  const auto* base = in->model().data();
  const auto* p = static_cast<const uint8_t*>(in->tensor(2).data);
  EXPECT_TRUE(p >= base && p < base + in->model().size());
  EXPECT_EQ(in->typed_output<float>(0)[3], 5.f);
}

}  // namespace
}  // namespace qat::lite
