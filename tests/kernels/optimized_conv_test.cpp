// Randomised bit-exactness test of the optimised CONV_2D (kernels/optimized/conv.h) against the
// reference kernels, on every compiled path, in both requantization modes, int8 and uint8.
// Shapes are random (odd channel counts, K not a multiple of the tile, 1x1 / 3x3 / strided /
// dilated / padded), zero points at the extremes; tolerance 0; seeded, so a failure reproduces.
#include <gtest/gtest.h>

#include <array>

#include "kernels/optimized/conv.h"
#include "kernels/reference/conv.h"
#include "kernels/x86/int8_x86.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

// Every compiled conv path this CPU runs: PathsToTest() plus the AVX-512 VNNI GEMM where present.
// Set while a test runs the VNNI kernel's source with emulated AVX-512 intrinsics on a CPU without
// VNNI (optimized::SetVnniEmulationForTests): ConvPaths then includes kAvx512Vnni there too.
bool g_emulated_vnni = false;

std::vector<KernelPath> ConvPaths() {
  auto paths = PathsToTest();
  if (isa_supported(Isa::kAvx512Vnni) || g_emulated_vnni) paths.push_back(KernelPath::kAvx512Vnni);
  return paths;
}

struct EmulatedVnni {
  EmulatedVnni() {
    optimized::SetVnniEmulationForTests(true);
    g_emulated_vnni = true;
  }
  ~EmulatedVnni() {
    optimized::SetVnniEmulationForTests(false);
    g_emulated_vnni = false;
  }
};

// Runs the packed layer on `path` (scratch from ConvScratchBytes) and counts the outputs that differ
// from `want`.
template <class T>
size_t Mismatches(const optimized::PackedConv& pc, const std::vector<T>& input, const std::vector<T>& want,
                  KernelPath path, ThreadPool* tp) {
  std::vector<T> got(want.size(), 0x5a);
  std::vector<uint8_t> scratch(optimized::ConvScratchBytes(pc));
  if constexpr (std::is_same_v<T, uint8_t>)
    optimized::ConvUint8(pc, input.data(), got.data(), scratch.data(), tp, path);
  else
    optimized::ConvInt8(pc, input.data(), got.data(), scratch.data(), tp, path);
  size_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i) bad += got[i] != want[i];
  return bad;
}

// The reference output of the layer into `want` (uint8: per-tensor rq[0]) and its packed form.
template <class T>
optimized::PackedConv PackWithReference(const reference::ConvParams& p, const std::vector<Requant>& rq,
                                        const std::vector<T>& input, const std::vector<T>& filter, const int32_t* bias,
                                        std::vector<T>& want) {
  if constexpr (std::is_same_v<T, uint8_t>) {
    reference::ConvUint8(p, rq[0], input.data(), filter.data(), bias, want.data());
    return optimized::PackConvUint8(p, rq[0], filter.data(), bias);
  } else {
    reference::ConvPerChannelInt8(p, rq.data(), input.data(), filter.data(), bias, want.data());
    return optimized::PackConvInt8(p, rq.data(), (int)rq.size(), filter.data(), bias);
  }
}

reference::ConvParams RandomConv(std::mt19937& rng, bool is_uint8, int trial) {
  reference::ConvParams p;
  p.batches = Uniform(rng, 1, 2);
  p.input_h = Uniform(rng, 1, 11);
  p.input_w = Uniform(rng, 1, 11);
  p.input_c = trial % 4 == 0 ? Uniform(rng, 1, 5) : Uniform(rng, 1, 70);
  p.output_c = Uniform(rng, 1, 50);
  const int kind = Uniform(rng, 0, 3);
  p.filter_h = kind == 0 ? 1 : Uniform(rng, 1, 4);
  p.filter_w = kind == 0 ? 1 : (kind == 1 ? p.filter_h : Uniform(rng, 1, 4));
  p.stride_h = Uniform(rng, 1, 3);
  p.stride_w = Uniform(rng, 1, 3);
  p.dilation_h = Uniform(rng, 0, 4) == 0 ? 2 : 1;
  p.dilation_w = Uniform(rng, 0, 4) == 0 ? 2 : 1;
  const auto pad = Uniform(rng, 0, 1) ? reference::Padding::kSame : reference::Padding::kValid;
  reference::ComputePadding(pad, p.input_h, p.filter_h, p.stride_h, p.dilation_h, &p.output_h, &p.pad_top);
  reference::ComputePadding(pad, p.input_w, p.filter_w, p.stride_w, p.dilation_w, &p.output_w, &p.pad_left);
  p.input_offset = -ZeroPoint(rng, is_uint8);
  p.filter_offset = is_uint8 ? -ZeroPoint(rng, true) : 0;
  p.output_offset = ZeroPoint(rng, is_uint8);
  RandomClamp(rng, is_uint8, &p.act_min, &p.act_max);
  return p;
}

template <class T>
void RunTrials(bool is_uint8, uint32_t seed, int trials) {
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  for (int trial = 0; trial < trials; ++trial) {
    for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
      reference::ConvParams p = RandomConv(rng, is_uint8, trial);
      p.requant = mode;
      if (p.output_h == 0 || p.output_w == 0) continue;
      const size_t in_n = (size_t)p.batches * p.input_h * p.input_w * p.input_c;
      const size_t out_n = (size_t)p.batches * p.output_h * p.output_w * p.output_c;
      auto input = RandomBytes<T>(rng, in_n);
      auto filter = RandomBytes<T>(rng, (size_t)p.output_c * p.filter_h * p.filter_w * p.input_c, !is_uint8);
      auto bias = RandomBias(rng, p.output_c);
      const bool with_bias = Uniform(rng, 0, 5) != 0;
      std::vector<Requant> rq(is_uint8 ? 1 : p.output_c);
      for (auto& r : rq) r = RandomRequant(rng);
      std::vector<T> want(out_n);
      const optimized::PackedConv pc =
          PackWithReference(p, rq, input, filter, with_bias ? bias.data() : nullptr, want);
      for (KernelPath path : ConvPaths()) {
        for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
          ASSERT_EQ(Mismatches(pc, input, want, path, tp), 0u) << "seed " << seed << " trial " << trial << " path " << KernelPathName(path)
                             << " mode " << (int)mode << " threads " << (tp ? 2 : 1) << " shape b" << p.batches << " "
                             << p.input_h << "x" << p.input_w << "x" << p.input_c << " -> " << p.output_c << " f"
                             << p.filter_h << "x" << p.filter_w << " s" << p.stride_h << "," << p.stride_w << " d"
                             << p.dilation_h << "," << p.dilation_w;
        }
      }
    }
  }
}

