// Interpreter::set_profiling / profile(): every op appears once in execution order with its
// builtin name and output shape, times are non-negative, a run's op times add up to its total,
// shares add up to 1, the per-type summary groups ops, and profiling changes no result.
// (No assertion on how long anything takes.)
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "../tflite/test_models.h"
#include "lite/op_resolver.h"
#include "qat/interpreter.h"

namespace qat::lite {
namespace {

using qat::testing::ChainModel;
using qat::testing::SmallInt8Model;

OpRegistration Add1() {
  OpRegistration r;
  r.name = "ADD1";
  r.prepare = [](OpContext& ctx) { ctx.resize_output(0, ctx.in(0).dims); };
  r.eval = [](OpContext& ctx) {
    const float* x = ctx.in(0).as<float>();
    float* y = ctx.out(0).as<float>();
    for (int64_t i = 0; i < ctx.out(0).num_elements(); ++i) y[i] = x[i] + 1.f;
  };
  return r;
}

std::vector<int8_t> RunInt8(Interpreter& in) {
  std::vector<int8_t> x(in.input(0).bytes);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (int8_t)(i * 29 % 251 - 125);
  in.SetInput(0, x.data(), x.size());
  in.Invoke();
  const LiteTensor& y = in.output(0);
  return std::vector<int8_t>(y.as<int8_t>(), y.as<int8_t>() + y.bytes);
}

TEST(InterpreterProfile, OffByDefaultRecordsNothing) {
  auto in = Interpreter::FromBuffer(tfl::WriteModel(SmallInt8Model()));
  in->AllocateTensors();
  EXPECT_FALSE(in->profiling());
  RunInt8(*in);
  const InvokeProfile p = in->profile();
  EXPECT_EQ(p.runs, 0);
  ASSERT_EQ(p.ops.size(), 4u);  // the ops are listed, with zero times
  for (const auto& op : p.ops) EXPECT_EQ(op.median_ms, 0.0);
  EXPECT_TRUE(p.invoke_ms.empty());
  EXPECT_EQ(p.sum_of_medians_ms, 0.0);
}

TEST(InterpreterProfile, EveryOpWithNameShapeAndTimes) {
  auto in = Interpreter::FromBuffer(tfl::WriteModel(SmallInt8Model()));
  in->AllocateTensors();
  const std::vector<int8_t> plain = RunInt8(*in);
  in->set_profiling(true);
  EXPECT_TRUE(in->profiling());
  constexpr int kRuns = 7;
  std::vector<double> outside(kRuns);  // each Invoke timed by the caller around the call
  for (int r = 0; r < kRuns; ++r) {
    std::vector<int8_t> x(in->input(0).bytes);
    for (size_t i = 0; i < x.size(); ++i) x[i] = (int8_t)(i * 29 % 251 - 125);
    in->SetInput(0, x.data(), x.size());
    const auto t0 = std::chrono::steady_clock::now();
    in->Invoke();
    outside[r] = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    const LiteTensor& y = in->output(0);
    EXPECT_EQ(std::vector<int8_t>(y.as<int8_t>(), y.as<int8_t>() + y.bytes), plain) << "profiling changed the output";
  }
  const InvokeProfile p = in->profile();
  EXPECT_EQ(p.runs, kRuns);
  ASSERT_EQ((int)p.ops.size(), in->nodes_size());
  const std::vector<std::string> names = {"CONV_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"};
  const std::vector<std::vector<int32_t>> shapes = {{1, 4, 4, 3}, {1, 48}, {1, 4}, {1, 4}};
  double share = 0;
  for (size_t k = 0; k < p.ops.size(); ++k) {
    const OpProfile& op = p.ops[k];
    EXPECT_EQ(op.node, (int)k);
    EXPECT_EQ(op.op, names[k]);
    EXPECT_EQ(op.output_shape, shapes[k]);
    EXPECT_GE(op.min_ms, 0.0);
    EXPECT_LE(op.min_ms, op.median_ms);
    EXPECT_LE(op.median_ms, op.max_ms);
    EXPECT_LE(op.min_ms, op.mean_ms);
    EXPECT_LE(op.mean_ms, op.max_ms);
    EXPECT_GE(op.share, 0.0);
    share += op.share;
  }
  EXPECT_GT(p.sum_of_medians_ms, 0.0);  // steady_clock advances over 4 ops
  EXPECT_NEAR(share, 1.0, 1e-9);
  // A run's op times add up to its total, which lies inside the caller's interval around Invoke
  // (same monotonic clock, nested intervals: no timing assumption). The op means add up to the
  // mean total.
  ASSERT_EQ(p.invoke_ms.size(), (size_t)kRuns);
  double mean_total = 0, sum_of_means = 0;
  for (int r = 0; r < kRuns; ++r) {
    EXPECT_GT(p.invoke_ms[r], 0.0);
    EXPECT_LE(p.invoke_ms[r], outside[r] + 1e-6) << "run " << r;
    mean_total += p.invoke_ms[r] / kRuns;
  }
  for (const auto& op : p.ops) sum_of_means += op.mean_ms;
  EXPECT_NEAR(sum_of_means, mean_total, 1e-9 * std::max(1.0, mean_total));
  std::vector<double> sorted = p.invoke_ms;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(p.invoke_median_ms, sorted[kRuns / 2]);
  // One entry per type here (four distinct ops), shares again summing to 1.
  ASSERT_EQ(p.by_type.size(), 4u);
  double type_share = 0;
  for (size_t i = 0; i < p.by_type.size(); ++i) {
    EXPECT_EQ(p.by_type[i].count, 1);
    type_share += p.by_type[i].share;
    if (i) {
      EXPECT_GE(p.by_type[i - 1].median_ms, p.by_type[i].median_ms) << "slowest first";
    }
  }
  EXPECT_NEAR(type_share, 1.0, 1e-9);
}

TEST(InterpreterProfile, PerTypeSummaryGroupsRepeatedOps) {
  OpResolver r;
  r.AddCustom("ADD1", Add1());
  auto in = Interpreter::FromBuffer(tfl::WriteModel(ChainModel(6, 4096)), r);
  in->AllocateTensors();
  in->set_profiling(true);
  for (int i = 0; i < 4; ++i) in->Invoke();
  EXPECT_EQ(in->typed_output<float>(0)[0], 6.f);
  const InvokeProfile p = in->profile();
  ASSERT_EQ(p.ops.size(), 6u);
  for (const auto& op : p.ops) {
    EXPECT_EQ(op.op, "ADD1");
    EXPECT_EQ(op.output_shape, (std::vector<int32_t>{1, 4096}));
  }
  ASSERT_EQ(p.by_type.size(), 1u);
  EXPECT_EQ(p.by_type[0].op, "ADD1");
  EXPECT_EQ(p.by_type[0].count, 6);
  EXPECT_NEAR(p.by_type[0].median_ms, p.sum_of_medians_ms, 1e-12);
  EXPECT_NEAR(p.by_type[0].share, 1.0, 1e-9);
}

TEST(InterpreterProfile, ClearedBySwitchingOnAndByAllocate) {
  OpResolver r;
  r.AddCustom("ADD1", Add1());
  auto in = Interpreter::FromBuffer(tfl::WriteModel(ChainModel(3, 16)), r);
  in->AllocateTensors();
  in->set_profiling(true);
  in->Invoke();
  in->Invoke();
  EXPECT_EQ(in->profile().runs, 2);
  in->set_profiling(false);  // keeps what was recorded; runs while off are not recorded
  in->Invoke();
  EXPECT_EQ(in->profile().runs, 2);
  in->set_profiling(true);  // clears
  EXPECT_EQ(in->profile().runs, 0);
  in->Invoke();
  EXPECT_EQ(in->profile().runs, 1);
  in->ResizeInputTensor(0, {2, 16});
  in->AllocateTensors();  // new shapes: old times dropped, profiling stays on
  EXPECT_TRUE(in->profiling());
  EXPECT_EQ(in->profile().runs, 0);
  in->Invoke();
  const InvokeProfile p = in->profile();
  EXPECT_EQ(p.runs, 1);
  EXPECT_EQ(p.ops[2].output_shape, (std::vector<int32_t>{2, 16}));
  in->ClearProfile();
  EXPECT_EQ(in->profile().runs, 0);
}

TEST(InterpreterProfile, FailedRunIsNotRecorded) {
  OpResolver r;
  OpRegistration bad = Add1();
  bad.name = "BAD";
  bad.eval = [](OpContext& ctx) { ctx.fail("eval failed"); };
  r.AddCustom("BAD", bad);
  auto in = Interpreter::FromBuffer(tfl::WriteModel(ChainModel(2, 8, "BAD")), r);
  in->AllocateTensors();
  in->set_profiling(true);
  EXPECT_THROW(in->Invoke(), Error);
  const InvokeProfile p = in->profile();
  EXPECT_EQ(p.runs, 0);
  EXPECT_TRUE(p.invoke_ms.empty());
}

}  // namespace
}  // namespace qat::lite
