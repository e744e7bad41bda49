// Randomised test of the optimised float32 CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D
// (kernels/optimized/conv_float.h, depthwise_float.h) against the reference kernels: every
// compiled path, 1, 2 and 3 threads, with and without caller scratch (filled with garbage), odd
// channel counts (panel and vector tails), 1 and 3 input channels, strides 1-2, dilation, SAME and
// VALID padding, batch > 1, fused clamps (none, ReLU, ReLU6, random windows).
// Paths: portable, AVX2, and the AVX-512 twins, on hardware where the CPU has AVX-512 VNNI and
// compiled on emulated intrinsics (x86/float_avx512_emulated_avx2.cpp) wherever it has AVX2.
// Arithmetic: both FloatMath modes. Tolerance: none.
//   kExact: the optimised kernels add the same float32 products in the reference's order (bias,
//     then the taps in the reference's order; multiply then add), so every output must compare
//     equal to the reference kernels' (operator==, so a padding tap's +0/-0 sign does not count).
//     A fused multiply-add fails these tests.
//   kFused: every path must equal, bit for bit, this file's fused twin of the reference loops
//     (FusedConvRef / FusedDepthwiseRef: the same taps in the same order, acc = std::fma(w, x,
//     acc)). The fused twin itself is checked against the reference within the error bound of the
//     two roundings.
// Seeded; the seed is printed on failure.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "kernels/optimized/conv_float.h"
#include "kernels/optimized/depthwise_float.h"
#include "kernels/optimized/expand_depthwise_float.h"
#include "kernels/reference/conv.h"
#include "kernels/reference/depthwise_conv.h"
#include "kernels/reference/fully_connected.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

// A kernel path to run: the AVX-512 one on hardware or on emulated intrinsics.
struct FloatConfig {
  KernelPath path;
  bool emulated;
  std::string Name() const { return std::string(KernelPathName(path)) + (emulated ? "(emulated)" : ""); }
};
std::vector<FloatConfig> FloatConfigs() {
  std::vector<FloatConfig> v;
  for (KernelPath path : PathsToTest()) v.push_back({path, false});
  if (isa_supported(Isa::kAvx512Vnni)) v.push_back({KernelPath::kAvx512Vnni, false});
  if (isa_supported(Isa::kAvx2)) v.push_back({KernelPath::kAvx512Vnni, true});
  return v;
}
struct EmulationScope {
  explicit EmulationScope(bool on) { optimized::SetFloatAvx512EmulationForTests(on); }
  ~EmulationScope() { optimized::SetFloatAvx512EmulationForTests(false); }
};
constexpr FloatMath kMaths[] = {FloatMath::kExact, FloatMath::kFused};
// Whether (path, math) computes fused values: kFused, on every path.
bool FusedValues(KernelPath /*path*/, FloatMath math) { return math == FloatMath::kFused; }

// The reference conv's loops (kernels/reference/conv.cpp: bias, then (fy, fx, ic) over the taps
// inside the input) with acc = std::fma(w, x, acc).
void FusedConvRef(const reference::ConvParams& p, const float* in, const float* w, const float* bias, float* out) {
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox)
        for (int oc = 0; oc < p.output_c; ++oc) {
          float acc = bias ? bias[oc] : 0.f;
          for (int fy = 0; fy < p.filter_h; ++fy) {
            const int iy = oy * p.stride_h - p.pad_top + fy * p.dilation_h;
            if (iy < 0 || iy >= p.input_h) continue;
            for (int fx = 0; fx < p.filter_w; ++fx) {
              const int ix = ox * p.stride_w - p.pad_left + fx * p.dilation_w;
              if (ix < 0 || ix >= p.input_w) continue;
              const float* wr = w + ((int64_t)(oc * p.filter_h + fy) * p.filter_w + fx) * p.input_c;
              const float* xr = in + (((int64_t)b * p.input_h + iy) * p.input_w + ix) * p.input_c;
              for (int ic = 0; ic < p.input_c; ++ic) acc = std::fma(wr[ic], xr[ic], acc);
            }
          }
          out[(((int64_t)b * p.output_h + oy) * p.output_w + ox) * p.output_c + oc] =
              std::min(std::max(acc, p.float_act.min), p.float_act.max);
        }
}

