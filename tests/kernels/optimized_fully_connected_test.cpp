// Randomised bit-exactness test of the optimised FULLY_CONNECTED (a 1x1 convolution over the
// batches in kernels/optimized/conv.h) against the reference kernels: every compiled path, both
// requantization modes, int8 per-tensor and per-channel, uint8, odd K and N; seeded, tolerance 0.
#include <gtest/gtest.h>

#include <cmath>

#include "kernels/optimized/conv.h"
#include "kernels/reference/fully_connected.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

template <class T>
void RunTrials(bool is_uint8, uint32_t seed, int trials) {
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  for (int trial = 0; trial < trials; ++trial)
    for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
      reference::FullyConnectedParams p;
      p.requant = mode;
      p.batches = Uniform(rng, 0, 3) == 0 ? Uniform(rng, 5, 70) : Uniform(rng, 1, 4);
      p.input_depth = Uniform(rng, 1, 300);
      p.output_depth = Uniform(rng, 1, 70);
      p.input_offset = -ZeroPoint(rng, is_uint8);
      p.filter_offset = is_uint8 ? -ZeroPoint(rng, true) : 0;
      p.output_offset = ZeroPoint(rng, is_uint8);
      RandomClamp(rng, is_uint8, &p.act_min, &p.act_max);
      auto x = RandomBytes<T>(rng, (size_t)p.batches * p.input_depth);
      auto w = RandomBytes<T>(rng, (size_t)p.output_depth * p.input_depth, !is_uint8);
      auto bias = RandomBias(rng, p.output_depth);
      const int rq_count = is_uint8 || Uniform(rng, 0, 1) ? 1 : p.output_depth;
      std::vector<Requant> rq(rq_count);
      for (auto& r : rq) r = RandomRequant(rng);
      std::vector<T> want((size_t)p.batches * p.output_depth);
      optimized::PackedConv pc;
      if constexpr (std::is_same_v<T, uint8_t>) {
        reference::FullyConnectedUint8(p, rq[0], x.data(), w.data(), bias.data(), want.data());
        pc = optimized::PackFullyConnectedUint8(p, rq[0], w.data(), bias.data());
      } else {
        reference::FullyConnectedInt8(p, rq.data(), rq_count, x.data(), w.data(), bias.data(), want.data());
        pc = optimized::PackFullyConnectedInt8(p, rq.data(), rq_count, w.data(), bias.data());
      }
      for (KernelPath path : PathsToTest())
        for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
          std::vector<T> got(want.size(), 0x5a);
          if constexpr (std::is_same_v<T, uint8_t>)
            optimized::ConvUint8(pc, x.data(), got.data(), nullptr, tp, path);
          else
            optimized::ConvInt8(pc, x.data(), got.data(), nullptr, tp, path);
          ASSERT_EQ(got, want) << "seed " << seed << " trial " << trial << " path " << KernelPathName(path)
                               << " mode " << (int)mode;
        }
    }
}

TEST(OptimizedFullyConnected, Int8MatchesReferenceOnEveryPath) { RunTrials<int8_t>(false, 8080, 120); }
TEST(OptimizedFullyConnected, Uint8MatchesReferenceOnEveryPath) { RunTrials<uint8_t>(true, 9090, 120); }

// The kTflite output stage over the whole int32 accumulator range: biases anywhere in int32, every
// right shift 0-31 and a few left shifts, multipliers over [0, 2^31); int8 and uint8 outputs.
TEST(OptimizedFullyConnected, TfliteOutputStageOverTheWholeInt32Range) {
  std::mt19937 rng(4242);
  ThreadPool pool(2);
  for (int trial = 0; trial < 20; ++trial) {
    reference::FullyConnectedParams p;
    p.requant = RequantMode::kTflite;
    p.batches = Uniform(rng, 1, 9);
    p.input_depth = Uniform(rng, 1, 3);
    p.output_depth = 48;
    p.input_offset = -ZeroPoint(rng, false);
    p.output_offset = ZeroPoint(rng, false);
    RandomClamp(rng, false, &p.act_min, &p.act_max);
    auto x = RandomBytes<int8_t>(rng, (size_t)p.batches * p.input_depth);
    auto w = RandomBytes<int8_t>(rng, (size_t)p.output_depth * p.input_depth, true);
    std::vector<int32_t> bias(p.output_depth);
    std::vector<Requant> rq(p.output_depth);
    for (int c = 0; c < p.output_depth; ++c) {
      rq[c].multiplier = c % 7 == 0 ? (int32_t)(rng() >> 1) : (int32_t)((1u << 30) + (rng() >> 2));
      rq[c].shift = c < 32 ? -c : Uniform(rng, -31, 3);
      // Mostly an accumulator whose result lands near the output range (so rounding shows), else
      // any int32.
      const double real = std::ldexp((double)rq[c].multiplier, rq[c].shift - 31);
      const double target = Uniform(rng, -300, 300) + 0.5 * Uniform(rng, 0, 1);
      const double acc = real > 0 ? target / real : 0;
      bias[c] = Uniform(rng, 0, 4) == 0 || std::fabs(acc) > 2e9 ? (int32_t)rng() : (int32_t)std::llround(acc);
    }
    std::vector<int8_t> want((size_t)p.batches * p.output_depth);
    reference::FullyConnectedInt8(p, rq.data(), p.output_depth, x.data(), w.data(), bias.data(), want.data());
    auto pc = optimized::PackFullyConnectedInt8(p, rq.data(), p.output_depth, w.data(), bias.data());
    for (KernelPath path : PathsToTest())
      for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
        std::vector<int8_t> got(want.size(), 0x5a);
        optimized::ConvInt8(pc, x.data(), got.data(), nullptr, tp, path);
        ASSERT_EQ(got, want) << "trial " << trial << " path " << KernelPathName(path);
      }
  }
}

}  // namespace
}  // namespace qat::kernels