// kTflite's short ReLU output stage (PackedConv::kshort): the lower clamp at the output zero point
// itself (negative accumulators must clamp exactly there) or above it, right shifts from 1 to
// kShortMaxRight, zero points at the extremes, 1x1 (split GEMM) and 3x3 (int16 GEMM) layers.
template <class T>
void ShortStageTrials(bool is_uint8, uint32_t seed, int trials) {
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  int short_layers = 0, layers = 0, fma_layers = 0, mixed_layers = 0;
  for (int trial = 0; trial < trials; ++trial) {
    reference::ConvParams p = RandomConv(rng, is_uint8, trial);
    p.requant = RequantMode::kTflite;
    if (p.output_h == 0 || p.output_w == 0) continue;
    ++layers;
    const int hi = is_uint8 ? 255 : 127;
    p.act_min = trial % 3 == 0 ? p.output_offset : Uniform(rng, p.output_offset, hi);
    p.act_max = trial % 2 == 0 ? hi : Uniform(rng, p.act_min, hi);
    const size_t in_n = (size_t)p.batches * p.input_h * p.input_w * p.input_c;
    const size_t out_n = (size_t)p.batches * p.output_h * p.output_w * p.output_c;
    auto input = RandomBytes<T>(rng, in_n);
    auto filter = RandomBytes<T>(rng, (size_t)p.output_c * p.filter_h * p.filter_w * p.input_c, !is_uint8);
    auto bias = RandomBias(rng, p.output_c);
    std::vector<Requant> rq(is_uint8 ? 1 : p.output_c);
    const int max_right = x86::kShortMaxRight;
    // Every fourth layer up to 2^-8 (MobileNet's range, where the FMA form nearly always exists).
    const double e_max = trial % 4 == 1 ? 8.0 : (double)max_right;
    for (auto& r : rq) {
      // Real multipliers in [2^-(max_right), 2^-1): right shifts 1 .. max_right (0 .. 2^-21 rounds
      // the multiplier up to the next power of two now and then: right may be max_right - 1).
      const double e = -std::uniform_real_distribution<double>(1.0, e_max)(rng);
      r = MakeRequant(std::exp2(e));
    }
    std::vector<T> want(out_n);
    const optimized::PackedConv pc = PackWithReference(p, rq, input, filter, bias.data(), want);
    short_layers += !pc.kshort.empty();
    // The exact FMA form (optimized/fma_stage.h) on every 8-channel group, or on some of them.
    const int groups = (p.output_c + 7) / 8;
    const int fma_groups = (int)std::count(pc.fma_groups.begin(), pc.fma_groups.begin() + std::min<size_t>(groups, pc.fma_groups.size()), 1);
    fma_layers += fma_groups == groups;
    mixed_layers += fma_groups > 0 && fma_groups < groups;
    for (KernelPath path : ConvPaths()) {
      for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
        ASSERT_EQ(Mismatches(pc, input, want, path, tp), 0u) << "seed " << seed << " trial " << trial << " path " << KernelPathName(path)
                           << " act_min " << p.act_min << " Z_out " << p.output_offset << " threads "
                           << (tp ? 2 : 1);
      }
    }
  }
  // Every layer qualifies (shifts in range, no left shift, act_min >= Z_out): the short stage ran.
  EXPECT_EQ(short_layers, layers);
  EXPECT_GT(layers, trials / 2);
  if (isa_supported(Isa::kAvx2)) {  // layers with the FMA form everywhere, and with it in part
    EXPECT_GT(fma_layers, 5);
    if (!is_uint8) {  // uint8: one multiplier for all channels
      EXPECT_GT(mixed_layers, 5);
    }
  }
}

TEST(OptimizedConv, TfliteShortReluStageInt8MatchesReference) { ShortStageTrials<int8_t>(false, 909, 120); }
TEST(OptimizedConv, TfliteShortReluStageUint8MatchesReference) { ShortStageTrials<uint8_t>(true, 1911, 120); }
// The same stages in the VNNI tile's zmm form (x86/gemm_avx512vnni.cpp, OutputZ: short, FMA, and
// zmm registers whose two 8-channel groups differ), on the emulated kernel where the CPU lacks VNNI.
TEST(OptimizedConv, TfliteShortReluStageOnTheVnniKernel) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "the emulated VNNI kernel is compiled for AVX2";
  EmulatedVnni emulated;
  ShortStageTrials<int8_t>(false, 919, 120);
  ShortStageTrials<uint8_t>(true, 1921, 120);
}

TEST(OptimizedConv, Int8MatchesReferenceOnEveryPath) { RunTrials<int8_t>(false, 20261125, 150); }
TEST(OptimizedConv, Uint8MatchesReferenceOnEveryPath) { RunTrials<uint8_t>(true, 777, 150); }

