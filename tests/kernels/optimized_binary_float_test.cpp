// Randomised bit-exactness test of the optimised float32 ADD / SUB / MUL against the reference
// kernels on every compiled path: random broadcasts over ranks 1-5 (size-1 axes on either side,
// scalars, inner broadcasts that merge and ones that do not), inputs with NaN, infinities and signed
// zeros, random clamps, 1 thread and a pool of 2 with shapes large enough to split.
// Seeded; equal bits (any NaN equals any NaN).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/optimized/binary_float.h"
#include "kernels/reference/activations.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

bool SameFloat(float a, float b) {
  if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return std::memcmp(&a, &b, sizeof a) == 0;
}

std::vector<float> Values(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> u(-3.f, 3.f);
  std::vector<float> v(n);
  for (float& x : v) {
    const int r = Uniform(rng, 0, 99);
    x = r == 0 ? std::numeric_limits<float>::quiet_NaN()
               : r == 1 ? std::numeric_limits<float>::infinity()
               : r == 2 ? -std::numeric_limits<float>::infinity()
               : r == 3 ? -0.f
               : r == 4 ? 0.f
               : u(rng);
  }
  return v;
}

TEST(OptimizedBinaryFloat, MatchesReferenceOnEveryPath) {
  const uint32_t seed = 31415;
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  for (int trial = 0; trial < 300; ++trial) {
    const int rank = Uniform(rng, 1, 5);
    const bool big = trial % 10 == 0;
    std::vector<int32_t> out(rank), a(rank), b(rank);
    for (int d = 0; d < rank; ++d) {
      out[d] = Uniform(rng, 1, big && d == rank - 1 ? 300 : 6);
      a[d] = Uniform(rng, 0, 3) == 0 ? 1 : out[d];
      b[d] = Uniform(rng, 0, 2) == 0 ? 1 : out[d];
    }
    if (Uniform(rng, 0, 4) == 0) b.assign(rank, 1);               // a scalar-like second input
    if (Uniform(rng, 0, 5) == 0) b.erase(b.begin(), b.begin() + Uniform(rng, 0, rank));  // lower rank
    reference::BroadcastShape s;
    ASSERT_TRUE(reference::MakeBroadcastShape(a.data(), (int)a.size(), b.data(), (int)b.size(), &s));
    int64_t na = 1, nb = 1;
    for (int x : a) na *= x;
    for (int x : b) nb *= x;
    const auto in1 = Values(rng, na), in2 = Values(rng, nb);
    reference::ArithmeticParams p;
    switch (Uniform(rng, 0, 3)) {
      case 0: p.float_act = reference::ActivationRangeFloat(reference::Activation::kRelu); break;
      case 1: p.float_act = reference::ActivationRangeFloat(reference::Activation::kRelu6); break;
      case 2: p.float_act = {-1.f, 0.5f}; break;
      default: p.float_act = {}; break;
    }
    const int64_t n = s.size();
    for (auto op : {optimized::BinaryFloatOp::kAdd, optimized::BinaryFloatOp::kSub, optimized::BinaryFloatOp::kMul}) {
      std::vector<float> want(n);
      if (op == optimized::BinaryFloatOp::kAdd) reference::AddFloat(p, s, in1.data(), in2.data(), want.data());
      if (op == optimized::BinaryFloatOp::kSub) reference::SubFloat(p, s, in1.data(), in2.data(), want.data());
      if (op == optimized::BinaryFloatOp::kMul) reference::MulFloat(p, s, in1.data(), in2.data(), want.data());
      for (KernelPath path : PathsToTest())
        for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
          std::vector<float> got(n, 777.f);
          optimized::BinaryFloat(op, p, s, in1.data(), in2.data(), got.data(), tp, path);
          for (int64_t i = 0; i < n; ++i)
            ASSERT_TRUE(SameFloat(got[i], want[i]))
                << "seed " << seed << " trial " << trial << " op " << (int)op << " path " << KernelPathName(path)
                << " element " << i << " of " << n << ": got " << got[i] << ", want " << want[i];
        }
    }
  }
}

// The float clamp of RELU / RELU6 / RELU_N1_TO_1: lengths around the vector widths, in place or
// not, bounds with infinities.
TEST(OptimizedBinaryFloat, ClampMatchesReference) {
  std::mt19937 rng(2718);
  ThreadPool pool(2);
  const float inf = std::numeric_limits<float>::infinity();
  const float bounds[][2] = {{0.f, inf}, {0.f, 6.f}, {-1.f, 1.f}, {-inf, inf}, {0.5f, 0.5f}};
  for (int trial = 0; trial < 120; ++trial) {
    const int64_t n = trial % 12 == 0 ? Uniform(rng, 40000, 90000) : Uniform(rng, 0, 70);
    const auto in = Values(rng, (size_t)n);
    const auto& b = bounds[Uniform(rng, 0, 4)];
    std::vector<float> want((size_t)n);
    reference::ReluXFloat(n, in.data(), want.data(), b[0], b[1]);
    for (KernelPath path : PathsToTest())
      for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool})
        for (bool in_place : {false, true}) {
          std::vector<float> got = in_place ? in : std::vector<float>((size_t)n, 9.f);
          optimized::ClampFloat(n, in_place ? got.data() : in.data(), got.data(), b[0], b[1], tp, path);
          for (int64_t i = 0; i < n; ++i)
            ASSERT_TRUE(SameFloat(got[i], want[i])) << "trial " << trial << " n " << n << " element " << i
                                                    << " path " << KernelPathName(path);
        }
  }
}

}  // namespace
}  // namespace qat::kernels
