// Randomised bit-exactness test of the integer Winograd F(2x2, 3x3) CONV_2D
// (kernels/optimized/winograd_conv.h) against the reference kernels, on every compiled path, in both
// requantization modes, int8 and uint8, 1 and 2 threads: random shapes (odd H / W, 1..3 tiles per
// dimension, odd channel counts, SAME and VALID), zero points at the extremes, random clamps; the
// exactness bound at its edge (all-extreme inputs and weights at the largest depth allowed);
// SmallCNN's 3x3 layers at batch 64. Tolerance 0; seeded, so a failure reproduces.
#include <gtest/gtest.h>

#include "kernels/optimized/winograd_conv.h"
#include "kernels/reference/conv.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

reference::ConvParams Conv3x3(int batches, int h, int w, int ic, int oc, reference::Padding pad) {
  reference::ConvParams p;
  p.batches = batches;
  p.input_h = h;
  p.input_w = w;
  p.input_c = ic;
  p.output_c = oc;
  p.filter_h = p.filter_w = 3;
  reference::ComputePadding(pad, h, 3, 1, 1, &p.output_h, &p.pad_top);
  reference::ComputePadding(pad, w, 3, 1, 1, &p.output_w, &p.pad_left);
  return p;
}

// Runs the Winograd kernel on every path and thread count and compares with the reference.
template <class T>
void CheckLayer(const reference::ConvParams& p, const std::vector<Requant>& rq, const std::vector<T>& input,
                const std::vector<T>& filter, const int32_t* bias, ThreadPool* pool, const std::string& what,
                bool per_tensor = false) {
  constexpr bool kU8 = std::is_same_v<T, uint8_t>;
  ASSERT_TRUE(optimized::WinogradApplies(p, kU8)) << what;
  const size_t out_n = (size_t)p.batches * p.output_h * p.output_w * p.output_c;
  std::vector<T> want(out_n);
  optimized::PackedWinograd pw;
  if constexpr (kU8) {
    reference::ConvUint8(p, rq[0], input.data(), filter.data(), bias, want.data());
    pw = optimized::PackWinogradUint8(p, rq[0], filter.data(), bias);
  } else {
    reference::ConvPerChannelInt8(p, rq.data(), input.data(), filter.data(), bias, want.data());
    pw = optimized::PackWinogradInt8(p, rq.data(), per_tensor ? 1 : (int)rq.size(), filter.data(), bias);
  }
  for (KernelPath path : PathsToTest())
    for (ThreadPool* tp : {(ThreadPool*)nullptr, pool})
      for (bool with_scratch : {true, false}) {
        std::vector<T> got(out_n, (T)0x5a);
        // Scratch sized for this pool (exactly: slots past it would overflow under ASan), or none.
        std::vector<uint8_t> scratch(with_scratch ? optimized::WinogradScratchBytes(pw, tp) : 0);
        void* s = with_scratch ? scratch.data() : nullptr;
        if constexpr (kU8)
          optimized::WinogradConvUint8(pw, input.data(), got.data(), s, tp, path);
        else
          optimized::WinogradConvInt8(pw, input.data(), got.data(), s, tp, path);
        size_t bad = 0, first = out_n;
        for (size_t i = 0; i < out_n; ++i)
          if (got[i] != want[i]) {
            if (!bad) first = i;
            ++bad;
          }
        ASSERT_EQ(bad, 0u) << what << " path " << KernelPathName(path) << " mode " << (int)p.requant << " threads "
                           << (tp ? tp->size() : 1) << " scratch " << with_scratch << " shape b" << p.batches << " "
                           << p.input_h << "x" << p.input_w << "x" << p.input_c << " -> " << p.output_h << "x"
                           << p.output_w << "x" << p.output_c << " pad " << p.pad_top << "," << p.pad_left
                           << "; first bad byte " << first << ": got " << (int)got[first] << " want "
                           << (int)want[first];
      }
}

