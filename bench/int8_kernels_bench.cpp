// Google Benchmark of qat's optimised integer kernels (src/kernels/optimized/) on the layer shapes
// of MobileNet-v1 (224x224) and SmallCNN (28x28), plus the core's measured peak.
//
//   int8_kernels_bench [--benchmark_filter=Conv] [--benchmark_min_time=0.2s]
//
// Counters: GOPs (2 ops per multiply-accumulate, per second, 1e9) and peak_frac, the fraction of
// the peak measured at start-up by BM_Peak_vpmaddwd: 12 independent vpmaddwd+vpaddd chains on one
// core, the instruction pair of qat's exact int16 AVX2 GEMM. BM_Peak_u8s8_mlas measures MLAS' inexact
// vpmaddubsw+vpmaddwd sequence for comparison (it saturates to int16; qat uses it only within its
// split bounds), BM_Peak_split the split GEMM's step (2 vpmaddubsw + vpaddw + vpmaddwd + vpaddd per
// 64 MACs, exact within the per-channel bounds, src/kernels/x86/int8_x86.h).
// On an AVX-512 VNNI CPU, BM_Peak_vpdpbusd measures 16 independent vpdpbusd zmm chains, and conv
// rows with path:2 (the VNNI GEMM) report peak_frac against that peak instead. Where AMX-INT8 is
// usable (and QAT_NO_AMX unset) that path runs its 16 x 32 blocks on tiles: BM_Peak_tdpbusd measures
// four independent tdpbusd tiles, and those rows also report amx_frac against it (peak_frac then
// exceeds 1: the vpdpbusd peak is no bound for the tiles).
// Kernels run on one thread unless the benchmark name says threads:2 (its own qat::ThreadPool).
// Timing is the process CPU time of each iteration divided by the thread count (manual time):
// the machine this was written on is shared, and CPU time is what an idle machine's wall time
// would be (minus lost parallelism, which shows up as extra CPU time in the pool's hand-offs).
#include <benchmark/benchmark.h>

#include <algorithm>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>
#include <functional>
#include <memory>
#include <random>
#include <vector>

#include "bench_util.h"
#include "kernels/dispatch.h"
#include "kernels/optimized/conv.h"
#include "kernels/optimized/depthwise_conv.h"
#include "kernels/optimized/pooling.h"
#include "kernels/optimized/winograd_conv.h"
#include "kernels/reference/conv.h"
#include "kernels/x86/peak_x86.h"
#include "qat/cpu_features.h"
#include "qat/interpreter.h"
#include "qat/thread_pool.h"

