// Randomised bit-exactness test of the optimised MAX_POOL_2D / AVERAGE_POOL_2D against the
// reference kernels on every compiled path, int8, uint8 and float32, random windows, strides, padding,
// channel counts (vector tails) and clamps; seeded, tolerance 0.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/optimized/pooling.h"
#include "kernels/reference/average_pool.h"
#include "kernels/reference/max_pool.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

// Random pooling windows: sizes, global pooling every tenth trial, strides, SAME / VALID; false when
// the output is empty.
bool RandomPool(std::mt19937& rng, int trial, int max_channels, reference::PoolParams* pp) {
  reference::PoolParams& p = *pp;
  p.batches = Uniform(rng, 1, 2);
  p.input_h = Uniform(rng, 1, 12);
  p.input_w = Uniform(rng, 1, 12);
  p.channels = Uniform(rng, 1, max_channels);
  p.filter_h = Uniform(rng, 1, 4);
  p.filter_w = Uniform(rng, 1, 4);
  if (trial % 10 == 0) {  // global pooling
    p.filter_h = p.input_h;
    p.filter_w = p.input_w;
  }
  p.stride_h = Uniform(rng, 1, 3);
  p.stride_w = Uniform(rng, 1, 3);
  const auto pad = Uniform(rng, 0, 1) ? reference::Padding::kSame : reference::Padding::kValid;
  reference::ComputePadding(pad, p.input_h, p.filter_h, p.stride_h, 1, &p.output_h, &p.pad_top);
  reference::ComputePadding(pad, p.input_w, p.filter_w, p.stride_w, 1, &p.output_w, &p.pad_left);
  return p.output_h > 0 && p.output_w > 0;
}

template <class T>
void RunTrials(bool is_uint8, uint32_t seed, int trials) {
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  for (int trial = 0; trial < trials; ++trial) {
    reference::PoolParams p;
    if (!RandomPool(rng, trial, 80, &p)) continue;
    RandomClamp(rng, is_uint8, &p.act_min, &p.act_max);
    auto input = RandomBytes<T>(rng, (size_t)p.batches * p.input_h * p.input_w * p.channels);
    const size_t out_n = (size_t)p.batches * p.output_h * p.output_w * p.channels;
    for (bool average : {false, true}) {
      std::vector<T> want(out_n);
      if constexpr (std::is_same_v<T, uint8_t>) {
        if (average) reference::AveragePoolUint8(p, input.data(), want.data());
        else reference::MaxPoolUint8(p, input.data(), want.data());
      } else {
        if (average) reference::AveragePoolInt8(p, input.data(), want.data());
        else reference::MaxPoolInt8(p, input.data(), want.data());
      }
      for (KernelPath path : PathsToTest())
        for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
          std::vector<T> got(out_n, 0x5a);
          if constexpr (std::is_same_v<T, uint8_t>) {
            if (average) optimized::AveragePoolUint8(p, input.data(), got.data(), tp, path);
            else optimized::MaxPoolUint8(p, input.data(), got.data(), tp, path);
          } else {
            if (average) optimized::AveragePoolInt8(p, input.data(), got.data(), tp, path);
            else optimized::MaxPoolInt8(p, input.data(), got.data(), tp, path);
          }
          ASSERT_EQ(got, want) << "seed " << seed << " trial " << trial << " average " << average << " path "
                               << KernelPathName(path);
        }
    }
  }
}

// float32: random values with NaNs, infinities and signed zeros sprinkled in, random clamps
// (none, ReLU, ReLU6, an odd range); compared bit for bit (NaN payloads aside: any NaN equals
// any NaN here).
TEST(OptimizedPooling, FloatMatchesReferenceOnEveryPath) {
  const uint32_t seed = 4242;
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  for (int trial = 0; trial < 200; ++trial) {
    reference::PoolParams p;
    if (!RandomPool(rng, trial, 40, &p)) continue;
    switch (Uniform(rng, 0, 3)) {
      case 0: p.float_act = reference::ActivationRangeFloat(reference::Activation::kRelu); break;
      case 1: p.float_act = reference::ActivationRangeFloat(reference::Activation::kRelu6); break;
      case 2: p.float_act = {-0.75f, 1.5f}; break;
      default: p.float_act = {}; break;
    }
    const auto input = SpecialFloats(rng, (size_t)p.batches * p.input_h * p.input_w * p.channels, -4.f, 4.f);
    const size_t out_n = (size_t)p.batches * p.output_h * p.output_w * p.channels;
    for (bool average : {false, true}) {
      std::vector<float> want(out_n);
      if (average) reference::AveragePoolFloat(p, input.data(), want.data());
      else reference::MaxPoolFloat(p, input.data(), want.data());
      for (KernelPath path : PathsToTest())
        for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
          std::vector<float> got(out_n, 12345.f);
          if (average) optimized::AveragePoolFloat(p, input.data(), got.data(), tp, path);
          else optimized::MaxPoolFloat(p, input.data(), got.data(), tp, path);
          for (size_t i = 0; i < out_n; ++i)
            ASSERT_TRUE(SameFloat(got[i], want[i]))
                << "seed " << seed << " trial " << trial << " average " << average << " path " << KernelPathName(path)
                << " element " << i << ": got " << got[i] << ", want " << want[i];
        }
    }
  }
}

TEST(OptimizedPooling, Int8MatchesReferenceOnEveryPath) { RunTrials<int8_t>(false, 31337, 200); }
TEST(OptimizedPooling, Uint8MatchesReferenceOnEveryPath) { RunTrials<uint8_t>(true, 2718, 200); }

}  // namespace
}  // namespace qat::kernels
