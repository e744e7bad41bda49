// Randomised bit-exactness test of the optimised DEPTHWISE_CONV_2D against the reference kernels:
// every compiled path, both requantization modes, int8 and uint8, odd channel counts (vector
// tails), depth multipliers 1-3, strides, dilation, padding, zero points at the extremes.
#include <gtest/gtest.h>

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
  ThreadPool pool(2);
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
        for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
          std::vector<T> got(out_n, 0x5a);
          if constexpr (std::is_same_v<T, uint8_t>)
            optimized::DepthwiseConvUint8(pd, input.data(), got.data(), nullptr, tp, path);
          else
            optimized::DepthwiseConvInt8(pd, input.data(), got.data(), nullptr, tp, path);
          size_t bad = 0;
          for (size_t i = 0; i < out_n; ++i) bad += got[i] != want[i];
          ASSERT_EQ(bad, 0u) << "seed " << seed << " trial " << trial << " path " << KernelPathName(path)
                             << " mode " << (int)mode << " c " << p.output_c << " m " << p.depth_multiplier;
        }
      }
    }
  }
}

TEST(OptimizedDepthwiseConv, Int8MatchesReferenceOnEveryPath) { RunTrials<int8_t>(false, 4242, 200); }
TEST(OptimizedDepthwiseConv, Uint8MatchesReferenceOnEveryPath) { RunTrials<uint8_t>(true, 99, 200); }

}  // namespace
}  // namespace qat::kernels