// Layers that use several pixel chunks (20x20: one run of pixels per thread) and channel groups
// (5x5, 7 tiles: 16-channel blocks per thread) on 3 threads (the work split).
TEST(OptimizedConv, LargeLayerSplitsWorkExactly) {
  for (int hw : {20, 5}) {
    std::mt19937 rng(5);
    reference::ConvParams p;
    p.input_h = p.input_w = hw;
    p.input_c = 67;
    p.output_c = 75;
    p.filter_h = p.filter_w = 3;
    reference::ComputePadding(reference::Padding::kSame, hw, 3, 1, 1, &p.output_h, &p.pad_top);
    reference::ComputePadding(reference::Padding::kSame, hw, 3, 1, 1, &p.output_w, &p.pad_left);
    p.input_offset = 128;
    p.output_offset = -5;
    auto input = RandomBytes<int8_t>(rng, hw * hw * 67);
    auto filter = RandomBytes<int8_t>(rng, 75 * 9 * 67, true);
    auto bias = RandomBias(rng, 75);
    std::vector<Requant> rq(75);
    for (auto& r : rq) r = MakeRequant(std::exp2(-std::uniform_real_distribution<double>(9, 12)(rng)));
    ThreadPool pool(3);
    for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
      p.requant = mode;
      std::vector<int8_t> want(hw * hw * 75), got(want.size());
      reference::ConvPerChannelInt8(p, rq.data(), input.data(), filter.data(), bias.data(), want.data());
      auto pc = optimized::PackConvInt8(p, rq.data(), 75, filter.data(), bias.data());
      for (KernelPath path : ConvPaths()) {
        optimized::ConvInt8(pc, input.data(), got.data(), nullptr, &pool, path);
        EXPECT_EQ(got, want) << KernelPathName(path) << " " << hw << "x" << hw;
      }
    }
  }
}

// First layers (1 or 3 input channels: row taps; dilation_w 2: im2col) at network sizes: every path,
// both modes, int8 and uint8 requant setups, 1, 2 and 3 threads give the reference's bytes (so the
// threaded splits, including the shared row table of several channel groups, equal one thread).
TEST(OptimizedConv, FirstLayerShapesMatchReferenceOnAnyThreadCount) {
  struct Shape {
    int h, w, c, oc, k, s, dw;
    reference::Padding pad;
  };
  const Shape shapes[] = {{28, 28, 1, 32, 3, 1, 1, reference::Padding::kSame},
                          {57, 45, 3, 16, 3, 2, 1, reference::Padding::kSame},
                          {40, 40, 3, 32, 3, 2, 1, reference::Padding::kValid},
                          {23, 31, 3, 24, 5, 1, 1, reference::Padding::kSame},
                          {21, 19, 3, 20, 3, 1, 2, reference::Padding::kSame}};
  std::mt19937 rng(99);
  ThreadPool pool2(2), pool3(3);
  for (const Shape& sh : shapes) {
    reference::ConvParams p;
    p.input_h = sh.h;
    p.input_w = sh.w;
    p.input_c = sh.c;
    p.output_c = sh.oc;
    p.filter_h = p.filter_w = sh.k;
    p.stride_h = p.stride_w = sh.s;
    p.dilation_w = sh.dw;
    reference::ComputePadding(sh.pad, p.input_h, p.filter_h, p.stride_h, p.dilation_h, &p.output_h, &p.pad_top);
    reference::ComputePadding(sh.pad, p.input_w, p.filter_w, p.stride_w, p.dilation_w, &p.output_w, &p.pad_left);
    p.input_offset = -ZeroPoint(rng, false);
    p.output_offset = ZeroPoint(rng, false);
    RandomClamp(rng, false, &p.act_min, &p.act_max);
    const size_t in_n = (size_t)p.input_h * p.input_w * p.input_c, out_n = (size_t)p.output_h * p.output_w * p.output_c;
    auto input = RandomBytes<int8_t>(rng, in_n);
    auto filter = RandomBytes<int8_t>(rng, (size_t)p.output_c * p.filter_h * p.filter_w * p.input_c, true);
    auto bias = RandomBias(rng, p.output_c);
    std::vector<Requant> rq(p.output_c);
    for (auto& r : rq) r = RandomRequant(rng);
    for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
      p.requant = mode;
      std::vector<int8_t> want(out_n);
      reference::ConvPerChannelInt8(p, rq.data(), input.data(), filter.data(), bias.data(), want.data());
      auto pc = optimized::PackConvInt8(p, rq.data(), p.output_c, filter.data(), bias.data());
      EXPECT_EQ(pc.row_taps, sh.dw == 1);
      EXPECT_EQ(pc.im2col, sh.dw != 1);
      for (KernelPath path : ConvPaths())
        for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool2, &pool3}) {
          std::vector<int8_t> got(out_n, 0x5a);
          std::vector<uint8_t> scratch(optimized::ConvScratchBytes(pc));
          optimized::ConvInt8(pc, input.data(), got.data(), scratch.data(), tp, path);
          EXPECT_EQ(got, want) << KernelPathName(path) << " mode " << (int)mode << " threads "
                               << (tp ? tp->size() : 1) << " shape " << sh.h << "x" << sh.w << "x" << sh.c;
        }
    }
  }
}

}  // namespace
}  // namespace qat::kernels