namespace {

using namespace qat::kernels;
using qat::bench::TimedLoop;
using qat::ThreadPool;

double PeakGops();
double PeakVnniGops();

double PeakSplitGops();

// peak: the per-core peak peak_frac divides by (default: the AVX2 vpmaddwd peak; AVX2 rows also get
// split_frac, against the split GEMM step's peak, the fastest exact AVX2 sequence).
void SetCounters(benchmark::State& state, double macs, int threads, double peak = 0) {
  if (peak == 0) {
    peak = PeakGops();
    state.counters["split_frac"] = benchmark::Counter(2 * macs * state.iterations() / 1e9 / (PeakSplitGops() * threads),
                                                      benchmark::Counter::kIsRate);
  }
  state.counters["GOPs"] = benchmark::Counter(2 * macs * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["peak_frac"] =
      benchmark::Counter(2 * macs * state.iterations() / 1e9 / (peak * threads), benchmark::Counter::kIsRate);
}

double PeakGops() {
  static const double peak = [] {
    if (!qat::isa_supported(qat::Isa::kAvx2)) return 0.0;
    double best = 0;
    for (int i = 0; i < 5; ++i) best = std::max(best, x86::PeakMaddwdGmacs(2000000));
    return 2 * best;
  }();
  return peak;
}

double PeakSplitGops() {
  static const double peak = [] {
    if (!qat::isa_supported(qat::Isa::kAvx2)) return 1.0;
    double best = 0;
    for (int i = 0; i < 5; ++i) best = std::max(best, x86::PeakSplitGmacs(2000000));
    return 2 * best;
  }();
  return peak;
}

double PeakVnniGops() {
  static const double peak = [] {
    if (!qat::isa_supported(qat::Isa::kAvx512Vnni)) return 0.0;
    double best = 0;
    // Best of 20: the first runs of a cold core can be slow (frequency / AVX-512 licence ramp;
    // seen on a Sapphire Rapids VM: 588 at start-up vs 697 GOP/s in BM_Peak_vpdpbusd).
    for (int i = 0; i < 20; ++i) best = std::max(best, x86::PeakVnniGmacs(1000000));
    return 2 * best;
  }();
  return peak;
}

void BM_Peak_vpdpbusd(benchmark::State& state) {
  if (!qat::isa_supported(qat::Isa::kAvx512Vnni)) return state.SkipWithError("no AVX-512 VNNI");
  double g = 0;
  for (auto _ : state) g = std::max(g, x86::PeakVnniGmacs(500000));
  state.counters["GOPs"] = 2 * g;
  state.counters["peak_frac"] = 2 * g / PeakVnniGops();
  state.counters["avx2_peak_ratio"] = 2 * g / PeakGops();
}
BENCHMARK(BM_Peak_vpdpbusd)->Iterations(20)->Unit(benchmark::kMillisecond);

double PeakAmxGops() {
  static const double peak = [] {
    if (!qat::amx_int8_usable()) return 0.0;
    double best = 0;
    for (int i = 0; i < 20; ++i) best = std::max(best, x86::PeakAmxGmacs(100000));
    return 2 * best;
  }();
  return peak;
}

void BM_Peak_tdpbusd(benchmark::State& state) {
  if (!qat::amx_int8_usable()) return state.SkipWithError("no AMX-INT8 (or the OS did not grant the tile state)");
  double g = 0;
  for (auto _ : state) g = std::max(g, x86::PeakAmxGmacs(50000));
  state.counters["GOPs"] = 2 * g;
  state.counters["peak_frac"] = 2 * g / PeakAmxGops();
  state.counters["vnni_peak_ratio"] = 2 * g / PeakVnniGops();
}
BENCHMARK(BM_Peak_tdpbusd)->Iterations(20)->Unit(benchmark::kMillisecond);

void BM_Peak_vpmaddwd(benchmark::State& state) {
  if (!qat::isa_supported(qat::Isa::kAvx2)) return state.SkipWithError("no AVX2");
  double g = 0;
  for (auto _ : state) g = std::max(g, x86::PeakMaddwdGmacs(1000000));
  state.counters["GOPs"] = 2 * g;
  state.counters["peak_frac"] = 2 * g / PeakGops();
}
BENCHMARK(BM_Peak_vpmaddwd)->Iterations(20)->Unit(benchmark::kMillisecond);

void BM_Peak_u8s8_mlas(benchmark::State& state) {
  if (!qat::isa_supported(qat::Isa::kAvx2)) return state.SkipWithError("no AVX2");
  double g = 0;
  for (auto _ : state) g = std::max(g, x86::PeakU8S8Gmacs(1000000));
  state.counters["GOPs"] = 2 * g;
  state.counters["peak_frac"] = 2 * g / PeakGops();
}
BENCHMARK(BM_Peak_u8s8_mlas)->Iterations(20)->Unit(benchmark::kMillisecond);

void BM_Peak_split(benchmark::State& state) {
  if (!qat::isa_supported(qat::Isa::kAvx2)) return state.SkipWithError("no AVX2");
  double g = 0;
  for (auto _ : state) g = std::max(g, x86::PeakSplitGmacs(1000000));
  state.counters["GOPs"] = 2 * g;
  state.counters["peak_frac"] = 2 * g / PeakGops();
}
BENCHMARK(BM_Peak_split)->Iterations(20)->Unit(benchmark::kMillisecond);

struct Layer {
  int batches, h, w, ic, oc, k, stride;
};

reference::ConvParams MakeConv(const Layer& l) {
  reference::ConvParams p;
  p.batches = l.batches;
  p.input_h = l.h;
  p.input_w = l.w;
  p.input_c = l.ic;
  p.output_c = l.oc;
  p.filter_h = p.filter_w = l.k;
  p.stride_h = p.stride_w = l.stride;
  reference::ComputePadding(reference::Padding::kSame, l.h, l.k, l.stride, 1, &p.output_h, &p.pad_top);
  reference::ComputePadding(reference::Padding::kSame, l.w, l.k, l.stride, 1, &p.output_w, &p.pad_left);
  p.input_offset = 128;
  p.output_offset = -2;
  p.act_min = -128;
  p.act_max = 127;
  return p;
}

template <class T>
std::vector<T> Random(size_t n, int seed) {
  std::mt19937 rng(seed);
  std::vector<T> v(n);
  for (auto& x : v) x = (T)std::uniform_int_distribution<int>(-127, 127)(rng);
  return v;
}

// Weights as a trained, per-channel quantized layer has them: each output channel's values heavy
// tailed (Laplace) around 0 and scaled so that its largest |w| is 127. Uniform weights in [-127, 127]
// are far from that: every same-sign sum of four is near its maximum, which sets the AVX2 split
// GEMM's bounds near their floor (64) and sends it to the int16 GEMM; on MobileNet-v1's real
// weights the bounds are mostly 100-140 (docs/kernels.md).
std::vector<int8_t> TrainedLike(int oc, size_t per_oc, int seed) {
  std::mt19937 rng(seed);
  std::exponential_distribution<double> ex(1.0);
  std::vector<double> c(per_oc);
  std::vector<int8_t> w((size_t)oc * per_oc);
  for (int o = 0; o < oc; ++o) {
    double m = 1e-9;
    for (auto& x : c) {
      x = (rng() & 1 ? 1 : -1) * ex(rng);
      m = std::max(m, std::abs(x));
    }
    for (size_t i = 0; i < per_oc; ++i) w[o * per_oc + i] = (int8_t)std::lround(c[i] * 127 / m);
  }
  return w;
}

// Activations as a ReLU layer leaves them (int8, zero point -128): 0 at -128 for half of them, the
// rest |N(0, 45)| above it, so about 0.5 % exceed the midpoint (u > 128, the AVX2 split GEMM's
// residuals; MobileNet-v1's layers measure 0.2-1.6 %).
std::vector<int8_t> ReluLike(size_t n, int seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> nd(0.0, 45.0);
  std::vector<int8_t> v(n);
  for (auto& x : v) x = (int8_t)std::clamp<long>(std::lround(std::max(0.0, nd(rng))) - 128, -128, 127);
  return v;
}

// Activations closer to MobileNet-v1's pointwise inputs (`mode` 2 rows): ReLU zeros for half of
// them, and most channels narrow (|N(0, 12)|) with one in eight hot (|N(0, 60)|): after the split
// bounds are tuned to them the residuals are a few tenths of a per cent, as on the model
// (112x112x32 -> 64: 0.28 %), where ReluLike's uniform spread leaves 3.5 %.
std::vector<int8_t> HotChannels(size_t n, int channels, int seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> narrow(0.0, 12.0), hot(0.0, 60.0);
  std::vector<int8_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    const bool is_hot = (i % channels) % 8 == 3;
    const double x = rng() & 1 ? 0.0 : std::abs(is_hot ? hot(rng) : narrow(rng));
    v[i] = (int8_t)std::clamp<long>(std::lround(x) - 128, -128, 127);
  }
  return v;
}

// args: h, w, ic, oc, k, stride, batches, threads, path (0 portable, 1 avx2, 2 avx512vnni),
// mode (0 tflite, 1 xnnpack, 2 MobileNet-like: tflite with a fused ReLU (act_min = Z_out: the short
// / exact FMA output stage) on HotChannels activations). path 2 on a layer without VNNI panels
// (uint8 weights that do not fit int8) runs AVX2; first layers run the VNNI im2col GEMM.
void BM_Conv(benchmark::State& state) {
  const Layer l{(int)state.range(6), (int)state.range(0), (int)state.range(1), (int)state.range(2),
                (int)state.range(3), (int)state.range(4), (int)state.range(5)};
  const int threads = (int)state.range(7);
  const KernelPath path = (KernelPath)state.range(8);
  if (path == KernelPath::kAvx2 && !qat::isa_supported(qat::Isa::kAvx2)) return state.SkipWithError("no AVX2");
  if (path == KernelPath::kAvx512Vnni && !qat::isa_supported(qat::Isa::kAvx512Vnni))
    return state.SkipWithError("no AVX-512 VNNI");
  reference::ConvParams p = MakeConv(l);
  const int mode = (int)state.range(9);
  p.requant = mode == 1 ? RequantMode::kXnnpack : RequantMode::kTflite;
  if (mode == 2) p.act_min = p.output_offset;
  const size_t in_n = (size_t)l.batches * l.h * l.w * l.ic;
  auto input = mode == 2 ? HotChannels(in_n, l.ic, 1) : ReluLike(in_n, 1);
  auto filter = TrainedLike(l.oc, (size_t)l.k * l.k * l.ic, 2);
  std::vector<int32_t> bias(l.oc, 100);
  std::vector<Requant> rq(l.oc, MakeRequant(0.0007));
  auto pc = optimized::PackConvInt8(p, rq.data(), l.oc, filter.data(), bias.data());
  std::vector<int8_t> out((size_t)l.batches * p.output_h * p.output_w * l.oc);
  std::vector<uint8_t> scratch(optimized::ConvScratchBytes(pc));
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  TimedLoop(state, threads, [&] { optimized::ConvInt8(pc, input.data(), out.data(), scratch.data(), pool.get(), path); });
  const bool vnni = path == KernelPath::kAvx512Vnni && (pc.vnni || pc.vnni_im2col);
  const double macs = (double)l.batches * p.output_h * p.output_w * l.oc * l.k * l.k * l.ic;
  SetCounters(state, macs, threads, vnni ? PeakVnniGops() : 0);
  // The VNNI path's 16-pixel x 32-channel blocks run on AMX tiles where it is enabled (QAT_NO_AMX=1
  // keeps vpdpbusd): amx_frac is the fraction of the tdpbusd peak.
  if (vnni && qat::amx_int8_enabled()) {
    state.counters["amx"] = 1;
    state.counters["amx_frac"] =
        benchmark::Counter(2 * macs * state.iterations() / 1e9 / (PeakAmxGops() * threads), benchmark::Counter::kIsRate);
  }
}

void ConvArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"h", "w", "ic", "oc", "k", "s", "b", "threads", "path", "mode"});
  const std::vector<std::vector<int64_t>> layers = {
      // MobileNet-v1 1.0 at 224: first conv, pointwise layers
      {224, 224, 3, 32, 3, 2, 1},  {112, 112, 32, 64, 1, 1, 1}, {56, 56, 128, 128, 1, 1, 1},
      // MobileNet-v1 0.5: first conv and the small-depth pointwise layers
      {224, 224, 3, 16, 3, 2, 1},  {112, 112, 16, 32, 1, 1, 1}, {56, 56, 32, 64, 1, 1, 1},
      {28, 28, 256, 256, 1, 1, 1}, {14, 14, 512, 512, 1, 1, 1}, {7, 7, 1024, 1024, 1, 1, 1},
      // large 3x3 convolutions
      {56, 56, 64, 64, 3, 1, 1},   {28, 28, 128, 128, 3, 1, 1}, {28, 28, 256, 256, 3, 2, 1},
      // SmallCNN
      {28, 28, 1, 32, 3, 1, 1},    {14, 14, 32, 64, 3, 1, 1},   {7, 7, 64, 128, 3, 1, 1},
      {14, 14, 32, 64, 3, 1, 64},  {7, 7, 64, 128, 3, 1, 64}};
  for (auto l : layers) {
    for (int path : {1, 2})
      for (int threads : {1, 2}) {
        auto a = l;
        a.insert(a.end(), {threads, path, 0});
        b->Args(a);
      }
  }
  // Acceptance 2's large 1x1 and 3x3 layers on the VNNI path with the XNNPACK requantization too
  // (fp32 rounding, ORT's arithmetic; mode 0 is TFLite's without a ReLU, the 64-bit stage).
  for (auto l : std::vector<std::vector<int64_t>>{{56, 56, 128, 128, 1, 1, 1},
                                                  {14, 14, 512, 512, 1, 1, 1},
                                                  {7, 7, 1024, 1024, 1, 1, 1},
                                                  {56, 56, 64, 64, 3, 1, 1},
                                                  {28, 28, 128, 128, 3, 1, 1},
                                                  {28, 28, 256, 256, 3, 2, 1}}) {
    l.insert(l.end(), {1, 2, 1});
    b->Args(l);
  }
  // Portable path and the XNNPACK requantization on one layer each.
  b->Args({28, 28, 256, 256, 1, 1, 1, 1, 0, 0});
  b->Args({28, 28, 256, 256, 1, 1, 1, 1, 1, 1});
  b->Args({112, 112, 32, 64, 1, 1, 1, 1, 1, 1});
  b->Args({28, 28, 256, 256, 1, 1, 1, 1, 2, 1});
  b->Args({112, 112, 32, 64, 1, 1, 1, 1, 2, 1});
  // MobileNet-like (mode 2): the first and pointwise layers of mbv1_100 as the model runs them, on
  // the AVX2 path and the VNNI one (its short / FMA zmm output stages; the first layer on im2col panels).
  for (int path : {1, 2})
    for (auto l : std::vector<std::vector<int64_t>>{{224, 224, 3, 32, 3, 2, 1},
                                                    {112, 112, 32, 64, 1, 1, 1},
                                                    {56, 56, 64, 128, 1, 1, 1},
                                                    {56, 56, 128, 128, 1, 1, 1},
                                                    {28, 28, 256, 256, 1, 1, 1},
                                                    {14, 14, 512, 512, 1, 1, 1},
                                                    {7, 7, 1024, 1024, 1, 1, 1}}) {
      l.insert(l.end(), {1, path, 2});
      b->Args(l);
    }
}
BENCHMARK(BM_Conv)->Apply(ConvArgs)->Unit(benchmark::kMicrosecond)->UseManualTime();