// The reference depthwise loops (fx outer, fy inner, taps inside the input), fused.
void FusedDepthwiseRef(const reference::ConvParams& p, const float* in, const float* w, const float* bias,
                       float* out) {
  const int C = p.output_c;
  for (int b = 0; b < p.batches; ++b)
    for (int oy = 0; oy < p.output_h; ++oy)
      for (int ox = 0; ox < p.output_w; ++ox)
        for (int c = 0; c < C; ++c) {
          float acc = bias ? bias[c] : 0.f;
          for (int fx = 0; fx < p.filter_w; ++fx) {
            const int ix = ox * p.stride_w - p.pad_left + fx * p.dilation_w;
            if (ix < 0 || ix >= p.input_w) continue;
            for (int fy = 0; fy < p.filter_h; ++fy) {
              const int iy = oy * p.stride_h - p.pad_top + fy * p.dilation_h;
              if (iy < 0 || iy >= p.input_h) continue;
              acc = std::fma(w[((int64_t)fy * p.filter_w + fx) * C + c],
                             in[(((int64_t)b * p.input_h + iy) * p.input_w + ix) * C + c], acc);
            }
          }
          out[(((int64_t)b * p.output_h + oy) * p.output_w + ox) * C + c] =
              std::min(std::max(acc, p.float_act.min), p.float_act.max);
        }
}

// |fused - exact| <= (2 taps + 2) * 2^-24 * (|bias| + taps * max|w x|) per output: both are the exact
// sum within (taps + 1) roundings of relative size 2^-24 each of the running sums (inputs and
// weights in [-1, 1] here, so |w x| <= 1 and the bound uses the tap count). The clamp is
// 1-Lipschitz. Returns the number of outputs outside the bound.
size_t OutsideFusedBound(const std::vector<float>& fused, const std::vector<float>& exact, int64_t taps) {
  const double bound = (2.0 * taps + 2) * std::ldexp(1.0, -24) * (1.0 + (double)taps);
  size_t bad = 0;
  for (size_t i = 0; i < fused.size(); ++i) bad += !(std::fabs((double)fused[i] - exact[i]) <= bound);
  return bad;
}

std::vector<float> RandomFloats(std::mt19937& rng, size_t n) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

reference::FloatRange RandomFloatClamp(std::mt19937& rng) {
  switch (Uniform(rng, 0, 4)) {
    case 0: return reference::ActivationRangeFloat(reference::Activation::kRelu);
    case 1: return reference::ActivationRangeFloat(reference::Activation::kRelu6);
    case 2: return {-0.5f, 0.25f};
    default: return {};
  }
}

size_t Mismatches(const std::vector<float>& got, const std::vector<float>& want) {
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i) bad += !(got[i] == want[i]);
  return bad;
}

// A random conv window on p (input sizes, filter sizes and output_c set).
bool RandomWindow(std::mt19937& rng, reference::ConvParams* p) {
  p->stride_h = Uniform(rng, 1, 2);
  p->stride_w = Uniform(rng, 0, 3) == 0 ? Uniform(rng, 1, 2) : p->stride_h;
  p->dilation_h = Uniform(rng, 0, 4) == 0 ? 2 : 1;
  p->dilation_w = Uniform(rng, 0, 4) == 0 ? 2 : 1;
  const auto pad = Uniform(rng, 0, 1) ? reference::Padding::kSame : reference::Padding::kValid;
  reference::ComputePadding(pad, p->input_h, p->filter_h, p->stride_h, p->dilation_h, &p->output_h, &p->pad_top);
  reference::ComputePadding(pad, p->input_w, p->filter_w, p->stride_w, p->dilation_w, &p->output_w, &p->pad_left);
  return p->output_h > 0 && p->output_w > 0;
}