namespace qat::kernels {
namespace {
using namespace testing;

// The AVX2 split GEMM (x86/int8_x86.h, SplitLists) on ReLU-style activations: most values at the
// input zero point, a fraction `dense` spread over the whole type range, so some exceed the split
// bound T (residual lists) - including pixels with more residuals than their list holds and layers
// over the residual budget (both must fall back to the int16 GEMM), padding rows whose Z_in is above T,
// 1x1 / 3x3 / strided / FC shapes, int8 and uint8, both modes, 1 and 2 threads. Tolerance 0. The
// call counter proves the split kernel itself ran on most of these layers.
template <class T>
void SplitTrials(bool is_uint8, uint32_t seed, int trials) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2: the split GEMM is an AVX2 kernel";
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  optimized::SetSplitGemmForTests(true);
  const int64_t calls0 = optimized::SplitGemmCallsForTests();
  int ran = 0;
  for (int trial = 0; trial < trials; ++trial) {
    reference::ConvParams p = RandomConv(rng, is_uint8, trial);
    p.input_c = Uniform(rng, 1, 3) == 1 ? Uniform(rng, 8, 40) : Uniform(rng, 40, 300);  // plain taps
    p.requant = Uniform(rng, 0, 1) ? RequantMode::kTflite : RequantMode::kXnnpack;
    // Z_in: usually the bottom of the range (ReLU), sometimes anywhere (padding rows above T).
    const int lo = is_uint8 ? 0 : -128;
    if (Uniform(rng, 0, 3) != 0) p.input_offset = -lo;
    if (p.output_h == 0 || p.output_w == 0) continue;
    const size_t in_n = (size_t)p.batches * p.input_h * p.input_w * p.input_c;
    const size_t out_n = (size_t)p.batches * p.output_h * p.output_w * p.output_c;
    const double dense = std::array<double, 5>{0.0, 0.003, 0.01, 0.03, 0.3}[Uniform(rng, 0, 4)];
    std::vector<T> input(in_n);
    for (auto& x : input) {
      const int z = -p.input_offset;
      x = (T)(std::uniform_real_distribution<double>(0, 1)(rng) < dense ? Uniform(rng, lo, lo + 255)
                                                                        : std::min(lo + 255, z + Uniform(rng, 0, 40)));
    }
    // uint8 weights with w - Z_w inside int8 (the u8 panels' condition): Z_w near the middle.
    if (is_uint8) p.filter_offset = -128;
    auto filter = RandomBytes<T>(rng, (size_t)p.output_c * p.filter_h * p.filter_w * p.input_c, !is_uint8);
    auto bias = RandomBias(rng, p.output_c);
    std::vector<Requant> rq(is_uint8 ? 1 : p.output_c);
    for (auto& r : rq) r = RandomRequant(rng);
    std::vector<T> want(out_n), got(out_n);
    const optimized::PackedConv pc = PackWithReference(p, rq, input, filter, bias.data(), want);
    ASSERT_TRUE(pc.vnni) << "trial " << trial << ": no u8 panels";
    ASSERT_GE(pc.split_t, pc.split_quads == 4 ? 32 : 64);
    for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
      const int64_t before = optimized::SplitGemmCallsForTests();
      std::fill(got.begin(), got.end(), (T)0x5a);
      if constexpr (std::is_same_v<T, uint8_t>)
        optimized::ConvUint8(pc, input.data(), got.data(), nullptr, tp, KernelPath::kAvx2);
      else
        optimized::ConvInt8(pc, input.data(), got.data(), nullptr, tp, KernelPath::kAvx2);
      ran += optimized::SplitGemmCallsForTests() > before;
      ASSERT_EQ(got, want) << "seed " << seed << " trial " << trial << " dense " << dense << " threads "
                           << (tp ? 2 : 1) << " shape b" << p.batches << " " << p.input_h << "x" << p.input_w
                           << "x" << p.input_c << " -> " << p.output_c << " f" << p.filter_h << "x" << p.filter_w
                           << " s" << p.stride_h << "," << p.stride_w << " Z_in " << -p.input_offset << " T "
                           << pc.split_t;
    }
  }
  EXPECT_GT(ran, trials / 2) << "the split kernel ran on too few layers: " << ran;
  EXPECT_GT(optimized::SplitGemmCallsForTests(), calls0);
}

// The 2 x 32 split tile's short ReLU stage on block pairs where only some 8-channel groups have the
// exact FMA form (the others run the 64-bit short form; each group its own zero point), on inputs
// sparse enough that the split GEMM runs rather than its int16 fallback: per-channel right shifts
// from 1 to kShortMaxRight, so that some groups of many pairs lack the FMA form.
TEST(OptimizedConv, SplitTileShortStageOnMixedPairsMatchesReference) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2: the split GEMM is an AVX2 kernel";
  std::mt19937 rng(20261126);
  ThreadPool pool(2);
  optimized::SetSplitGemmForTests(true);
  int mixed_pairs = 0, ran = 0;
  for (int trial = 0; trial < 40; ++trial) {
    reference::ConvParams p;
    p.batches = 1;
    p.input_h = Uniform(rng, 2, 9);
    p.input_w = Uniform(rng, 2, 9);
    p.input_c = Uniform(rng, 32, 160);
    p.output_c = Uniform(rng, 33, 100);
    p.filter_h = p.filter_w = 1;
    p.output_h = p.input_h;
    p.output_w = p.input_w;
    p.input_offset = 128;  // Z_in = -128: ReLU-like inputs sit at the bottom of the range
    p.output_offset = Uniform(rng, -128, 20);
    p.act_min = trial % 2 ? p.output_offset : Uniform(rng, p.output_offset, 40);
    p.act_max = Uniform(rng, std::max(p.act_min, (int32_t)60), 127);
    p.requant = RequantMode::kTflite;
    std::vector<int8_t> input((size_t)p.input_h * p.input_w * p.input_c);
    for (auto& x : input)
      x = (int8_t)(Uniform(rng, 0, 99) < 3 ? Uniform(rng, -128, 127) : -128 + Uniform(rng, 0, 30));
    auto filter = RandomBytes<int8_t>(rng, (size_t)p.output_c * p.input_c, true);
    auto bias = RandomBias(rng, p.output_c);
    std::vector<Requant> rq(p.output_c);
    // Mostly MobileNet's range (the FMA form nearly always exists), a few right shifts of 15 and more
    // (it often does not): about half the 8-channel groups have it on every channel.
    for (auto& r : rq) {
      const bool deep = Uniform(rng, 0, 99) < 15;
      r = MakeRequant(std::exp2(-std::uniform_real_distribution<double>(deep ? 15.0 : 1.0, deep ? x86::kShortMaxRight : 8.0)(rng)));
    }
    std::vector<int8_t> want((size_t)p.output_h * p.output_w * p.output_c);
    const optimized::PackedConv pc = PackWithReference(p, rq, input, filter, bias.data(), want);
    ASSERT_EQ(pc.split_quads, 4);
    ASSERT_FALSE(pc.kshort.empty()) << "trial " << trial;
    for (int q = 0; 32 * q < p.output_c && !pc.fma_groups.empty(); ++q) {
      int fma = 0, groups = 0;
      for (int g = 4 * q; g < 4 * q + 4 && 8 * g < p.output_c; ++g, ++groups) fma += pc.fma_groups[g];
      mixed_pairs += fma > 0 && fma < groups;
    }
    for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
      const int64_t before = optimized::SplitGemmCallsForTests();
      ASSERT_EQ(Mismatches(pc, input, want, KernelPath::kAvx2, tp), 0u)
          << "trial " << trial << " " << p.input_h << "x" << p.input_w << "x" << p.input_c << " -> " << p.output_c
          << " Z_out " << p.output_offset << " act " << p.act_min << ".." << p.act_max << " threads " << (tp ? 2 : 1);
      ran += optimized::SplitGemmCallsForTests() > before;
    }
  }
  EXPECT_GT(mixed_pairs, 20) << "too few block pairs mix the FMA and the short form";
  EXPECT_GT(ran, 60) << "the split kernel ran on too few calls: " << ran;
}