// The same 3x3 stride-1 layers through the exact integer Winograd F(2x2, 3x3)
// (optimized/winograd_conv.h), same data as BM_Conv. GOPs / peak_frac count the direct
// convolution's MACs (9 per output and input channel), so they compare with the BM_Conv rows;
// Winograd itself issues 16/36 of those multiplies.
// args: h, w, ic, oc, batches, threads, path (0 portable, 1 avx2), mode (0 tflite, 1 xnnpack).
void BM_Winograd(benchmark::State& state) {
  const Layer l{(int)state.range(4), (int)state.range(0), (int)state.range(1), (int)state.range(2),
                (int)state.range(3), 3, 1};
  const int threads = (int)state.range(5);
  const KernelPath path = (KernelPath)state.range(6);
  if (path == KernelPath::kAvx2 && !qat::isa_supported(qat::Isa::kAvx2)) return state.SkipWithError("no AVX2");
  reference::ConvParams p = MakeConv(l);
  p.requant = state.range(7) ? RequantMode::kXnnpack : RequantMode::kTflite;
  if (!optimized::WinogradApplies(p, false)) return state.SkipWithError("Winograd does not apply");
  auto input = ReluLike((size_t)l.batches * l.h * l.w * l.ic, 1);
  auto filter = Random<int8_t>((size_t)l.oc * 9 * l.ic, 2);
  std::vector<int32_t> bias(l.oc, 100);
  std::vector<Requant> rq(l.oc, MakeRequant(0.0007));
  auto pw = optimized::PackWinogradInt8(p, rq.data(), l.oc, filter.data(), bias.data());
  std::vector<int8_t> out((size_t)l.batches * p.output_h * p.output_w * l.oc);
  std::vector<uint8_t> scratch(optimized::WinogradScratchBytes(pw));
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  TimedLoop(state, threads,
            [&] { optimized::WinogradConvInt8(pw, input.data(), out.data(), scratch.data(), pool.get(), path); });
  SetCounters(state, (double)l.batches * p.output_h * p.output_w * l.oc * 9 * l.ic, threads);
}

void WinogradArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"h", "w", "ic", "oc", "b", "threads", "path", "mode"});
  // SmallCNN's 3x3 layers (BM_Conv rows h:14 ic:32 and h:7 ic:64), then the large 3x3 layers.
  for (auto l : std::vector<std::vector<int64_t>>{{14, 14, 32, 64}, {7, 7, 64, 128}})
    for (int batches : {1, 64})
      for (int threads : {1, 2}) {
        auto a = l;
        a.insert(a.end(), {batches, threads, 1, 0});
        b->Args(a);
      }
  b->Args({14, 14, 32, 64, 64, 1, 1, 1});
  b->Args({14, 14, 32, 64, 1, 1, 0, 0});
  b->Args({56, 56, 64, 64, 1, 1, 1, 0});
  b->Args({28, 28, 128, 128, 1, 1, 1, 0});
}
BENCHMARK(BM_Winograd)->Apply(WinogradArgs)->Unit(benchmark::kMicrosecond)->UseManualTime();

// FULLY_CONNECTED 1024 -> 1000 (MobileNet-v1's classifier) at batch 1 and 64.
void BM_FullyConnected(benchmark::State& state) {
  const int batches = (int)state.range(0), threads = (int)state.range(1);
  if (!qat::isa_supported(qat::Isa::kAvx2)) return state.SkipWithError("no AVX2");
  reference::FullyConnectedParams p;
  p.batches = batches;
  p.input_depth = 1024;
  p.output_depth = 1000;
  p.input_offset = 1;
  auto input = Random<int8_t>((size_t)batches * 1024, 1);
  auto w = Random<int8_t>(1024 * 1000, 2);
  std::vector<int32_t> bias(1000, 7);
  Requant rq = MakeRequant(0.001);
  auto pc = optimized::PackFullyConnectedInt8(p, &rq, 1, w.data(), bias.data());
  std::vector<int8_t> out((size_t)batches * 1000);
  std::vector<uint8_t> scratch(optimized::ConvScratchBytes(pc));
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  TimedLoop(state, threads, [&] { optimized::ConvInt8(pc, input.data(), out.data(), scratch.data(), pool.get()); });
  SetCounters(state, (double)batches * 1024 * 1000, threads);
}
BENCHMARK(BM_FullyConnected)->ArgNames({"b", "threads"})->Args({1, 1})->Args({64, 1})->Args({64, 2})
    ->Unit(benchmark::kMicrosecond)->UseManualTime();