void CheckConv(const reference::ConvParams& p, std::mt19937& rng, const std::string& what) {
  static ThreadPool pool2(2), pool3(3);
  const size_t in_n = (size_t)p.batches * p.input_h * p.input_w * p.input_c;
  const size_t out_n = (size_t)p.batches * p.output_h * p.output_w * p.output_c;
  auto input = RandomFloats(rng, in_n);
  auto filter = RandomFloats(rng, (size_t)p.output_c * p.filter_h * p.filter_w * p.input_c);
  auto bias = RandomFloats(rng, p.output_c);
  const bool with_bias = Uniform(rng, 0, 4) != 0;
  const float* b = with_bias ? bias.data() : nullptr;
  std::vector<float> want(out_n), want_fused(out_n);
  reference::ConvFloat(p, input.data(), filter.data(), b, want.data());
  FusedConvRef(p, input.data(), filter.data(), b, want_fused.data());
  ASSERT_EQ(OutsideFusedBound(want_fused, want, (int64_t)p.filter_h * p.filter_w * p.input_c), 0u) << what;
  const auto pc = optimized::PackConvFloat(p, filter.data(), b);
  for (const FloatConfig& cfg : FloatConfigs())
    for (FloatMath math : kMaths)
    for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool2, &pool3})
      for (bool give_scratch : {false, true}) {
        // The portable fused twin calls libm's fmaf per tap (slow): one threading case of it, and
        // none on the large MobileNet shapes (the random shapes cover it).
        if (cfg.path == KernelPath::kPortable && math == FloatMath::kFused &&
            (tp || !give_scratch || out_n * p.filter_h * p.filter_w * p.input_c > (size_t(1) << 22)))
          continue;
        const EmulationScope emu(cfg.emulated);
        std::vector<float> got(out_n, std::numeric_limits<float>::quiet_NaN());
        // 0xff bytes: NaN as floats, so a kernel that reads scratch it did not write shows.
        std::vector<uint8_t> scratch(optimized::ConvFloatScratchBytes(pc, tp), 0xff);
        optimized::ConvFloat(pc, input.data(), got.data(), give_scratch ? scratch.data() : nullptr, tp, cfg.path,
                             nullptr, math);
        ASSERT_EQ(Mismatches(got, FusedValues(cfg.path, math) ? want_fused : want), 0u)
            << what << " path " << cfg.Name() << " " << FloatMathName(math) << " threads " << (tp ? tp->size() : 1)
            << " b" << p.batches
            << " " << p.input_h << "x" << p.input_w << "x" << p.input_c << " f" << p.filter_h << "x" << p.filter_w
            << " oc " << p.output_c << " s" << p.stride_h << "," << p.stride_w << " d" << p.dilation_h << ","
            << p.dilation_w << " pad " << p.pad_top << "," << p.pad_left;
      }
}

TEST(OptimizedFloat, ConvMatchesReferenceRandomShapes) {
  const uint32_t seed = 20261126;
  std::mt19937 rng(seed);
  for (int trial = 0; trial < 60; ++trial) {
    reference::ConvParams p;
    p.batches = Uniform(rng, 0, 3) == 0 ? Uniform(rng, 2, 3) : 1;
    p.input_h = Uniform(rng, 1, 11);
    p.input_w = Uniform(rng, 1, 11);
    const int kind = Uniform(rng, 0, 3);
    p.input_c = kind == 0 ? 1 : (kind == 1 ? 3 : Uniform(rng, 1, 40));
    p.output_c = Uniform(rng, 1, 50);
    p.filter_h = Uniform(rng, 0, 2) == 0 ? 1 : Uniform(rng, 1, 5);
    p.filter_w = Uniform(rng, 0, 1) ? p.filter_h : Uniform(rng, 1, 4);
    if (!RandomWindow(rng, &p)) continue;
    p.float_act = RandomFloatClamp(rng);
    CheckConv(p, rng, "seed " + std::to_string(seed) + " trial " + std::to_string(trial));
  }
}

// Narrow layers (1-4 output channels, stride_w 1, at least 8 output columns: the pixels-as-lanes
// path, e.g. MediaPipe's segmentation heads): widths around the 8 / 32-pixel steps, paddings,
// stride_h and dilation_h 1-2, batch 1-2.
TEST(OptimizedFloat, NarrowConvMatchesReference) {
  const uint32_t seed = 4321;
  std::mt19937 rng(seed);
  int ran = 0;
  for (int trial = 0; trial < 60; ++trial) {
    reference::ConvParams p;
    p.batches = Uniform(rng, 1, 2);
    p.input_h = Uniform(rng, 1, 7);
    p.input_w = Uniform(rng, 8, 75);
    p.input_c = Uniform(rng, 1, 12);
    p.output_c = Uniform(rng, 1, optimized::kFloatNarrowMaxOC);
    p.filter_h = Uniform(rng, 1, 3);
    p.filter_w = Uniform(rng, 1, 5);
    p.stride_h = Uniform(rng, 1, 2);
    p.stride_w = 1;
    p.dilation_h = Uniform(rng, 1, 2);
    p.dilation_w = 1;
    const auto pad = Uniform(rng, 0, 1) ? reference::Padding::kSame : reference::Padding::kValid;
    reference::ComputePadding(pad, p.input_h, p.filter_h, p.stride_h, p.dilation_h, &p.output_h, &p.pad_top);
    reference::ComputePadding(pad, p.input_w, p.filter_w, 1, 1, &p.output_w, &p.pad_left);
    if (p.output_h <= 0 || p.output_w < 8) continue;
    p.float_act = RandomFloatClamp(rng);
    ASSERT_TRUE(optimized::PackConvFloat(p, std::vector<float>(p.output_c * p.filter_h * p.filter_w * p.input_c).data(),
                                         nullptr).narrow);
    ++ran;
    CheckConv(p, rng, "narrow seed " + std::to_string(seed) + " trial " + std::to_string(trial));
  }
  EXPECT_GT(ran, 30);
}

