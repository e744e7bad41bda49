// Randomised bit-exactness test of the optimised quantized ADD against the reference kernel:
// every compiled path, both requantization modes, int8 and uint8, equal shapes, scalar and general broadcasts, random scales
// and zero points at the extremes; seeded, tolerance 0.
#include <gtest/gtest.h>

#include "kernels/optimized/add.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

template <class T>
void RunTrials(bool is_uint8, uint32_t seed, int trials) {
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  std::uniform_real_distribution<float> scale(0.001f, 0.2f);
  for (int trial = 0; trial < trials; ++trial) {
    int d1[4], d2[4];
    for (int i = 0; i < 4; ++i) d1[i] = Uniform(rng, 1, i == 0 ? 2 : 40);
    for (int i = 0; i < 4; ++i) d2[i] = d1[i];
    const int kind = trial % 3;  // 0: same shape, 1: scalar, 2: per-channel broadcast (reference)
    if (kind == 1) for (int& d : d2) d = 1;
    if (kind == 2) d2[0] = d2[1] = d2[2] = 1;
    reference::BroadcastShape s;
    ASSERT_TRUE(reference::MakeBroadcastShape(d1, 4, d2, 4, &s));
    reference::ArithmeticParams p;
    const float s1 = scale(rng), s2 = scale(rng), so = scale(rng);
    const int32_t z1 = ZeroPoint(rng, is_uint8), z2 = ZeroPoint(rng, is_uint8), zo = ZeroPoint(rng, is_uint8);
    reference::PrepareAddSubQuantized(s1, z1, s2, z2, so, zo, &p);
    reference::PrepareAddXnnpack(s1, z1, s2, z2, so, &p);
    p.requant = trial % 2 ? RequantMode::kXnnpack : RequantMode::kTflite;
    RandomClamp(rng, is_uint8, &p.act_min, &p.act_max);
    const size_t n1 = (size_t)d1[0] * d1[1] * d1[2] * d1[3], n2 = (size_t)d2[0] * d2[1] * d2[2] * d2[3];
    auto a = RandomBytes<T>(rng, n1), b = RandomBytes<T>(rng, n2);
    std::vector<T> want(n1);
    if constexpr (std::is_same_v<T, uint8_t>)
      reference::AddUint8(p, s, a.data(), b.data(), want.data());
    else
      reference::AddInt8(p, s, a.data(), b.data(), want.data());
    for (KernelPath path : PathsToTest())
      for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
        std::vector<T> got(n1, 0x5a);
        if constexpr (std::is_same_v<T, uint8_t>)
          optimized::AddUint8(p, s, a.data(), b.data(), got.data(), tp, path);
        else
          optimized::AddInt8(p, s, a.data(), b.data(), got.data(), tp, path);
        ASSERT_EQ(got, want) << "seed " << seed << " trial " << trial << " path " << KernelPathName(path);
      }
  }
}

TEST(OptimizedAdd, Int8MatchesReferenceOnEveryPath) { RunTrials<int8_t>(false, 1234, 150); }
TEST(OptimizedAdd, Uint8MatchesReferenceOnEveryPath) { RunTrials<uint8_t>(true, 4321, 150); }

}  // namespace
}  // namespace qat::kernels
