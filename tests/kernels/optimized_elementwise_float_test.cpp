// Randomised bit-exactness tests of the optimised float32 elementwise kernels against the
// reference kernels on every compiled path: ADD / SUB / MUL over random broadcasts of ranks 1-5
// (size-1 axes on either side, scalars, lower-rank inputs), the RELU clamp, HARD_SWISH and MEAN;
// inputs with NaN, infinities and signed zeros, random clamps, 1 thread and a pool of 2 with
// shapes large enough to split. Seeded; equal bits (any NaN equals any NaN).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/optimized/elementwise_float.h"
#include "kernels/optimized/mean_float.h"
#include "kernels/reference/activations.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

std::vector<float> Values(std::mt19937& rng, size_t n) { return SpecialFloats(rng, n, -3.f, 3.f); }

TEST(OptimizedElementwiseFloat, MatchesReferenceOnEveryPath) {
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
TEST(OptimizedElementwiseFloat, ClampMatchesReference) {
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

TEST(OptimizedElementwiseFloat, HardSwishMatchesReference) {
  std::mt19937 rng(4711);
  ThreadPool pool(2);
  for (int trial = 0; trial < 60; ++trial) {
    const int64_t n = trial % 10 == 0 ? Uniform(rng, 40000, 90000) : Uniform(rng, 0, 40);
    auto in = Values(rng, (size_t)n);
    for (float& x : in)  // more values around the kinks at -3 and 3
      if (Uniform(rng, 0, 3) == 0) x = (float)Uniform(rng, -4, 4) + (Uniform(rng, 0, 1) ? 0.f : 1e-3f);
    std::vector<float> want((size_t)n);
    reference::HardSwishFloat(n, in.data(), want.data());
    for (KernelPath path : PathsToTest())
      for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
        std::vector<float> got((size_t)n, 9.f);
        optimized::HardSwishFloat(n, in.data(), got.data(), tp, path);
        for (int64_t i = 0; i < n; ++i)
          ASSERT_TRUE(SameFloat(got[i], want[i])) << "trial " << trial << " element " << i << " x " << in[i]
                                                  << " path " << KernelPathName(path);
      }
  }
}

// MEAN over random axis subsets of ranks 1-5 (contiguous reduced blocks take the fast path, the
// others the reference), inner sizes around the vector widths.
TEST(OptimizedElementwiseFloat, MeanMatchesReference) {
  std::mt19937 rng(8080);
  ThreadPool pool(2);
  int fast = 0;
  for (int trial = 0; trial < 200; ++trial) {
    reference::MeanParams p;
    p.rank = Uniform(rng, 1, 5);
    int64_t n = 1;
    for (int d = 0; d < p.rank; ++d) {
      p.dims[d] = Uniform(rng, 0, 5) == 0 ? 1 : Uniform(rng, 1, d == p.rank - 1 ? 40 : 7);
      p.reduce[d] = Uniform(rng, 0, 1);
      n *= p.dims[d];
    }
    // The fast layout: kept, reduced, kept over the axes of size > 1.
    int state = 0;
    bool contiguous = true;
    for (int d = 0; d < p.rank; ++d) {
      if (p.dims[d] == 1) continue;
      if (p.reduce[d]) contiguous = contiguous && state != 2, state = 1;
      else if (state == 1) state = 2;
    }
    fast += contiguous;
    const auto in = Values(rng, (size_t)n);
    std::vector<float> want((size_t)p.output_size());
    reference::MeanFloat(p, in.data(), want.data());
    for (KernelPath path : PathsToTest())
      for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
        std::vector<float> got(want.size(), 9.f);
        optimized::MeanFloat(p, in.data(), got.data(), tp, path);
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_TRUE(SameFloat(got[i], want[i])) << "trial " << trial << " element " << i << " path "
                                                  << KernelPathName(path);
      }
  }
  EXPECT_GT(fast, 80);
}

}  // namespace
}  // namespace qat::kernels