// Layer shapes of MobileNet v1 (batch 1 and 2): the first 3x3 stride-2 layer over 3 channels, 1x1
// layers with K large enough for several L2 panel groups, few rows (7x7) split by channels.
TEST(OptimizedFloat, ConvMobileNetShapes) {
  std::mt19937 rng(7);
  struct S { int h, c, oc, f, s; };
  for (const S& s : {S{32, 3, 32, 3, 2}, S{14, 64, 128, 1, 1}, S{7, 1024, 100, 1, 1}, S{7, 512, 1024, 1, 1},
                     S{9, 16, 24, 3, 1}}) {
    for (int batches : {1, 2}) {
      reference::ConvParams p;
      p.batches = batches;
      p.input_h = p.input_w = s.h;
      p.input_c = s.c;
      p.output_c = s.oc;
      p.filter_h = p.filter_w = s.f;
      p.stride_h = p.stride_w = s.s;
      reference::ComputePadding(reference::Padding::kSame, s.h, s.f, s.s, 1, &p.output_h, &p.pad_top);
      reference::ComputePadding(reference::Padding::kSame, s.h, s.f, s.s, 1, &p.output_w, &p.pad_left);
      p.float_act = reference::ActivationRangeFloat(reference::Activation::kRelu6);
      CheckConv(p, rng, "mobilenet shape c " + std::to_string(s.c));
    }
  }
}

TEST(OptimizedFloat, FullyConnectedMatchesReference) {
  const uint32_t seed = 99;
  std::mt19937 rng(seed);
  ThreadPool pool2(2), pool3(3);
  for (int trial = 0; trial < 30; ++trial) {
    reference::FullyConnectedParams p;
    p.batches = Uniform(rng, 0, 2) == 0 ? Uniform(rng, 2, 13) : 1;
    p.input_depth = Uniform(rng, 0, 4) == 0 ? 1024 : Uniform(rng, 1, 100);
    p.output_depth = Uniform(rng, 1, 70);
    p.float_act = RandomFloatClamp(rng);
    auto input = RandomFloats(rng, (size_t)p.batches * p.input_depth);
    auto w = RandomFloats(rng, (size_t)p.output_depth * p.input_depth);
    auto bias = RandomFloats(rng, p.output_depth);
    const float* b = Uniform(rng, 0, 3) ? bias.data() : nullptr;
    std::vector<float> want((size_t)p.batches * p.output_depth), want_fused(want.size());
    reference::FullyConnectedFloat(p, input.data(), w.data(), b, want.data());
    const auto pc = optimized::PackFullyConnectedFloat(p, w.data(), b);
    FusedConvRef(pc.p, input.data(), w.data(), b, want_fused.data());
    ASSERT_EQ(OutsideFusedBound(want_fused, want, p.input_depth), 0u) << "trial " << trial;
    for (const FloatConfig& cfg : FloatConfigs())
      for (FloatMath math : kMaths)
      for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool2, &pool3}) {
        const EmulationScope emu(cfg.emulated);
        std::vector<float> got(want.size(), std::numeric_limits<float>::quiet_NaN());
        std::vector<uint8_t> scratch(optimized::ConvFloatScratchBytes(pc, tp), 0xff);  // NaN garbage
        optimized::ConvFloat(pc, input.data(), got.data(), scratch.data(), tp, cfg.path, nullptr, math);
        ASSERT_EQ(Mismatches(got, FusedValues(cfg.path, math) ? want_fused : want), 0u)
            << "seed " << seed << " trial " << trial << " path " << cfg.Name() << " " << FloatMathName(math)
            << " b " << p.batches << " k " << p.input_depth << " n " << p.output_depth;
      }
  }
}

