// Randomised byte-exactness test of the optimised PAD against the reference kernel: ranks 1-6,
// sizes with zeros, paddings on any subset of axes (trailing unpadded axes merge), element sizes
// 1/2/4/8, zero and non-zero pad values, one thread and a pool of 3 with large enough shapes to
// split. Seeded, tolerance 0.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/optimized/pad.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

TEST(OptimizedPad, MatchesReferenceBytes) {
  const uint32_t seed = 777;
  std::mt19937 rng(seed);
  ThreadPool pool(3);
  for (int trial = 0; trial < 400; ++trial) {
    reference::PadParams p;
    p.rank = Uniform(rng, 1, 6);
    const bool big = trial % 8 == 0;
    int64_t in_n = 1, out_n = 1;
    for (int d = 0; d < p.rank; ++d) {
      p.input_dims[d] = Uniform(rng, 0, 9) == 0 ? 0 : Uniform(rng, 1, big && d >= p.rank - 2 ? 40 : 5);
      const bool padded = Uniform(rng, 0, 2) == 0;
      p.before[d] = padded ? Uniform(rng, 0, 3) : 0;
      p.after[d] = padded ? Uniform(rng, 0, 3) : 0;
      in_n *= p.input_dims[d];
      out_n *= p.input_dims[d] + p.before[d] + p.after[d];
    }
    const size_t elem = (size_t)1 << Uniform(rng, 0, 3);
    std::vector<uint8_t> input(in_n * elem), value(elem);
    for (auto& b : input) b = (uint8_t)Uniform(rng, 0, 255);
    if (Uniform(rng, 0, 1))
      for (auto& b : value) b = (uint8_t)Uniform(rng, 0, 255);
    std::vector<uint8_t> want(out_n * elem, 0xA5);
    reference::Pad(p, input.data(), want.data(), elem, value.data());
    for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
      std::vector<uint8_t> got(out_n * elem, 0x5A);
      optimized::Pad(p, input.data(), got.data(), elem, value.data(), tp);
      ASSERT_EQ(got, want) << "seed " << seed << " trial " << trial << " rank " << p.rank << " elem " << elem
                           << " threads " << (tp ? 3 : 1);
    }
  }
}

}  // namespace
}  // namespace qat::kernels
