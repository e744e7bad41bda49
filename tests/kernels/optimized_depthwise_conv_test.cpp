// Randomised bit-exactness test of the optimised DEPTHWISE_CONV_2D against the reference kernels:
// every compiled path, both requantization modes, int8 and uint8, odd channel counts (vector
// tails), depth multipliers 1-3, strides, dilation, padding, zero points at the extremes; 1, 2 and
// 3 threads (row and channel-group splits) with the scratch DepthwiseScratchBytes asks for, filled
// with garbage, or none. MobileNet-v1 layer shapes check that 1 and N threads give the same bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/optimized/depthwise_conv.h"
#include "kernels/reference/depthwise_conv.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

template <class T>
void RunTrials(bool is_uint8, uint32_t seed, int trials) {
  std::mt19937 rng(seed);
  ThreadPool pool2(2), pool3(3);
  for (int trial = 0; trial < trials; ++trial) {
    for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
      reference::ConvParams p;
      p.requant = mode;
      p.batches = Uniform(rng, 1, 2);
      p.input_h = Uniform(rng, 1, 12);
      p.input_w = Uniform(rng, 1, 12);
      p.input_c = Uniform(rng, 1, 45);
      p.depth_multiplier = Uniform(rng, 0, 4) == 0 ? Uniform(rng, 2, 3) : 1;
      p.output_c = p.input_c * p.depth_multiplier;
      p.filter_h = Uniform(rng, 1, 5);
      p.filter_w = Uniform(rng, 0, 1) ? p.filter_h : Uniform(rng, 1, 5);
      p.stride_h = Uniform(rng, 1, 2);
      p.stride_w = Uniform(rng, 1, 2);
      p.dilation_h = Uniform(rng, 0, 4) == 0 ? 2 : 1;
      p.dilation_w = Uniform(rng, 0, 4) == 0 ? 2 : 1;
      const auto pad = Uniform(rng, 0, 1) ? reference::Padding::kSame : reference::Padding::kValid;
      reference::ComputePadding(pad, p.input_h, p.filter_h, p.stride_h, p.dilation_h, &p.output_h, &p.pad_top);
      reference::ComputePadding(pad, p.input_w, p.filter_w, p.stride_w, p.dilation_w, &p.output_w, &p.pad_left);
      if (p.output_h == 0 || p.output_w == 0) continue;
      p.input_offset = -ZeroPoint(rng, is_uint8);
      p.filter_offset = is_uint8 ? -ZeroPoint(rng, true) : 0;
      p.output_offset = ZeroPoint(rng, is_uint8);
      RandomClamp(rng, is_uint8, &p.act_min, &p.act_max);
      const size_t in_n = (size_t)p.batches * p.input_h * p.input_w * p.input_c;
      const size_t out_n = (size_t)p.batches * p.output_h * p.output_w * p.output_c;
      auto input = RandomBytes<T>(rng, in_n);
      auto filter = RandomBytes<T>(rng, (size_t)p.filter_h * p.filter_w * p.output_c, !is_uint8);
      auto bias = RandomBias(rng, p.output_c);
      const bool with_bias = Uniform(rng, 0, 5) != 0;
      std::vector<Requant> rq(is_uint8 ? 1 : p.output_c);
      for (auto& r : rq) r = RandomRequant(rng);
      std::vector<T> want(out_n);
      optimized::PackedDepthwise pd;
      const int32_t* b = with_bias ? bias.data() : nullptr;
      if constexpr (std::is_same_v<T, uint8_t>) {
        reference::DepthwiseConvUint8(p, rq[0], input.data(), filter.data(), b, want.data());
        pd = optimized::PackDepthwiseUint8(p, rq[0], filter.data(), b);
      } else {
        reference::DepthwiseConvPerChannelInt8(p, rq.data(), input.data(), filter.data(), b, want.data());
        pd = optimized::PackDepthwiseInt8(p, rq.data(), (int)rq.size(), filter.data(), b);
      }
      for (KernelPath path : PathsToTest()) {
        for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool2, &pool3}) {
          std::vector<T> got(out_n, 0x5a);
          std::vector<uint8_t> scratch(optimized::DepthwiseScratchBytes(pd, tp), 0xa5);
          void* s = trial % 2 ? scratch.data() : nullptr;
          if constexpr (std::is_same_v<T, uint8_t>)
            optimized::DepthwiseConvUint8(pd, input.data(), got.data(), s, tp, path);
          else
            optimized::DepthwiseConvInt8(pd, input.data(), got.data(), s, tp, path);
          size_t bad = 0;
          for (size_t i = 0; i < out_n; ++i) bad += got[i] != want[i];
          ASSERT_EQ(bad, 0u) << "seed " << seed << " trial " << trial << " path " << KernelPathName(path)
                             << " mode " << (int)mode << " c " << p.output_c << " m " << p.depth_multiplier
                             << " threads " << (tp ? tp->size() : 1);
        }
      }
    }
  }
}