TEST(OptimizedConv, SplitGemmInt8MatchesReference) { SplitTrials<int8_t>(false, 31337, 120); }
TEST(OptimizedConv, SplitGemmUint8MatchesReference) { SplitTrials<uint8_t>(true, 4711, 120); }

// The split bounds at their limit: weights mostly at +-127/128 (lanes with large same-sign sums of
// four weights, so the per-channel bounds T_c are near 64-130), nearly every activation exactly at
// its channel's T_c (every int16 lane of the split tile at its largest sum), a few anywhere (the
// residual lists), an odd number of quads (the tile's single-quad tail), 1x1 and 3x3 stride 2. A bound one
// too high overflows a lane and this test fails.
TEST(OptimizedConv, SplitGemmAtTheBoundsMatchesReference) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2: the split GEMM is an AVX2 kernel";
  std::mt19937 rng(2026);
  ThreadPool pool(2);
  optimized::SetSplitGemmForTests(true);
  optimized::SetSplitTuningForTests(false);  // the weight-only bounds here (tuned ones: SplitTuning*)
  int quads4 = 0;
  for (int trial = 0; trial < 12; ++trial) {
    reference::ConvParams p;
    p.batches = 1;
    p.input_h = 7;
    p.input_w = 6;
    p.filter_h = p.filter_w = trial % 3 == 2 ? 3 : 1;
    // 1x1: 11 quads (odd) or 18, on the 2 x 32 tile; 3x3: 31 or 33 quads per tap, a depth over
    // QAT_SPLIT32_MAX_DEPTH's 1024, on the 4 x 16 tile.
    p.input_c = p.filter_h == 3 ? (trial % 2 ? 121 : 130) : (trial % 2 ? 41 : 70);
    p.output_c = 35;
    p.stride_h = p.stride_w = p.filter_h == 3 ? 2 : 1;  // 3x3 stride 1 would run the Winograd twin
    p.dilation_h = p.dilation_w = 1;
    reference::ComputePadding(reference::Padding::kSame, p.input_h, p.filter_h, p.stride_h, 1, &p.output_h, &p.pad_top);
    reference::ComputePadding(reference::Padding::kSame, p.input_w, p.filter_w, p.stride_w, 1, &p.output_w, &p.pad_left);
    p.input_offset = 128;  // Z_in = -128: u = 0 (padding taps stay below every bound)
    p.output_offset = Uniform(rng, -10, 10);
    p.act_min = -128;
    p.act_max = 127;
    p.requant = trial % 4 < 2 ? RequantMode::kXnnpack : RequantMode::kTflite;
    std::vector<int8_t> filter((size_t)p.output_c * p.filter_h * p.filter_w * p.input_c);
    for (auto& w : filter) {
      const int r = Uniform(rng, 0, 9);
      w = (int8_t)(r < 4 ? 127 : r < 8 ? -128 : Uniform(rng, -128, 127));
    }
    auto bias = RandomBias(rng, p.output_c);
    std::vector<Requant> rq(p.output_c);
    for (auto& r : rq) r = MakeRequant(std::exp2(-Uniform(rng, 14, 18)));
    auto pc = optimized::PackConvInt8(p, rq.data(), (int)rq.size(), filter.data(), bias.data());
    ASSERT_TRUE(pc.vnni);
    // Lanes of 4 products (4 x 16 tile) or 8 (2 x 32 tile, split_quads 4) with |w| <= 128.
    const int floor_t = pc.split_quads == 4 ? 32 : 64;
    ASSERT_GE(pc.split_t, floor_t);
    ASSERT_LT(pc.split_t, 2 * floor_t) << "weights this large must lower the bound below the pair bound";
    quads4 += pc.split_quads == 4;
    std::vector<int8_t> input((size_t)p.input_h * p.input_w * p.input_c);
    for (size_t i = 0; i < input.size(); ++i) {
      const int c = (int)(i % p.input_c);
      const int u = Uniform(rng, 0, 99) < 2 ? Uniform(rng, 0, 255) : pc.split_tk[c];
      input[i] = (int8_t)(u - 128);
    }
    std::vector<int8_t> want((size_t)p.output_h * p.output_w * p.output_c), got(want.size());
    reference::ConvPerChannelInt8(p, rq.data(), input.data(), filter.data(), bias.data(), want.data());
    for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
      const int64_t before = optimized::SplitGemmCallsForTests();
      std::fill(got.begin(), got.end(), (int8_t)0x5a);
      optimized::ConvInt8(pc, input.data(), got.data(), nullptr, tp, KernelPath::kAvx2);
      EXPECT_GT(optimized::SplitGemmCallsForTests(), before) << "trial " << trial << ": the split kernel did not run";
      ASSERT_EQ(got, want) << "trial " << trial << " threads " << (tp ? 2 : 1) << " T " << pc.split_t;
    }
  }
  optimized::SetSplitTuningForTests(true);
  EXPECT_GT(quads4, 0) << "no layer on the 2 x 32 tile";
  EXPECT_LT(quads4, 12) << "no layer on the 4 x 16 tile";
}