// DEPTHWISE_CONV_2D 3x3 layers of MobileNet-v1 1.0 (fused ReLU6 clamp). args: h, w, c, stride,
// threads, mode (0: TFLite fixed-point output stage, 1: XNNPACK fp32).
void BM_Depthwise(benchmark::State& state) {
  const int h = (int)state.range(0), w = (int)state.range(1), c = (int)state.range(2), s = (int)state.range(3);
  const int threads = (int)state.range(4);
  if (!qat::isa_supported(qat::Isa::kAvx2)) return state.SkipWithError("no AVX2");
  reference::ConvParams p = MakeConv({1, h, w, c, c, 3, s});
  p.act_min = p.output_offset;  // fused ReLU6 as in MobileNet-v1 (selects the ReLU output stage)
  p.requant = state.range(5) ? RequantMode::kXnnpack : RequantMode::kTflite;
  auto input = Random<int8_t>((size_t)h * w * c, 1);
  auto filter = Random<int8_t>((size_t)9 * c, 2);
  std::vector<int32_t> bias(c, 5);
  std::vector<Requant> rq(c, MakeRequant(0.002));
  auto pd = optimized::PackDepthwiseInt8(p, rq.data(), c, filter.data(), bias.data());
  std::vector<int8_t> out((size_t)p.output_h * p.output_w * c);
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  // The interpreter's way: scratch from the arena, not allocated per call.
  std::vector<uint8_t> scratch(optimized::DepthwiseScratchBytes(pd, pool.get()));
  TimedLoop(state, threads,
            [&] { optimized::DepthwiseConvInt8(pd, input.data(), out.data(), scratch.data(), pool.get()); });
  SetCounters(state, (double)p.output_h * p.output_w * c * 9, threads);
}
BENCHMARK(BM_Depthwise)->ArgNames({"h", "w", "c", "s", "threads", "mode"})
    ->Args({112, 112, 32, 1, 1, 0})->Args({112, 112, 64, 2, 1, 0})->Args({56, 56, 128, 1, 1, 0})
    ->Args({14, 14, 512, 1, 1, 0})->Args({7, 7, 1024, 1, 1, 0})->Args({56, 56, 128, 1, 2, 0})
    ->Args({112, 112, 32, 1, 1, 1})->Args({56, 56, 128, 1, 1, 1})->Args({14, 14, 512, 1, 1, 1})
    ->Unit(benchmark::kMicrosecond)->UseManualTime();