// The 3x3 layers of MobileNet-v1 at batch 1 and 2 (channel-group and row splits): every path and
// thread count against the reference, both modes, fused ReLU6-like clamp.
TEST(OptimizedDepthwiseConv, MobileNetLayersSameBytesOnAnyThreadCount) {
  std::mt19937 rng(7);
  ThreadPool pool2(2), pool3(3);
  const int shapes[][4] = {{112, 112, 32, 1}, {112, 112, 64, 2}, {28, 28, 256, 1}, {14, 14, 512, 2}, {7, 7, 1024, 1}};
  for (const auto& sh : shapes)
    for (int batches : {1, 2})
      for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
        reference::ConvParams p;
        p.requant = mode;
        p.batches = batches;
        p.input_h = sh[0];
        p.input_w = sh[1];
        p.input_c = p.output_c = sh[2];
        p.filter_h = p.filter_w = 3;
        p.stride_h = p.stride_w = sh[3];
        reference::ComputePadding(reference::Padding::kSame, p.input_h, 3, p.stride_h, 1, &p.output_h, &p.pad_top);
        reference::ComputePadding(reference::Padding::kSame, p.input_w, 3, p.stride_w, 1, &p.output_w, &p.pad_left);
        p.input_offset = -ZeroPoint(rng, false);
        p.output_offset = ZeroPoint(rng, false);
        p.act_min = p.output_offset;
        p.act_max = std::min(127, p.output_offset + 100);
        const size_t in_n = (size_t)p.batches * p.input_h * p.input_w * p.input_c;
        const size_t out_n = (size_t)p.batches * p.output_h * p.output_w * p.output_c;
        auto input = RandomBytes<int8_t>(rng, in_n);
        auto filter = RandomBytes<int8_t>(rng, (size_t)9 * p.output_c, true);
        auto bias = RandomBias(rng, p.output_c);
        std::vector<Requant> rq(p.output_c);
        for (auto& r : rq) r = MakeRequant(std::exp2(std::uniform_real_distribution<double>(-14, -6)(rng)));
        std::vector<int8_t> want(out_n);
        reference::DepthwiseConvPerChannelInt8(p, rq.data(), input.data(), filter.data(), bias.data(), want.data());
        auto pd = optimized::PackDepthwiseInt8(p, rq.data(), (int)rq.size(), filter.data(), bias.data());
        for (KernelPath path : PathsToTest())
          for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool2, &pool3}) {
            std::vector<int8_t> got(out_n, 0x5a);
            optimized::DepthwiseConvInt8(pd, input.data(), got.data(), nullptr, tp, path);
            ASSERT_TRUE(got == want) << sh[0] << "x" << sh[1] << "x" << sh[2] << " s" << sh[3] << " b" << batches
                                     << " path " << KernelPathName(path) << " threads " << (tp ? tp->size() : 1)
                                     << " mode " << (int)mode;
          }
      }
}