// The residual lists at their capacity: 64 input channels give SplitCap 16 entries per pixel.
// Pixels with exactly 16 residuals in the first 32-value run and none in the second, with 17 (too
// many: that unit falls back to the int16 GEMM), and with 16 spread over both runs, between pixels
// without any; a list one entry short or one too long gives wrong outputs.
TEST(OptimizedConv, SplitResidualListsAtTheirCapacityMatchReference) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2: the split GEMM is an AVX2 kernel";
  std::mt19937 rng(4242);
  ThreadPool pool(2);
  optimized::SetSplitGemmForTests(true);
  optimized::SetSplitTuningForTests(false);
  reference::ConvParams p;
  p.batches = 1;
  p.input_h = p.output_h = 12;  // enough pixels that 65 residuals stay within the split's budget
  p.input_w = p.output_w = 12;
  p.input_c = 64;
  p.output_c = 40;
  p.filter_h = p.filter_w = 1;
  p.stride_h = p.stride_w = 1;
  p.dilation_h = p.dilation_w = 1;
  p.input_offset = 128;
  p.output_offset = 3;
  p.act_min = -128;
  p.act_max = 127;
  std::vector<int8_t> filter((size_t)p.output_c * p.input_c);
  for (auto& w : filter) w = (int8_t)Uniform(rng, -90, 90);
  auto bias = RandomBias(rng, p.output_c);
  std::vector<Requant> rq(p.output_c);
  for (auto& r : rq) r = MakeRequant(std::exp2(-Uniform(rng, 13, 16)));
  for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
    p.requant = mode;
    auto pc = optimized::PackConvInt8(p, rq.data(), (int)rq.size(), filter.data(), bias.data());
    for (int c = 0; c < p.input_c; ++c) ASSERT_LT(pc.split_tk[c], 255) << "channel " << c << " can have no residual";
    std::vector<int8_t> input((size_t)p.input_h * p.input_w * p.input_c);
    for (size_t i = 0; i < input.size(); ++i) input[i] = (int8_t)(Uniform(rng, 0, pc.split_tk[i % 64]) - 128);
    auto residuals = [&](int pixel, std::vector<int> channels) {
      for (int c : channels) input[(size_t)pixel * 64 + c] = 127;  // u = 255, above every bound
    };
    std::vector<int> first16, first17, spread16;  // channels 0, 2, .., 30 (32); 3, 7, .., 63
    for (int i = 0; i < 17; ++i) {
      if (i < 16) first16.push_back(2 * i), spread16.push_back(4 * i + 3);
      first17.push_back(2 * i);
    }
    residuals(1, first16);
    residuals(7, first17);
    residuals(12, spread16);
    residuals(143, first16);  // the last pixel
    std::vector<int8_t> want((size_t)p.output_h * p.output_w * p.output_c);
    reference::ConvPerChannelInt8(p, rq.data(), input.data(), filter.data(), bias.data(), want.data());
    for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
      const int64_t before = optimized::SplitGemmCallsForTests();
      EXPECT_EQ(Mismatches(pc, input, want, KernelPath::kAvx2, tp), 0u)
          << (mode == RequantMode::kTflite ? "tflite" : "xnnpack") << " threads " << (tp ? 2 : 1);
      EXPECT_GT(optimized::SplitGemmCallsForTests(), before) << "the split kernel did not run";
    }
  }
  optimized::SetSplitTuningForTests(true);
}

// The split bounds tuned to the activations (SplitTuning): the first call records the histogram,
// the second retunes. Hot channels (a few with large values, as ReLU6 layers have) must end with
// higher bounds and fewer residuals; every call, including inputs unlike the recorded ones and
// inputs exactly at the tuned bounds with weights at +-127/128, stays bit-exact.
TEST(OptimizedConv, SplitTuningStaysExact) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2: the split GEMM is an AVX2 kernel";
  std::mt19937 rng(77);
  ThreadPool pool(2);
  optimized::SetSplitGemmForTests(true);
  optimized::SetSplitTuningForTests(true);
  for (int trial = 0; trial < 8; ++trial) {
    reference::ConvParams p;
    p.batches = 1;
    p.input_h = 9;
    p.input_w = 8;
    p.input_c = trial % 2 ? 41 : 96;
    p.output_c = trial % 3 == 0 ? 70 : 33;
    p.filter_h = p.filter_w = 1;
    p.stride_h = p.stride_w = 1;
    p.dilation_h = p.dilation_w = 1;
    reference::ComputePadding(reference::Padding::kSame, p.input_h, 1, 1, 1, &p.output_h, &p.pad_top);
    reference::ComputePadding(reference::Padding::kSame, p.input_w, 1, 1, 1, &p.output_w, &p.pad_left);
    p.input_offset = 128;
    p.output_offset = Uniform(rng, -10, 10);
    p.act_min = -128;
    p.act_max = 127;
    p.requant = trial % 4 < 2 ? RequantMode::kXnnpack : RequantMode::kTflite;
    const bool extreme = trial >= 4;  // weights mostly at +-127/128: bounds near their floor
    std::vector<int8_t> filter((size_t)p.output_c * p.input_c);
    for (auto& w : filter) {
      const int r = Uniform(rng, 0, 9);
      w = (int8_t)(extreme ? (r < 4 ? 127 : r < 8 ? -128 : Uniform(rng, -128, 127)) : Uniform(rng, -90, 90));
    }
    auto bias = RandomBias(rng, p.output_c);
    std::vector<Requant> rq(p.output_c);
    for (auto& r : rq) r = MakeRequant(std::exp2(-Uniform(rng, 14, 18)));
    auto pc = optimized::PackConvInt8(p, rq.data(), (int)rq.size(), filter.data(), bias.data());
    ASSERT_TRUE(pc.split_tuning) << "one-tap layers carry the tuning state";
    const std::vector<uint8_t> weight_only(pc.split_tk.begin(), pc.split_tk.begin() + p.input_c);
    const size_t n_in = (size_t)p.input_h * p.input_w * p.input_c;
    // Hot channels: every 7th, mostly large values; the others small, a few large.
    auto skewed = [&](uint32_t seed) {
      std::mt19937 g(seed);
      std::vector<int8_t> x(n_in);
      for (size_t i = 0; i < n_in; ++i) {
        const int c = (int)(i % p.input_c);
        const int u = c % 7 == 3 ? Uniform(g, 100, 255) : (Uniform(g, 0, 99) < 2 ? Uniform(g, 0, 255) : Uniform(g, 0, 40));
        x[i] = (int8_t)(u - 128);
      }
      return x;
    };
    auto check = [&](const std::vector<int8_t>& x, ThreadPool* tp, const char* what) {
      std::vector<int8_t> want(x.size() / p.input_c * p.output_c), got(want.size(), 0x5a);
      reference::ConvPerChannelInt8(p, rq.data(), x.data(), filter.data(), bias.data(), want.data());
      optimized::ConvInt8(pc, x.data(), got.data(), nullptr, tp, KernelPath::kAvx2);
      EXPECT_EQ(got, want) << "trial " << trial << ": " << what;
      return optimized::SplitLastResidualsForTests();
    };
    const auto a = skewed(trial);
    const int64_t before = check(a, nullptr, "first call (records)");
    const int64_t after = check(a, &pool, "second call (retuned)");
    if (!extreme) {
      EXPECT_LT(after, before) << "trial " << trial << ": tuning did not reduce the residuals";
    }
    const uint8_t* tuned = optimized::SplitBoundsForTests(pc);
    int raised = 0;
    for (int c = 0; c < p.input_c; ++c) raised += tuned[c] > weight_only[c];
    if (!extreme) {
      EXPECT_GT(raised, 0) << "trial " << trial;
    }
    check(skewed(1000 + trial), nullptr, "another skewed input");
    // Unlike the recorded input: uniform values, then every value at its tuned bound.
    std::vector<int8_t> u(n_in);
    for (auto& v : u) v = (int8_t)Uniform(rng, -128, 127);
    check(u, &pool, "uniform input");
    for (size_t i = 0; i < n_in; ++i) u[i] = (int8_t)(tuned[i % p.input_c] - 128);
    check(u, nullptr, "every value at its tuned bound");
  }
}