template <class T>
void RunTrials(uint32_t seed, int trials) {
  constexpr bool kU8 = std::is_same_v<T, uint8_t>;
  std::mt19937 rng(seed);
  ThreadPool pool(2);
  for (int trial = 0; trial < trials; ++trial) {
    const auto pad = Uniform(rng, 0, 1) ? reference::Padding::kSame : reference::Padding::kValid;
    // 1..3 tiles per dimension: outputs 2..6 (SAME: input = output; VALID: input = output + 2).
    const int oh = Uniform(rng, 2, 6), ow = Uniform(rng, 2, 6);
    const int extra = pad == reference::Padding::kSame ? 0 : 2;
    const int ic = Uniform(rng, 0, 2) == 0 ? Uniform(rng, 8, 20) : Uniform(rng, 8, 80);
    reference::ConvParams p =
        Conv3x3(Uniform(rng, 1, 3), oh + extra, ow + extra, ic, Uniform(rng, 1, 40), pad);
    p.input_offset = -ZeroPoint(rng, kU8);
    p.filter_offset = kU8 ? -ZeroPoint(rng, true) : 0;
    p.output_offset = ZeroPoint(rng, kU8);
    RandomClamp(rng, kU8, &p.act_min, &p.act_max);
    const size_t in_n = (size_t)p.batches * p.input_h * p.input_w * p.input_c;
    auto input = RandomBytes<T>(rng, in_n);
    auto filter = RandomBytes<T>(rng, (size_t)p.output_c * 9 * p.input_c, !kU8);
    // Every fifth trial: activations and weights at the type's extremes only.
    if (trial % 5 == 4) {
      for (auto& x : input) x = (T)(Uniform(rng, 0, 1) ? (kU8 ? 0 : -128) : (kU8 ? 255 : 127));
      for (auto& w : filter) w = (T)(Uniform(rng, 0, 1) ? (kU8 ? 0 : -127) : (kU8 ? 255 : 127));
    }
    auto bias = RandomBias(rng, p.output_c);
    const bool with_bias = Uniform(rng, 0, 5) != 0;
    // int8: per-channel, or per-tensor (one multiplier packed, the reference reads it per channel).
    const bool per_tensor = !kU8 && Uniform(rng, 0, 4) == 0;
    std::vector<Requant> rq(kU8 ? 1 : p.output_c);
    for (auto& r : rq) r = per_tensor && &r != &rq[0] ? rq[0] : RandomRequant(rng);
    for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
      p.requant = mode;
      CheckLayer(p, rq, input, filter, with_bias ? bias.data() : nullptr, &pool,
                 "seed " + std::to_string(seed) + " trial " + std::to_string(trial), per_tensor);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(OptimizedWinograd, Int8MatchesReferenceOnEveryPath) { RunTrials<int8_t>(20261126, 120); }
TEST(OptimizedWinograd, Uint8MatchesReferenceOnEveryPath) { RunTrials<uint8_t>(4242, 120); }

TEST(OptimizedWinograd, AppliesOnlyToExact3x3Stride1) {
  auto p = Conv3x3(1, 14, 14, 32, 64, reference::Padding::kSame);
  EXPECT_TRUE(optimized::WinogradApplies(p, false));
  EXPECT_TRUE(optimized::WinogradApplies(p, true));
  auto q = p;
  q.stride_h = 2;
  EXPECT_FALSE(optimized::WinogradApplies(q, false));
  q = p;
  q.dilation_w = 2;
  EXPECT_FALSE(optimized::WinogradApplies(q, false));
  q = p;
  q.filter_w = 1;
  EXPECT_FALSE(optimized::WinogradApplies(q, false));
  q = p;
  q.input_c = 7;  // first layers: not worth it
  EXPECT_FALSE(optimized::WinogradApplies(q, false));
  q = Conv3x3(1, 3, 14, 32, 64, reference::Padding::kValid);  // one output row
  EXPECT_FALSE(optimized::WinogradApplies(q, false));
  // The exactness bound 36 * input_c * max|w| * max|x| < 2^31.
  q = p;
  q.input_c = 3640;
  EXPECT_TRUE(optimized::WinogradApplies(q, false));
  q.input_c = 3641;
  EXPECT_FALSE(optimized::WinogradApplies(q, false));
  q.input_c = 917;
  EXPECT_TRUE(optimized::WinogradApplies(q, true));
  q.input_c = 918;
  EXPECT_FALSE(optimized::WinogradApplies(q, true));
  // Scratch: one block per thread; without a pool argument, enough for any pool.
  std::vector<int8_t> filter((size_t)64 * 9 * 32, 1);
  const Requant rq = MakeRequant(0.01);
  const auto pw = optimized::PackWinogradInt8(p, &rq, 1, filter.data(), nullptr);
  ThreadPool pool2(2);
  const size_t one = optimized::WinogradScratchBytes(pw, nullptr), two = optimized::WinogradScratchBytes(pw, &pool2);
  EXPECT_EQ(two - one, one - 64);
  EXPECT_EQ(optimized::WinogradScratchBytes(pw), (size_t)optimized::kWinoScratchSlots * (one - 64) + 64);
}

// The bound at its edge: the deepest layer allowed, every activation and weight at the magnitude
// that maximises |S| (int8: x = -128 and w = -128 (outside the symmetric spec, still allowed);
// uint8: x = 255, w = 255 with Z_w = 0, Z_in = 0), so |Y| = 4 |S| is just under 2^31. VALID 4x4 -> 2x2
// (no padding) and SAME 2x2 -> 2x2 (padding taps read Z_in).
TEST(OptimizedWinograd, ExactAtTheBound) {
  ThreadPool pool(2);
  for (auto pad : {reference::Padding::kValid, reference::Padding::kSame}) {
    const int hw = pad == reference::Padding::kValid ? 4 : 2;
    {
      auto p = Conv3x3(1, hw, hw, 3640, 3, pad);
      p.input_offset = -127;  // Z_in = 127: x - Z_in spans 255 values (the reference wraps like we do)
      p.output_offset = 0;
      std::vector<int8_t> input((size_t)hw * hw * 3640, -128), filter((size_t)3 * 9 * 3640, -128);
      for (size_t i = (size_t)9 * 3640; i < filter.size(); i += 7) filter[i] = 127;  // channel 0: all -128
      std::vector<Requant> rq(3, MakeRequant(std::exp2(-28)));
      for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
        p.requant = mode;
        CheckLayer(p, rq, input, filter, nullptr, &pool, "int8 bound");
      }
    }
    {
      auto p = Conv3x3(1, hw, hw, 917, 3, pad);
      p.input_offset = 0;
      p.filter_offset = 0;
      p.output_offset = 0;
      p.act_min = 0;
      p.act_max = 255;
      std::vector<uint8_t> input((size_t)hw * hw * 917, 255), filter((size_t)3 * 9 * 917, 255);
      std::vector<Requant> rq(1, MakeRequant(std::exp2(-22)));
      for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
        p.requant = mode;
        CheckLayer(p, rq, input, filter, nullptr, &pool, "uint8 bound");
      }
    }
  }
}