TEST(OptimizedFloat, DepthwiseMatchesReference) {
  const uint32_t seed = 4242;
  std::mt19937 rng(seed);
  ThreadPool pool2(2), pool3(3);
  for (int trial = 0; trial < 80; ++trial) {
    reference::ConvParams p;
    p.batches = Uniform(rng, 0, 3) == 0 ? 2 : 1;
    p.input_h = Uniform(rng, 1, 12);
    p.input_w = Uniform(rng, 1, 12);
    p.input_c = p.output_c = Uniform(rng, 0, 3) == 0 ? Uniform(rng, 30, 70) : Uniform(rng, 1, 31);
    p.filter_h = Uniform(rng, 1, 5);
    p.filter_w = Uniform(rng, 0, 1) ? p.filter_h : Uniform(rng, 1, 5);
    if (!RandomWindow(rng, &p)) continue;
    p.float_act = RandomFloatClamp(rng);
    auto input = RandomFloats(rng, (size_t)p.batches * p.input_h * p.input_w * p.input_c);
    auto filter = RandomFloats(rng, (size_t)p.filter_h * p.filter_w * p.output_c);
    auto bias = RandomFloats(rng, p.output_c);
    const float* b = Uniform(rng, 0, 4) ? bias.data() : nullptr;
    std::vector<float> want((size_t)p.batches * p.output_h * p.output_w * p.output_c), want_fused(want.size());
    reference::DepthwiseConvFloat(p, input.data(), filter.data(), b, want.data());
    FusedDepthwiseRef(p, input.data(), filter.data(), b, want_fused.data());
    ASSERT_EQ(OutsideFusedBound(want_fused, want, (int64_t)p.filter_h * p.filter_w), 0u) << "trial " << trial;
    const auto pd = optimized::PackDepthwiseFloat(p, filter.data(), b);
    for (const FloatConfig& cfg : FloatConfigs())
      for (FloatMath math : kMaths)
      for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool2, &pool3}) {
        const EmulationScope emu(cfg.emulated);
        std::vector<float> got(want.size(), std::numeric_limits<float>::quiet_NaN());
        optimized::DepthwiseConvFloat(pd, input.data(), got.data(), tp, cfg.path, nullptr, math);
        ASSERT_EQ(Mismatches(got, FusedValues(cfg.path, math) ? want_fused : want), 0u)
            << "seed " << seed << " trial " << trial << " path " << cfg.Name() << " " << FloatMathName(math)
            << " threads "
            << (tp ? tp->size() : 1) << " c " << p.output_c << " f" << p.filter_h << "x" << p.filter_w << " s"
            << p.stride_h << "," << p.stride_w << " d" << p.dilation_h << "," << p.dilation_w;
      }
  }
}