// Cold input channels (SplitCold): a direct 1x1 layer whose first call leaves input channels at one
// value (u = 0, the zero point of a ReLU-style input, or another constant) skips whole 16-channel
// groups of them from the retune on. Every call stays bit-exact: the recorded input again, values
// arriving in skipped channels above and below their constant (a few: residuals; every one at 255:
// the int16 GEMM), uniform inputs, on 1-3 threads. It fails when skipped channels' values are
// dropped or put at another position, a constant is left out of the bias, or kept values misplaced.
template <class T>
void ColdChannelTrial(int trial, std::mt19937& rng) {
  constexpr bool kU8 = std::is_same_v<T, uint8_t>;
  const int ics[] = {64, 96, 128, 256, 512, 160};
  const int ocs[] = {40, 64, 33, 70, 32, 48};
  reference::ConvParams p;
  p.batches = trial == 5 ? 2 : 1;
  p.input_h = p.output_h = 6 + trial % 3;
  p.input_w = p.output_w = 8;
  p.input_c = ics[trial];
  p.output_c = ocs[trial];
  p.filter_h = p.filter_w = 1;
  p.stride_h = p.stride_w = 1;
  p.dilation_h = p.dilation_w = 1;
  p.input_offset = kU8 ? 0 : 128;  // Z_in: u = 0 is the zero point
  p.filter_offset = kU8 ? -128 : 0;
  p.output_offset = Uniform(rng, -10, 10) + (kU8 ? 128 : 0);
  p.act_min = trial % 2 ? p.output_offset : (kU8 ? 0 : -128);  // a fused ReLU on odd trials
  p.act_max = kU8 ? 255 : 127;
  p.requant = trial % 4 < 2 ? RequantMode::kTflite : RequantMode::kXnnpack;
  std::vector<T> filter((size_t)p.output_c * p.input_c);
  for (auto& w : filter) w = (T)(kU8 ? Uniform(rng, 38, 218) : Uniform(rng, -90, 90));
  auto bias = RandomBias(rng, p.output_c);
  std::vector<Requant> rq(p.output_c);
  for (auto& r : rq) r = MakeRequant(std::exp2(-Uniform(rng, 13, 16)));
  if (kU8) std::fill(rq.begin(), rq.end(), rq[0]);
  // Cold: about a quarter of the channels at zero, scattered (every channel c with (5c + trial) % 4
  // == 0), and a tenth at a constant above zero (their own).
  std::vector<uint8_t> is_cold(p.input_c), constant(p.input_c, 0);
  int live = 0;
  for (int c = 0; c < p.input_c; ++c) {
    is_cold[c] = (5 * c + trial) % 4 == 0 || (3 * c + trial) % 10 == 1;
    if (is_cold[c] && (5 * c + trial) % 4 != 0) constant[c] = (uint8_t)(1 + (13 * c) % 30);
    live += !is_cold[c];
  }
  const int want_skipped = p.input_c - (live + 15) / 16 * 16;
  const size_t n_in = (size_t)p.batches * p.input_h * p.input_w * p.input_c;
  auto to_t = [&](int u) { return (T)(kU8 ? u : u - 128); };
  auto relu_like = [&](uint32_t seed) {
    std::mt19937 g(seed);
    std::vector<T> x(n_in);
    for (size_t i = 0; i < n_in; ++i) {
      const int c = (int)(i % p.input_c);
      x[i] = to_t(is_cold[c]         ? constant[c]
                  : Uniform(g, 0, 1)   ? 0
                  : Uniform(g, 0, 49) ? Uniform(g, 1, 40)
                                      : Uniform(g, 1, 255));
    }
    return x;
  };
  auto pc = [&] {
    std::vector<T> unused(n_in), want((size_t)p.batches * p.output_h * p.output_w * p.output_c);
    return PackWithReference<T>(p, rq, unused, filter, bias.data(), want);
  }();
  ThreadPool pool2(2), pool3(3);
  int call = 0;
  auto check = [&](const std::vector<T>& x, const char* what) {
    std::vector<T> want((size_t)p.batches * p.output_h * p.output_w * p.output_c);
    PackWithReference<T>(p, rq, x, filter, bias.data(), want);
    ThreadPool* tp = call % 3 == 0 ? nullptr : (call % 3 == 1 ? &pool2 : &pool3);
    ++call;
    const int64_t before = optimized::SplitGemmCallsForTests();
    EXPECT_EQ(Mismatches(pc, x, want, KernelPath::kAvx2, tp), 0u)
        << (kU8 ? "uint8" : "int8") << " trial " << trial << ": " << what << ", threads " << (tp ? tp->size() : 1);
    return optimized::SplitGemmCallsForTests() > before;
  };
  const auto a = relu_like(100 + trial);
  check(a, "first call (records)");
  EXPECT_EQ(optimized::SplitColdSkippedForTests(pc), 0) << "trial " << trial << ": skipped before the retune";
  EXPECT_TRUE(check(a, "second call (retuned, channels skipped)"))
      << (kU8 ? "uint8" : "int8") << " trial " << trial << ": the split kernel did not run";
  ASSERT_GT(want_skipped, 0);
  EXPECT_EQ(optimized::SplitColdSkippedForTests(pc), want_skipped) << (kU8 ? "uint8" : "int8") << " trial " << trial;
  check(relu_like(200 + trial), "another input with the same cold channels");
  // A few values in skipped (and kept cold) channels, 0 and 255 among them, above and below the
  // constants: residuals.
  auto b = relu_like(300 + trial);
  int placed = 0;
  for (size_t i = 0; i < n_in && placed < 8; i += 37 + trial)
    if (is_cold[i % p.input_c]) b[i] = to_t(placed++ % 3 == 0 ? 255 : (placed % 3 == 1 ? 0 : Uniform(rng, 1, 254)));
  EXPECT_TRUE(check(b, "values in cold channels")) << "trial " << trial << ": the split kernel did not run";
  EXPECT_GT(optimized::SplitLastResidualsForTests(), 0);
  std::vector<T> u(n_in);
  for (auto& v : u) v = (T)(kU8 ? Uniform(rng, 0, 255) : Uniform(rng, -128, 127));
  check(u, "uniform input");
  check(a, "the recorded input again");
  EXPECT_EQ(optimized::SplitColdSkippedForTests(pc), want_skipped) << "trial " << trial << ": plan dropped early";
  // Every cold channel at 255: more residuals than the budget (the int16 GEMM), exact all the same;
  // three such calls in a row drop the plan, and the layer stays exact without it.
  auto h = relu_like(400 + trial);
  for (size_t i = 0; i < n_in; ++i)
    if (is_cold[i % p.input_c]) h[i] = to_t(255);
  for (int k = 0; k < 3; ++k) check(h, "every cold channel at 255");
  EXPECT_EQ(optimized::SplitColdSkippedForTests(pc), 0) << "trial " << trial << ": the plan survived its misses";
  check(a, "the recorded input, plan dropped");
  check(b, "values in cold channels, plan dropped");
}

