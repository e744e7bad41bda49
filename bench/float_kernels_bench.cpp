// Google Benchmark of qat's optimised float32 kernels (src/kernels/optimized/conv_float.h,
// depthwise_float.h) on layer shapes of the MediaPipe models and MobileNet-v1, plus this core's
// measured float peak.
//
//   float_kernels_bench [--benchmark_filter=ConvFloat] [--benchmark_min_time=0.2s]
//
// Counters: GFLOPs (2 flops per multiply-accumulate, per second, 1e9) and peak_frac, the fraction of
// the peak that BM_Peak_float_muladd measures at start-up: 12 independent vmulps + vaddps chains on
// one core, the instruction pair of qat's float kernels (no FMA: they give the reference's
// rounding, x86/float_avx2.cpp). BM_Peak_float_fma measures vfmadd231ps, what XNNPACK and ONNX
// Runtime use on FMA3 CPUs, for comparison (on Zen 4 both peaks are 2 x 8 MACs per cycle: two
// multiply and two add pipes). Kernels run on one thread unless the name says threads:2 (its own
// qat::ThreadPool). Timing is the process CPU time per iteration divided by the thread count
// (manual time), as in int8_kernels_bench: the machine this was written on is shared.
// Path: ActiveFloatPath() (AVX-512 on an avx512vnni CPU; QAT_ISA=avx2 for the AVX2 kernels).
// Arithmetic: QAT_FLOAT_MATH=exact|fused (default fused, the interpreter's default; the label
// says which). peak_frac stays relative to the AVX2 mul + add peak.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench_util.h"
#include "kernels/dispatch.h"
#include "kernels/optimized/conv_float.h"
#include "kernels/optimized/depthwise_float.h"
#include "kernels/reference/conv.h"
#include "kernels/x86/peak_x86.h"
#include "qat/cpu_features.h"
#include "qat/thread_pool.h"

namespace {

using namespace qat::kernels;

FloatMath BenchFloatMath() {
  const char* e = std::getenv("QAT_FLOAT_MATH");
  return e && std::string(e) == "exact" ? FloatMath::kExact : FloatMath::kFused;
}
std::string BenchLabel() {
  return std::string(KernelPathName(ActiveFloatPath())) + " " + FloatMathName(BenchFloatMath());
}
using qat::bench::TimedLoop;
using qat::ThreadPool;

// GFLOP/s of the mul + add pair on one core, best of five.
double PeakGflops() {
  static const double peak = [] {
    if (!qat::isa_supported(qat::Isa::kAvx2)) return 1.0;
    double best = 0;
    for (int i = 0; i < 5; ++i) best = std::max(best, x86::PeakFloatMulAddGmacs(2000000));
    return 2 * best;
  }();
  return peak;
}

void SetCounters(benchmark::State& state, double macs, int threads) {
  const double gflop = 2 * macs * state.iterations() / 1e9;
  state.counters["GFLOPs"] = benchmark::Counter(gflop, benchmark::Counter::kIsRate);
  state.counters["peak_frac"] = benchmark::Counter(gflop / (PeakGflops() * threads), benchmark::Counter::kIsRate);
}

void BM_Peak_float_muladd(benchmark::State& state) {
  if (!qat::isa_supported(qat::Isa::kAvx2)) return state.SkipWithError("no AVX2");
  double g = 0;
  for (auto _ : state) g = std::max(g, x86::PeakFloatMulAddGmacs(500000));
  state.counters["GFLOPs"] = 2 * g;
  state.counters["peak_frac"] = 2 * g / PeakGflops();
}
BENCHMARK(BM_Peak_float_muladd)->Iterations(20)->Unit(benchmark::kMillisecond);

void BM_Peak_float_fma(benchmark::State& state) {
  if (!qat::isa_supported(qat::Isa::kAvx2)) return state.SkipWithError("no AVX2");
  double g = 0;
  for (auto _ : state) g = std::max(g, x86::PeakFloatFmaGmacs(500000));
  state.counters["GFLOPs"] = 2 * g;
  state.counters["peak_frac"] = 2 * g / PeakGflops();
}
BENCHMARK(BM_Peak_float_fma)->Iterations(20)->Unit(benchmark::kMillisecond);

std::vector<float> RandomFloats(size_t n, int seed, float lo, float hi) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = u(rng);
  return v;
}

reference::ConvParams Layer(int h, int w, int ic, int oc, int k, int stride) {
  reference::ConvParams p;
  p.input_h = h;
  p.input_w = w;
  p.input_c = ic;
  p.output_c = oc;
  p.filter_h = p.filter_w = k;
  p.stride_h = p.stride_w = stride;
  reference::ComputePadding(reference::Padding::kSame, h, k, stride, 1, &p.output_h, &p.pad_top);
  reference::ComputePadding(reference::Padding::kSame, w, k, stride, 1, &p.output_w, &p.pad_left);
  p.float_act = reference::ActivationRangeFloat(reference::Activation::kRelu);
  return p;
}

std::unique_ptr<ThreadPool> Pool(int threads) {
  return threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
}