// Whole networks chained from the optimised kernels alone (no interpreter), random weights:
// the kernel-level latency of MobileNet-v1 (224x224, width 1.0 / 0.5) and SmallCNN, to compare
// with ONNX Runtime's end-to-end numbers. args: network (0 mbv1_100, 1 mbv1_050, 2 cnn; 3 cnn with
// its 3x3 stride-1 layers of >= 8 input channels on the Winograd kernel, optimized/winograd_conv.h),
// batch, threads. Reported time: CPU seconds / threads per inference (see TimedLoop).
class Chain {
 public:
  Chain(int net, int batch) : batch_(batch), winograd_(net == 3) {
    if (net == 2 || net == 3) {
      h_ = w_ = 28;
      c_ = 1;
      Conv(32, 3, 1);
      MaxPool2();
      Conv(64, 3, 1);
      MaxPool2();
      Conv(128, 3, 1);
      GlobalAvg();
      Fc(10);
      return;
    }
    const int d = net == 1 ? 2 : 1;
    h_ = w_ = 224;
    c_ = 3;
    Conv(32 / d, 3, 2);
    const int spec[13][2] = {{1, 64},  {2, 128}, {1, 128}, {2, 256}, {1, 256}, {2, 512},  {1, 512},
                             {1, 512}, {1, 512}, {1, 512}, {1, 512}, {2, 1024}, {1, 1024}};
    for (auto& l : spec) {
      Depthwise(l[0]);
      Conv(l[1] / d, 1, 1);
    }
    GlobalAvg();
    Fc(1000);
  }
  void Run(ThreadPool* pool) {
    for (auto& step : steps_) step(pool);
  }
  double macs() const { return macs_; }