TEST(OptimizedConv, ColdChannelsAreSkippedExactly) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2: the split GEMM is an AVX2 kernel";
  std::mt19937 rng(515);
  optimized::SetSplitGemmForTests(true);
  optimized::SetSplitTuningForTests(true);
  optimized::SetSplitColdForTests(true);
  for (int trial = 0; trial < 6; ++trial) {
    ColdChannelTrial<int8_t>(trial, rng);
    if (trial < 3) ColdChannelTrial<uint8_t>(trial, rng);
  }
}

// FULLY_CONNECTED through the split GEMM (batch rows as pixels), with the test hook off: the int16 GEMM.
TEST(OptimizedConv, SplitGemmOffRunsTheInt16Gemm) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(8);
  reference::FullyConnectedParams f;
  f.batches = 5;
  f.input_depth = 77;
  f.output_depth = 33;
  f.input_offset = 128;
  f.act_min = -128;
  f.act_max = 127;
  std::vector<int8_t> x(5 * 77);
  for (auto& v : x) v = (int8_t)(-128 + Uniform(rng, 0, 100));
  x[7] = 127;  // one residual (u = 255 > T)
  auto w = RandomBytes<int8_t>(rng, 33 * 77, true);
  auto b = RandomBias(rng, 33);
  std::vector<Requant> rq(33, MakeRequant(0.003));
  std::vector<int8_t> want(5 * 33), got(5 * 33);
  reference::FullyConnectedInt8(f, rq.data(), 33, x.data(), w.data(), b.data(), want.data());
  auto pc = optimized::PackFullyConnectedInt8(f, rq.data(), 33, w.data(), b.data());
  for (bool on : {true, false}) {
    optimized::SetSplitGemmForTests(on);
    const int64_t before = optimized::SplitGemmCallsForTests();
    optimized::ConvInt8(pc, x.data(), got.data(), nullptr, nullptr, KernelPath::kAvx2);
    EXPECT_EQ(got, want) << "split " << on;
    EXPECT_EQ(optimized::SplitGemmCallsForTests() > before, on);
  }
  optimized::SetSplitGemmForTests(true);
  // Every value above T (u = 255): the copy-per-unit split GEMM's units run the int16 tile.
  std::fill(x.begin(), x.end(), (int8_t)127);
  reference::FullyConnectedInt8(f, rq.data(), 33, x.data(), w.data(), b.data(), want.data());
  optimized::ConvInt8(pc, x.data(), got.data(), nullptr, nullptr, KernelPath::kAvx2);
  EXPECT_EQ(got, want) << "dense residuals";
}

}  // namespace
}  // namespace qat::kernels