// The AVX2 output stage folds TFLite's two roundings into one 64-bit shift (see
// x86/depthwise_avx2.cpp): accumulators over the whole int32 range (a 1x1 filter and large
// biases), every right shift 0..31, multipliers at both ends of [2^30, 2^31) and 0, small left
// shifts; every other trial keeps all right shifts in 1..21 (the short stage, and with
// act_min >= Z_out its ReLU form). In TFLite mode inputs stay where the reference's int32
// arithmetic does not overflow; in XNNPACK mode accumulators span the whole range for every scale,
// so that products >= 2^31 reach the saturation (scales up to 8) and, where every scale is below 1
// (odd trials), the in-range form sees the largest accumulators.
void OutputStageOverTheInt32Range() {
  std::mt19937 rng(31);
  for (int trial = 0; trial < 40; ++trial)
    for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
      reference::ConvParams p;
      p.requant = mode;
      p.batches = 1;
      p.input_h = 3;
      p.input_w = 7;
      p.input_c = p.output_c = 35;
      p.filter_h = p.filter_w = 1;
      p.output_h = p.input_h;
      p.output_w = p.input_w;
      p.input_offset = -ZeroPoint(rng, false);
      // Z_out = 0 in a quarter of the trials: with any other zero point INT32_MAX + Z_out and
      // INT32_MIN + Z_out wrap to the same side, so only there does a saturation fix-up show.
      p.output_offset = trial % 4 == 2 ? 0 : ZeroPoint(rng, false);
      RandomClamp(rng, false, &p.act_min, &p.act_max);
      if (trial % 4 == 1) p.act_min = std::min(p.output_offset + Uniform(rng, 0, 3), p.act_max);  // ReLU stage
      auto input = RandomBytes<int8_t>(rng, (size_t)p.input_h * p.input_w * p.input_c);
      auto filter = RandomBytes<int8_t>(rng, (size_t)p.output_c, true);
      std::vector<Requant> rq(p.output_c);
      std::vector<int32_t> bias(p.output_c);
      const int32_t kMax = std::numeric_limits<int32_t>::max() - (1 << 17);
      for (int c = 0; c < p.output_c; ++c) {
        Requant& r = rq[c];
        const int kind = Uniform(rng, 0, 9);
        r.multiplier = kind == 0 ? 0 : kind == 1 ? (1 << 30) : kind == 2 ? std::numeric_limits<int32_t>::max()
                                                                          : Uniform(rng, 1 << 30, kMax);
        // Odd trials: every right shift in 1..21, the AVX2 path's short output stage.
        r.shift = trial % 2 ? -Uniform(rng, 1, 21) : Uniform(rng, 0, 7) == 0 ? Uniform(rng, 1, 3) : -Uniform(rng, 0, 31);
        r.scale = std::ldexp((float)r.multiplier, r.shift - 31);
        // |result| must stay below 2^31 - 256 for the reference's "+ zero point".
        const int32_t lim = mode == RequantMode::kXnnpack ? kMax
                            : r.shift > 0                  ? (1 << 26)
                            : r.shift == 0                 ? (1 << 30)
                                                           : kMax;
        // Mostly accumulators whose result lands near the output range (where rounding shows),
        // else anywhere in [-lim, lim].
        const double real = std::ldexp((double)r.multiplier, r.shift - 31);
        const double target = real > 0 && Uniform(rng, 0, 3) != 0
                                  ? std::uniform_real_distribution<double>(-300, 300)(rng) / real
                                  : std::uniform_real_distribution<double>(-lim, lim)(rng);
        bias[c] = (int32_t)std::clamp(target, (double)-lim, (double)lim);
      }
      std::vector<int8_t> want(input.size());
      reference::DepthwiseConvPerChannelInt8(p, rq.data(), input.data(), filter.data(), bias.data(), want.data());
      auto pd = optimized::PackDepthwiseInt8(p, rq.data(), (int)rq.size(), filter.data(), bias.data());
      for (KernelPath path : PathsToTest()) {
        std::vector<int8_t> got(want.size(), 0x5a);
        optimized::DepthwiseConvInt8(pd, input.data(), got.data(), nullptr, nullptr, path);
        ASSERT_TRUE(got == want) << "trial " << trial << " mode " << (int)mode << " path " << KernelPathName(path);
      }
    }
}
TEST(OptimizedDepthwiseConv, OutputStageOverTheInt32Range) { OutputStageOverTheInt32Range(); }

TEST(OptimizedDepthwiseConv, Int8MatchesReferenceOnEveryPath) { RunTrials<int8_t>(false, 4242, 200); }
TEST(OptimizedDepthwiseConv, Uint8MatchesReferenceOnEveryPath) { RunTrials<uint8_t>(true, 99, 200); }

// The row kernel's vpdpwssd build (AVX-512 VNNI CPUs run it) with vpdpwssd emulated lane by lane
// where the CPU lacks it: the same random layers on the AVX2 path. On a VNNI CPU the AVX2 path
// runs the hardware build in every test above already.
TEST(OptimizedDepthwiseConv, DpwssdBuildMatchesReference) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "the emulated build is compiled for AVX2";
  struct Emulate {
    Emulate() { optimized::SetDepthwiseDpwssdEmulationForTests(true); }
    ~Emulate() { optimized::SetDepthwiseDpwssdEmulationForTests(false); }
  } emulate;
  RunTrials<int8_t>(false, 4343, 100);
  RunTrials<uint8_t>(true, 98, 100);
  OutputStageOverTheInt32Range();
}

}  // namespace
}  // namespace qat::kernels