 private:
  std::vector<int8_t>& Buffer(size_t n) {
    bufs_.emplace_back(std::make_unique<std::vector<int8_t>>(Random<int8_t>(n, (int)bufs_.size())));
    return *bufs_.back();
  }
  const int8_t* cur() const { return cur_; }
  void Conv(int oc, int k, int s) {
    reference::ConvParams p = MakeConv({batch_, h_, w_, c_, oc, k, s});
    auto filter = Random<int8_t>((size_t)oc * k * k * c_, oc);
    std::vector<int32_t> bias(oc, 10);
    std::vector<Requant> rq(oc, MakeRequant(0.0015));
    if (winograd_ && optimized::WinogradApplies(p, false)) {
      auto pw = std::make_shared<optimized::PackedWinograd>(
          optimized::PackWinogradInt8(p, rq.data(), oc, filter.data(), bias.data()));
      auto scratch = std::make_shared<std::vector<uint8_t>>(optimized::WinogradScratchBytes(*pw));
      const int8_t* in = In();
      int8_t* out = Buffer((size_t)batch_ * p.output_h * p.output_w * oc).data();
      steps_.push_back([=](ThreadPool* pool) { optimized::WinogradConvInt8(*pw, in, out, scratch->data(), pool); });
      macs_ += (double)batch_ * p.output_h * p.output_w * oc * k * k * c_;
      Next(out, p.output_h, p.output_w, oc);
      return;
    }
    auto pc = std::make_shared<optimized::PackedConv>(optimized::PackConvInt8(p, rq.data(), oc, filter.data(), bias.data()));
    auto scratch = std::make_shared<std::vector<uint8_t>>(optimized::ConvScratchBytes(*pc));
    const int8_t* in = In();
    int8_t* out = Buffer((size_t)batch_ * p.output_h * p.output_w * oc).data();
    steps_.push_back([=](ThreadPool* pool) { optimized::ConvInt8(*pc, in, out, scratch->data(), pool); });
    macs_ += (double)batch_ * p.output_h * p.output_w * oc * k * k * c_;
    Next(out, p.output_h, p.output_w, oc);
  }
  void Depthwise(int s) {
    reference::ConvParams p = MakeConv({batch_, h_, w_, c_, c_, 3, s});
    auto filter = Random<int8_t>((size_t)9 * c_, c_);
    std::vector<int32_t> bias(c_, 10);
    std::vector<Requant> rq(c_, MakeRequant(0.01));
    auto pd = std::make_shared<optimized::PackedDepthwise>(
        optimized::PackDepthwiseInt8(p, rq.data(), c_, filter.data(), bias.data()));
    auto scratch = std::make_shared<std::vector<uint8_t>>();
    const int8_t* in = In();
    int8_t* out = Buffer((size_t)batch_ * p.output_h * p.output_w * c_).data();
    steps_.push_back([=](ThreadPool* pool) {
      scratch->resize(std::max(scratch->size(), optimized::DepthwiseScratchBytes(*pd, pool)));
      optimized::DepthwiseConvInt8(*pd, in, out, scratch->data(), pool);
    });
    macs_ += (double)batch_ * p.output_h * p.output_w * c_ * 9;
    Next(out, p.output_h, p.output_w, c_);
  }
  void Pool(int k, int s, bool average) {
    reference::PoolParams p;
    p.batches = batch_;
    p.input_h = h_;
    p.input_w = w_;
    p.channels = c_;
    p.filter_h = p.filter_w = k;
    p.stride_h = p.stride_w = s;
    reference::ComputePadding(reference::Padding::kValid, h_, k, s, 1, &p.output_h, &p.pad_top);
    reference::ComputePadding(reference::Padding::kValid, w_, k, s, 1, &p.output_w, &p.pad_left);
    const int8_t* in = In();
    int8_t* out = Buffer((size_t)batch_ * p.output_h * p.output_w * c_).data();
    steps_.push_back([=](ThreadPool* pool) {
      if (average)
        optimized::AveragePoolInt8(p, in, out, pool);
      else
        optimized::MaxPoolInt8(p, in, out, pool);
    });
    Next(out, p.output_h, p.output_w, c_);
  }
  void MaxPool2() { Pool(2, 2, false); }
  void GlobalAvg() { Pool(h_, 1, true); }
  void Fc(int n) {
    // A 1x1 convolution over 1x1 pixels is FULLY_CONNECTED.
    Conv(n, 1, 1);
  }
  const int8_t* In() {
    if (!cur_) cur_ = Buffer((size_t)batch_ * h_ * w_ * c_).data();
    return cur_;
  }
  void Next(const int8_t* out, int h, int w, int c) {
    cur_ = out;
    h_ = h;
    w_ = w;
    c_ = c;
  }
  int batch_, h_ = 0, w_ = 0, c_ = 0;
  bool winograd_ = false;
  const int8_t* cur_ = nullptr;
  double macs_ = 0;
  std::vector<std::unique_ptr<std::vector<int8_t>>> bufs_;
  std::vector<std::function<void(ThreadPool*)>> steps_;
};