// The expand + depthwise fusion (expand_depthwise_float.h) against the two kernels run one after
// the other on the same path and arithmetic: bit for bit (memcmp: the same kernels over the same
// taps, so even a zero's sign must match). Random shapes, windows (strides 1-3, dilation, SAME /
// VALID, filters up to 5x5 and taller than wide), batches of 2, clamps on both ops, rings of the
// default size and of 1 to 4 rows (raised to the window's height: runs that wrap the ring at every
// row), 1-3 threads (tasks starting mid-image).
TEST(OptimizedFloat, ExpandDepthwiseMatchesTheTwoOps) {
  const uint32_t seed = 5151;
  std::mt19937 rng(seed);
  ThreadPool pool2(2), pool3(3);
  struct RingScope {
    explicit RingScope(int r) { optimized::SetExpandRingRowsForTests(r); }
    ~RingScope() { optimized::SetExpandRingRowsForTests(0); }
  };
  int ran = 0;
  for (int trial = 0; trial < 60; ++trial) {
    reference::ConvParams e;  // the expand: 1x1, stride 1, no padding
    e.batches = Uniform(rng, 0, 3) == 0 ? 2 : 1;
    e.input_h = e.output_h = Uniform(rng, 1, 14);
    e.input_w = e.output_w = Uniform(rng, 1, 14);
    e.input_c = Uniform(rng, 1, 40);
    e.output_c = Uniform(rng, 0, 2) == 0 ? Uniform(rng, 33, 70) : Uniform(rng, 1, 32);
    e.filter_h = e.filter_w = 1;
    e.float_act = RandomFloatClamp(rng);
    reference::ConvParams d;
    d.batches = e.batches;
    d.input_h = e.output_h;
    d.input_w = e.output_w;
    d.input_c = d.output_c = e.output_c;
    d.filter_h = Uniform(rng, 1, 5);
    d.filter_w = Uniform(rng, 0, 1) ? d.filter_h : Uniform(rng, 1, 5);
    if (!RandomWindow(rng, &d)) continue;
    if (Uniform(rng, 0, 3) == 0) d.stride_h = d.stride_w = 3, reference::ComputePadding(reference::Padding::kSame,
        d.input_h, d.filter_h, 3, d.dilation_h, &d.output_h, &d.pad_top),
        reference::ComputePadding(reference::Padding::kSame, d.input_w, d.filter_w, 3, d.dilation_w, &d.output_w,
                                  &d.pad_left);
    d.float_act = RandomFloatClamp(rng);
    auto input = RandomFloats(rng, (size_t)e.batches * e.input_h * e.input_w * e.input_c);
    auto ew = RandomFloats(rng, (size_t)e.output_c * e.input_c);
    auto eb = RandomFloats(rng, e.output_c);
    auto dw = RandomFloats(rng, (size_t)d.filter_h * d.filter_w * d.output_c);
    auto db = RandomFloats(rng, d.output_c);
    const auto pc = optimized::PackConvFloat(e, ew.data(), Uniform(rng, 0, 4) ? eb.data() : nullptr);
    const auto pd = optimized::PackDepthwiseFloat(d, dw.data(), Uniform(rng, 0, 4) ? db.data() : nullptr);
    if (!optimized::ExpandDepthwiseApplies(pc, pd)) {  // a narrow expand (few output channels) does not fuse
      ASSERT_TRUE(pc.narrow) << "trial " << trial;
      continue;
    }
    const size_t mid_n = (size_t)e.batches * e.output_h * e.output_w * e.output_c;
    const size_t out_n = (size_t)d.batches * d.output_h * d.output_w * d.output_c;
    for (const FloatConfig& cfg : FloatConfigs())
      for (FloatMath math : kMaths) {
        const EmulationScope emu(cfg.emulated);
        std::vector<float> mid(mid_n), want(out_n);
        optimized::ConvFloat(pc, input.data(), mid.data(), nullptr, nullptr, cfg.path, nullptr, math);
        optimized::DepthwiseConvFloat(pd, mid.data(), want.data(), nullptr, cfg.path, nullptr, math);
        for (int ring : {0, 1, 2, 4})
          for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool2, &pool3}) {
            const RingScope rs(ring);
            std::vector<float> got(out_n, std::numeric_limits<float>::quiet_NaN());
            optimized::ExpandDepthwiseFloat(pc, pd, input.data(), got.data(), tp, cfg.path, math);
            ASSERT_EQ(std::memcmp(got.data(), want.data(), out_n * sizeof(float)), 0)
                << "seed " << seed << " trial " << trial << " path " << cfg.Name() << " " << FloatMathName(math)
                << " ring " << ring << " threads " << (tp ? tp->size() : 1) << " b" << e.batches << " "
                << e.input_h << "x" << e.input_w << "x" << e.input_c << " -> " << e.output_c << " dw f"
                << d.filter_h << "x" << d.filter_w << " s" << d.stride_h << "," << d.stride_w << " d"
                << d.dilation_h << "," << d.dilation_w << " pad " << d.pad_top << "," << d.pad_left;
            ++ran;
          }
      }
  }
  EXPECT_GT(ran, 1000);
}

// A NaN accumulator clamps as the reference's std::min(std::max(v, lo), hi) does.
TEST(OptimizedFloat, NanInputClampsLikeReference) {
  reference::ConvParams p;
  p.input_h = p.input_w = 2;
  p.input_c = 2;
  p.output_c = 3;
  p.output_h = p.output_w = 2;
  p.float_act = reference::ActivationRangeFloat(reference::Activation::kRelu6);
  std::vector<float> input{std::numeric_limits<float>::quiet_NaN(), 1, 2, 3, 4, 5, 6, 7};
  std::vector<float> filter{1, 2, 3, 4, 5, 6}, want(12), got(12);
  reference::ConvFloat(p, input.data(), filter.data(), nullptr, want.data());
  const auto pc = optimized::PackConvFloat(p, filter.data(), nullptr);
  for (const FloatConfig& cfg : FloatConfigs())
    for (FloatMath math : kMaths) {
      const EmulationScope emu(cfg.emulated);
      optimized::ConvFloat(pc, input.data(), got.data(), nullptr, nullptr, cfg.path, nullptr, math);
      for (int i = 0; i < 12; ++i)  // integer-valued: fused and exact agree
        EXPECT_TRUE(got[i] == want[i] || (std::isnan(got[i]) && std::isnan(want[i])))
            << cfg.Name() << " " << FloatMathName(math) << " " << i << ": " << got[i] << " vs " << want[i];
    }
}

}  // namespace
}  // namespace qat::kernels
