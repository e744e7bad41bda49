// Randomised bit-exactness test of the optimised Convolution2DTransposeBias (float32) against the
// reference: strides 1-3 and filters 1-4 (no overlap: the fast path; overlap: the reference
// path), both paddings of the op, widths around the 8-pixel vector, 1-20 input and 1-10 output
// channels, batch 1-2, with and without bias, given scratch or none, every path, 1 thread and a
// pool of 3.
// Seeded; equal bits.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/optimized/transpose_conv_float.h"
#include "kernels/reference/transpose_conv_bias.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

TEST(OptimizedTransposeConv, MatchesReferenceBits) {
  const uint32_t seed = 1618;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  ThreadPool pool(3);
  int fast = 0;
  for (int trial = 0; trial < 150; ++trial) {
    reference::ConvParams p;
    p.batches = Uniform(rng, 1, 2);
    p.input_h = Uniform(rng, 1, 9);
    p.input_w = Uniform(rng, 1, trial % 5 == 0 ? 70 : 19);
    p.input_c = Uniform(rng, 1, 20);
    p.output_c = Uniform(rng, 1, 10);
    p.stride_h = Uniform(rng, 1, 3);
    p.stride_w = Uniform(rng, 1, 3);
    const bool overlap = Uniform(rng, 0, 3) == 0;
    p.filter_h = overlap ? Uniform(rng, 1, 4) : Uniform(rng, 1, p.stride_h);
    p.filter_w = overlap ? Uniform(rng, 1, 4) : Uniform(rng, 1, p.stride_w);
    int pad_h = 0, pad_w = 0;
    if (Uniform(rng, 0, 1)) {  // SAME, as the op computes it
      pad_h = std::max(0, p.filter_h - (p.input_h - 1) % p.stride_h - 1);
      pad_w = std::max(0, p.filter_w - (p.input_w - 1) % p.stride_w - 1);
    }
    p.output_h = p.stride_h * (p.input_h - 1) + p.filter_h - pad_h;
    p.output_w = p.stride_w * (p.input_w - 1) + p.filter_w - pad_w;
    p.pad_top = pad_h / 2;
    p.pad_left = pad_w / 2;
    if (p.output_h <= 0 || p.output_w <= 0) continue;
    fast += p.filter_h <= p.stride_h && p.filter_w <= p.stride_w;
    std::vector<float> in((size_t)p.batches * p.input_h * p.input_w * p.input_c);
    std::vector<float> w((size_t)p.output_c * p.filter_h * p.filter_w * p.input_c), bias(p.output_c);
    for (auto* v : {&in, &w, &bias})
      for (float& x : *v) x = u(rng);
    const float* b = Uniform(rng, 0, 4) ? bias.data() : nullptr;
    const size_t out_n = (size_t)p.batches * p.output_h * p.output_w * p.output_c;
    std::vector<float> want(out_n);
    reference::TransposeConvBiasFloat(p, in.data(), w.data(), b, want.data());
    for (KernelPath path : PathsToTest())
    for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool})
      for (bool give_scratch : {false, true}) {
        std::vector<uint8_t> scratch(give_scratch ? optimized::TransposeConvFloatScratchBytes(p, tp) : 0, 0xEE);
        std::vector<float> got(out_n, 123.f);
        optimized::TransposeConvBiasFloat(p, in.data(), w.data(), b, got.data(),
                                          give_scratch ? scratch.data() : nullptr, tp, path);
        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), out_n * sizeof(float)))
            << "seed " << seed << " trial " << trial << " path " << KernelPathName(path) << " in " << p.input_h << "x" << p.input_w << "x" << p.input_c
            << " f " << p.filter_h << "x" << p.filter_w << " s " << p.stride_h << "," << p.stride_w << " oc "
            << p.output_c << " pad " << pad_h << "," << pad_w;
      }
  }
  EXPECT_GT(fast, 50);  // the fast path ran often
}

}  // namespace
}  // namespace qat::kernels
