// Randomised bit-exactness test of the optimised MAX_POOL_2D / AVERAGE_POOL_2D against the
// reference kernels on every compiled path, int8 and uint8, random windows, strides, padding,
// channel counts (vector tails) and clamps; seeded, tolerance 0.
#include <gtest/gtest.h>

#include "kernels/optimized/pooling.h"
#include "kernels/reference/average_pool.h"
#include "kernels/reference/max_pool.h"
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
    reference::PoolParams p;
    p.batches = Uniform(rng, 1, 2);
    p.input_h = Uniform(rng, 1, 12);
    p.input_w = Uniform(rng, 1, 12);
    p.channels = Uniform(rng, 1, 80);
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
    if (p.output_h == 0 || p.output_w == 0) continue;
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

TEST(OptimizedPooling, Int8MatchesReferenceOnEveryPath) { RunTrials<int8_t>(false, 31337, 200); }
TEST(OptimizedPooling, Uint8MatchesReferenceOnEveryPath) { RunTrials<uint8_t>(true, 2718, 200); }

}  // namespace
}  // namespace qat::kernels