// SmallCNN's 3x3 layers (conv 32 -> 64 at 14x14, 64 -> 128 at 7x7, SAME, fused ReLU) at batch 64,
// int8 per-channel with ReLU-like activations; and one odd-sized layer on 3 threads.
TEST(OptimizedWinograd, SmallCnnLayersAtBatch64) {
  std::mt19937 rng(64);
  ThreadPool pool(2);
  struct Shape {
    int h, ic, oc;
  };
  for (const Shape& s : {Shape{14, 32, 64}, Shape{7, 64, 128}}) {
    auto p = Conv3x3(64, s.h, s.h, s.ic, s.oc, reference::Padding::kSame);
    p.input_offset = 128;
    p.output_offset = -128;
    p.act_min = -128;  // ReLU: quantize(0) = Z_out
    p.act_max = 127;
    std::vector<int8_t> input((size_t)64 * s.h * s.h * s.ic);
    for (auto& x : input) x = (int8_t)(Uniform(rng, 0, 1) ? -128 : Uniform(rng, -128, 127));
    auto filter = RandomBytes<int8_t>(rng, (size_t)s.oc * 9 * s.ic, true);
    auto bias = RandomBias(rng, s.oc);
    std::vector<Requant> rq(s.oc);
    for (auto& r : rq) r = MakeRequant(std::exp2(-std::uniform_real_distribution<double>(9, 12)(rng)));
    for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
      p.requant = mode;
      CheckLayer(p, rq, input, filter, bias.data(), &pool, "smallcnn " + std::to_string(s.h));
    }
  }
  ThreadPool pool3(3);
  auto p = Conv3x3(3, 13, 11, 45, 37, reference::Padding::kSame);
  p.input_offset = -100;
  p.output_offset = 7;
  auto input = RandomBytes<int8_t>(rng, (size_t)3 * 13 * 11 * 45);
  auto filter = RandomBytes<int8_t>(rng, (size_t)37 * 9 * 45, true);
  auto bias = RandomBias(rng, 37);
  std::vector<Requant> rq(37);
  for (auto& r : rq) r = RandomRequant(rng);
  CheckLayer(p, rq, input, filter, bias.data(), &pool3, "3 threads");
  // The largest right shift QuantizeMultiplier produces (31: multiplier 2^-31.5), the edge of the
  // one-rounding kTflite output stage (k64: a shift by 62).
  for (auto& r : rq) r = MakeRequant(std::exp2(-31.5));
  ASSERT_EQ(rq[0].shift, -31);
  auto q = p;
  for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
    q.requant = mode;
    CheckLayer(q, rq, input, filter, bias.data(), &pool, "right shift 31");
  }
}

}  // namespace
}  // namespace qat::kernels