void BM_Network(benchmark::State& state) {
  if (!qat::isa_supported(qat::Isa::kAvx2)) return state.SkipWithError("no AVX2");
  const int threads = (int)state.range(2);
  Chain chain((int)state.range(0), (int)state.range(1));
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  TimedLoop(state, threads, [&] { chain.Run(pool.get()); });
  SetCounters(state, chain.macs(), threads);
}
BENCHMARK(BM_Network)->ArgNames({"net", "b", "threads"})
    ->Args({0, 1, 1})->Args({0, 1, 2})->Args({1, 1, 1})->Args({1, 1, 2})->Args({2, 1, 1})->Args({2, 1, 2})
    ->Args({2, 64, 1})->Args({2, 64, 2})->Args({0, 64, 1})
    ->Args({3, 1, 1})->Args({3, 1, 2})->Args({3, 64, 1})->Args({3, 64, 2})
    ->Unit(benchmark::kMillisecond)->UseManualTime();

// The peer models through qat's interpreter (the optimised kernels wired into its ops), wall time:
// $QAT_PEERS_DIR/data/models/{cnn,mbv1_100,mbv1_050}_b1.tflite (skipped without QAT_PEERS_DIR).
// args: model (0 cnn, 1 mbv1_100, 2 mbv1_050), batch (the b1 model resized), threads, mode
// (0 tflite, 1 xnnpack). bench/int8_vs_ort.sh uses it when `qat bench` is not available.
void BM_Model(benchmark::State& state) {
  const char* peers = std::getenv("QAT_PEERS_DIR");
  if (!peers) return state.SkipWithError("QAT_PEERS_DIR not set");
  static const char* names[] = {"cnn", "mbv1_100", "mbv1_050"};
  const int batch = (int)state.range(1);
  const std::string dir = std::string(peers) + "/data/models/" + names[state.range(0)];
  // The batch's own model when the peers ship one (cnn_b64), else the b1 model resized.
  std::string path = dir + "_b" + std::to_string(batch) + ".tflite";
  const bool own = std::ifstream(path).good();
  if (!own) path = dir + "_b1.tflite";
  qat::lite::InterpreterOptions opt;
  opt.threads = (int)state.range(2);
  opt.requant = state.range(3) ? RequantMode::kXnnpack : RequantMode::kTflite;
  try {
    auto it = qat::lite::Interpreter::FromFile(path, opt);
    if (!own && batch != 1) {
      auto dims = it->input(0).dims;
      dims[0] = batch;
      it->ResizeInputTensor(0, dims);
    }
    it->AllocateTensors();
    std::vector<uint8_t> in(it->input(0).bytes, 3);
    it->SetInput(0, in.data(), in.size());
    it->Invoke();
    for (auto _ : state) it->Invoke();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}
BENCHMARK(BM_Model)->ArgNames({"model", "b", "threads", "mode"})
    ->ArgsProduct({{0, 1, 2}, {1}, {1, 2}, {0, 1}})->Args({0, 64, 1, 0})->Args({0, 64, 2, 0})
    ->Args({1, 64, 1, 0})->Args({1, 64, 2, 0})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
