// Float training kernels on SmallCNN's layer shapes at batch 128 (plus a MobileNet-tiny depthwise
// layer), forward and backward, with GFLOP/s (convs, matmul) or GB/s (memory-bound kernels).
//   ./build/bench/train_kernels_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// Threads: qat's default (hardware concurrency); QAT_THREADS=n overrides. Quote medians.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <random>
#include <vector>

#include "ops/kernels/float_kernels.h"
#include "qat/thread_pool.h"

using namespace qat::ops::kernels;

namespace {

constexpr int kBatch = 128;

std::vector<float> rnd(size_t n, uint32_t seed = 1) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

void set_threads() {
  static bool done = [] {
    if (const char* t = std::getenv("QAT_THREADS")) qat::set_num_threads(std::atoi(t));
    return true;
  }();
  (void)done;
}

// SmallCNN convs: 0 = conv3x3 1->32 @28, 1 = 32->64 @14, 2 = 64->128 @7 (SAME); 3 = MobileNet-tiny
// depthwise 3x3 on 28x28x32.
ConvGeom layer(int i) {
  const int H[] = {28, 14, 7, 28}, C[] = {1, 32, 64, 32}, O[] = {32, 64, 128, 32};
  int h = H[i];
  return ConvGeom{kBatch, h, h, C[i], 3, 3, O[i], 1, 1, 1, 1, 1, 1, 1, 1, h, h, i == 3};
}
double conv_flops(const ConvGeom& g) {
  double per_out = 2.0 * g.KH * g.KW * (g.depthwise ? 1 : g.C);
  return per_out * g.N * g.OH * g.OW * g.O;
}

enum Dir { kFwd, kBwdData, kBwdWeights };

void BM_Conv(benchmark::State& st) {
  set_threads();
  const ConvGeom g = layer((int)st.range(0));
  const Dir dir = (Dir)st.range(1);
  set_conv_winograd(st.range(2) != 0);
  auto x = rnd((size_t)g.N * g.H * g.W * g.C), y = rnd((size_t)g.N * g.OH * g.OW * g.O, 2);
  auto w = rnd((size_t)g.KH * g.KW * (g.depthwise ? g.O : g.C * g.O), 3);
  for (auto _ : st) {
    if (dir == kFwd) conv2d_forward(g, x.data(), w.data(), nullptr, y.data());
    if (dir == kBwdData) conv2d_backward_data(g, y.data(), w.data(), x.data());
    if (dir == kBwdWeights) conv2d_backward_weights(g, x.data(), y.data(), w.data(), nullptr);
    benchmark::ClobberMemory();
  }
  st.counters["GFLOP/s"] = benchmark::Counter(conv_flops(g) * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  set_conv_winograd(true);
}
// Args: layer, direction (0 fwd, 1 bwd data, 2 bwd weights), winograd (1 where it applies).
BENCHMARK(BM_Conv)
    ->ArgNames({"layer", "dir", "wino"})
    ->Args({0, kFwd, 1})->Args({0, kBwdWeights, 1})
    ->Args({1, kFwd, 1})->Args({1, kFwd, 0})->Args({1, kBwdData, 1})->Args({1, kBwdData, 0})->Args({1, kBwdWeights, 1})
    ->Args({2, kFwd, 1})->Args({2, kFwd, 0})->Args({2, kBwdData, 1})->Args({2, kBwdData, 0})->Args({2, kBwdWeights, 1})
    ->Args({3, kFwd, 1})->Args({3, kBwdData, 1})->Args({3, kBwdWeights, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// Dense 128->10 forward (x W) and its two backward GEMMs.
void BM_Matmul(benchmark::State& st) {
  set_threads();
  auto a = rnd(kBatch * 128), w = rnd(128 * 10, 2), c = rnd(kBatch * 128, 3);
  const int which = (int)st.range(0);
  for (auto _ : st) {
    if (which == 0) matmul(false, false, kBatch, 10, 128, 1.f, a.data(), 128, w.data(), 10, 0.f, c.data(), 10);
    if (which == 1) matmul(true, false, 128, 10, kBatch, 1.f, a.data(), 128, c.data(), 10, 0.f, w.data(), 10);
    if (which == 2) matmul(false, true, kBatch, 128, 10, 1.f, c.data(), 10, w.data(), 10, 0.f, a.data(), 128);
    benchmark::ClobberMemory();
  }
  st.counters["GFLOP/s"] = benchmark::Counter(2.0 * kBatch * 128 * 10 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_Matmul)->ArgName("fwd0_dw1_dx2")->DenseRange(0, 2)->Unit(benchmark::kMicrosecond)->UseRealTime();

// Memory-bound kernels on the 128x28x28x32 conv1 output (12.8 MB): GB/s of compulsory traffic.
const PoolGeom kPool1{kBatch, 28, 28, 32, 2, 2, 2, 2, 0, 0, 0, 0, 14, 14};
constexpr size_t kAct1 = (size_t)kBatch * 28 * 28 * 32, kPooled1 = kAct1 / 4;

void BM_MaxPool(benchmark::State& st) {
  set_threads();
  auto x = rnd(kAct1), y = rnd(kPooled1);
  std::vector<int32_t> am(kPooled1);
  max_pool_forward(kPool1, x.data(), y.data(), am.data());
  const bool fwd = st.range(0) == 0;
  for (auto _ : st) {
    if (fwd) max_pool_forward(kPool1, x.data(), y.data(), am.data());
    else max_pool_backward(kPool1, y.data(), am.data(), x.data());
    benchmark::ClobberMemory();
  }
  st.counters["GB/s"] = benchmark::Counter((kAct1 + 2 * kPooled1) * 4e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MaxPool)->ArgName("bwd")->DenseRange(0, 1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_BatchNorm(benchmark::State& st) {
  set_threads();
  const int64_t rows = kAct1 / 32;
  auto x = rnd(kAct1), y = rnd(kAct1, 2), dx = rnd(kAct1, 3), g = rnd(32, 4), b = rnd(32, 5);
  std::vector<float> m(32), v(32), dg(32), db(32);
  const int mode = (int)st.range(0);  // 0 fwd, 1 bwd, 2 fwd+ReLU, 3 bwd+ReLU
  const Act act = mode >= 2 ? Act::kRelu : Act::kNone;
  batch_norm_act_forward_training(rows, 32, x.data(), g.data(), b.data(), 1e-3f, act, y.data(), m.data(), v.data());
  for (auto _ : st) {
    if (mode % 2 == 0)
      batch_norm_act_forward_training(rows, 32, x.data(), g.data(), b.data(), 1e-3f, act, y.data(), m.data(), v.data());
    else
      batch_norm_act_backward(rows, 32, x.data(), y.data(), y.data(), g.data(), m.data(), v.data(), 1e-3f, act,
                              dx.data(), dg.data(), db.data());
    benchmark::ClobberMemory();
  }
  double bytes = (mode % 2 == 0 ? 2.0 : 3.0 + (act != Act::kNone)) * kAct1 * 4;
  st.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_BatchNorm)->ArgName("mode")->DenseRange(0, 3)->Unit(benchmark::kMillisecond)->UseRealTime();

// BN + ReLU + 2x2 max pool fused (SmallCNN block 1), forward and backward.
void BM_BnReluPoolFused(benchmark::State& st) {
  set_threads();
  auto x = rnd(kAct1), dx = rnd(kAct1, 2), q = rnd(kPooled1, 3), dq = rnd(kPooled1, 4), g = rnd(32, 5), b = rnd(32, 6);
  std::vector<int32_t> am(kPooled1);
  std::vector<float> m(32), v(32), dg(32), db(32);
  batch_norm_act_max_pool_forward_training(kPool1, x.data(), g.data(), b.data(), 1e-3f, Act::kRelu, q.data(),
                                           am.data(), m.data(), v.data());
  const bool fwd = st.range(0) == 0;
  for (auto _ : st) {
    if (fwd)
      batch_norm_act_max_pool_forward_training(kPool1, x.data(), g.data(), b.data(), 1e-3f, Act::kRelu, q.data(),
                                               am.data(), m.data(), v.data());
    else
      batch_norm_act_max_pool_backward(kPool1, x.data(), q.data(), dq.data(), am.data(), g.data(), m.data(), v.data(),
                                       1e-3f, Act::kRelu, dx.data(), dg.data(), db.data());
    benchmark::ClobberMemory();
  }
  st.counters["GB/s"] = benchmark::Counter((2.0 * kAct1 + 2 * kPooled1) * 4e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_BnReluPoolFused)->ArgName("bwd")->DenseRange(0, 1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