// args: h, w, ic, oc, k, stride, threads. ReLU clamp, SAME padding, batch 1.
void BM_ConvFloat(benchmark::State& state) {
  const reference::ConvParams p = Layer((int)state.range(0), (int)state.range(1), (int)state.range(2),
                                        (int)state.range(3), (int)state.range(4), (int)state.range(5));
  const int threads = (int)state.range(6);
  const auto input = RandomFloats((size_t)p.input_h * p.input_w * p.input_c, 1, -1.f, 1.f);
  const auto filter = RandomFloats((size_t)p.output_c * p.filter_h * p.filter_w * p.input_c, 2, -0.5f, 0.5f);
  const auto bias = RandomFloats((size_t)p.output_c, 3, -0.1f, 0.1f);
  const auto pc = optimized::PackConvFloat(p, filter.data(), bias.data());
  auto pool = Pool(threads);
  std::vector<uint8_t> scratch(optimized::ConvFloatScratchBytes(pc, pool.get()));
  std::vector<float> out((size_t)p.output_h * p.output_w * p.output_c);
  TimedLoop(state, threads, [&] {
    optimized::ConvFloat(pc, input.data(), out.data(), scratch.empty() ? nullptr : scratch.data(), pool.get(),
                         ActiveFloatPath(), nullptr, BenchFloatMath());
  });
  state.SetLabel(BenchLabel());
  SetCounters(state, (double)p.output_h * p.output_w * p.output_c * p.filter_h * p.filter_w * p.input_c, threads);
}
BENCHMARK(BM_ConvFloat)
    ->ArgNames({"h", "w", "ic", "oc", "k", "s", "threads"})
    // First layers (gather path): hand_landmark (224, 24 channels), face_detection_full_range
    // (192, 32), MobileNet-v1 (224, 32).
    ->Args({224, 224, 3, 24, 3, 2, 1})
    ->Args({192, 192, 3, 32, 3, 2, 1})
    ->Args({224, 224, 3, 32, 3, 2, 1})
    // 1x1 layers: MediaPipe's shallow ones (8 / 16 / 24 input channels) and MobileNet-v1's deep ones.
    ->Args({96, 96, 8, 32, 1, 1, 1})
    ->Args({96, 96, 32, 8, 1, 1, 1})
    ->Args({112, 112, 16, 64, 1, 1, 1})
    ->Args({112, 112, 32, 64, 1, 1, 1})
    ->Args({56, 56, 16, 96, 1, 1, 1})
    ->Args({14, 14, 64, 384, 1, 1, 1})
    ->Args({14, 14, 384, 64, 1, 1, 1})
    ->Args({14, 14, 512, 512, 1, 1, 1})
    ->Args({7, 7, 112, 672, 1, 1, 1})
    ->Args({7, 7, 1024, 1024, 1, 1, 1})
    // A 3x3 layer (im2col), and two rows on two threads.
    ->Args({56, 56, 64, 64, 3, 1, 1})
    ->Args({112, 112, 32, 64, 1, 1, 2})
    ->Args({14, 14, 512, 512, 1, 1, 2})
    ->Unit(benchmark::kMicrosecond)
    ->UseManualTime();

// args: h, w, c, k, stride, threads. ReLU clamp, SAME padding, batch 1, depth multiplier 1.
void BM_DepthwiseFloat(benchmark::State& state) {
  reference::ConvParams p = Layer((int)state.range(0), (int)state.range(1), (int)state.range(2),
                                  (int)state.range(2), (int)state.range(3), (int)state.range(4));
  const int threads = (int)state.range(5);
  const auto input = RandomFloats((size_t)p.input_h * p.input_w * p.input_c, 1, -1.f, 1.f);
  const auto filter = RandomFloats((size_t)p.filter_h * p.filter_w * p.output_c, 2, -0.5f, 0.5f);
  const auto bias = RandomFloats((size_t)p.output_c, 3, -0.1f, 0.1f);
  const auto pd = optimized::PackDepthwiseFloat(p, filter.data(), bias.data());
  auto pool = Pool(threads);
  std::vector<float> out((size_t)p.output_h * p.output_w * p.output_c);
  TimedLoop(state, threads, [&] {
    optimized::DepthwiseConvFloat(pd, input.data(), out.data(), pool.get(), ActiveFloatPath(), nullptr,
                                  BenchFloatMath());
  });
  state.SetLabel(BenchLabel());
  SetCounters(state, (double)p.output_h * p.output_w * p.output_c * p.filter_h * p.filter_w, threads);
}
BENCHMARK(BM_DepthwiseFloat)
    ->ArgNames({"h", "w", "c", "k", "s", "threads"})
    ->Args({112, 112, 24, 3, 1, 1})   // hand_landmark_lite
    ->Args({96, 96, 32, 3, 1, 1})     // face_detection_full_range
    ->Args({112, 112, 64, 3, 2, 1})   // strided
    ->Args({112, 112, 32, 3, 1, 1})   // MobileNet-v1
    ->Args({56, 56, 128, 3, 1, 1})
    ->Args({28, 28, 256, 3, 1, 1})
    ->Args({28, 28, 144, 5, 1, 1})    // 5x5 (hand_landmark)
    ->Args({14, 14, 384, 5, 1, 1})
    ->Args({14, 14, 512, 3, 1, 1})
    ->Args({112, 112, 32, 3, 1, 2})
    ->Unit(benchmark::kMicrosecond)
    ->UseManualTime();

}  // namespace

BENCHMARK_MAIN();
