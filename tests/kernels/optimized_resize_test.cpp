// Randomised bit-exactness test of the optimised float32 RESIZE_BILINEAR against the reference:
// up- and down-scaling, align_corners and half_pixel_centers, 1-20 channels (vector tails),
// batch 1-2, every path, 1 thread and a pool of 2. Seeded; equal bits.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/optimized/resize_bilinear_float.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

TEST(OptimizedResizeBilinear, FloatMatchesReferenceBits) {
  const uint32_t seed = 5150;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-10.f, 10.f);
  ThreadPool pool(2);
  for (int trial = 0; trial < 150; ++trial) {
    reference::ResizeBilinearParams p;
    p.batches = Uniform(rng, 1, 2);
    p.input_h = Uniform(rng, 1, 9);
    p.input_w = Uniform(rng, 1, 9);
    p.channels = Uniform(rng, 1, 20);
    p.output_h = Uniform(rng, 1, 20);
    p.output_w = Uniform(rng, 1, 20);
    p.align_corners = Uniform(rng, 0, 2) == 0;
    p.half_pixel_centers = !p.align_corners && Uniform(rng, 0, 1);
    std::vector<float> in((size_t)p.batches * p.input_h * p.input_w * p.channels);
    for (float& x : in) x = u(rng);
    const size_t n = (size_t)p.batches * p.output_h * p.output_w * p.channels;
    std::vector<float> want(n);
    reference::ResizeBilinearFloat(p, in.data(), want.data());
    for (KernelPath path : PathsToTest())
      for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool}) {
        std::vector<float> got(n, 42.f);
        optimized::ResizeBilinearFloat(p, in.data(), got.data(), tp, path);
        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), n * sizeof(float)))
            << "seed " << seed << " trial " << trial << " path " << KernelPathName(path) << " " << p.input_h << "x"
            << p.input_w << " -> " << p.output_h << "x" << p.output_w << " c " << p.channels << " align "
            << p.align_corners << " half " << p.half_pixel_centers;
      }
  }
}

}  // namespace
}  // namespace qat::kernels
