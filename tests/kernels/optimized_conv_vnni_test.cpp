// The AVX-512 VNNI GEMM of the optimised CONV_2D / FULLY_CONNECTED (kernels/optimized/conv.h,
// x86/gemm_avx512vnni.cpp) against the reference kernels, tolerance 0, both requantization modes,
// int8 and uint8, 1 to 3 threads.
//  - VnniLayout*: VNNI panels packed on every CPU (SetVnniPackingForTests); where the CPU lacks
//    VNNI the kAvx512Vnni path runs the tile's scalar twin, so packing, the u8 copy (+128) and the
//    bias fold are tested everywhere; where it has VNNI the vpdpbusd kernel runs.
//  - Hardware*: the vpdpbusd kernel as dispatched by default; skipped (with the reason) on a CPU
//    without AVX-512 VNNI.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "kernels/optimized/conv.h"
#include "kernels/reference/conv.h"
#include "kernels/x86/int8_x86.h"
#include "kernels/reference/fully_connected.h"
#include "optimized_test_util.h"
#include "qat/thread_pool.h"

namespace qat::kernels {
namespace {

using namespace testing;

struct PackAlways {
  PackAlways() { optimized::SetVnniPackingForTests(true); }
  ~PackAlways() { optimized::SetVnniPackingForTests(false); }
};

std::string Describe(const reference::ConvParams& p) {
  std::ostringstream s;
  s << "b" << p.batches << " " << p.input_h << "x" << p.input_w << "x" << p.input_c << " -> " << p.output_c << " f"
    << p.filter_h << "x" << p.filter_w << " s" << p.stride_h << "," << p.stride_w << " d" << p.dilation_h << ","
    << p.dilation_w << " zin " << -p.input_offset << " zw " << -p.filter_offset << " mode " << (int)p.requant;
  return s.str();
}

reference::ConvParams RandomConv(std::mt19937& rng, bool is_uint8, bool fitting_zw) {
  reference::ConvParams p;
  p.batches = Uniform(rng, 1, 2);
  p.input_h = Uniform(rng, 1, 13);
  p.input_w = Uniform(rng, 1, 13);
  p.input_c = Uniform(rng, 1, 90);
  p.output_c = Uniform(rng, 1, 50);
  const int kind = Uniform(rng, 0, 3);
  p.filter_h = kind == 0 ? 1 : Uniform(rng, 1, 4);
  p.filter_w = kind == 0 ? 1 : (kind == 1 ? p.filter_h : Uniform(rng, 1, 4));
  p.stride_h = kind == 0 && Uniform(rng, 0, 1) ? 1 : Uniform(rng, 1, 3);
  p.stride_w = kind == 0 && Uniform(rng, 0, 1) ? 1 : Uniform(rng, 1, 3);
  p.dilation_h = Uniform(rng, 0, 4) == 0 ? 2 : 1;
  p.dilation_w = Uniform(rng, 0, 4) == 0 ? 2 : 1;
  const auto pad = Uniform(rng, 0, 1) ? reference::Padding::kSame : reference::Padding::kValid;
  reference::ComputePadding(pad, p.input_h, p.filter_h, p.stride_h, p.dilation_h, &p.output_h, &p.pad_top);
  reference::ComputePadding(pad, p.input_w, p.filter_w, p.stride_w, p.dilation_w, &p.output_w, &p.pad_left);
  p.input_offset = -ZeroPoint(rng, is_uint8);
  // uint8 weights w - Z_w fit int8 for any w in [0, 255] only with Z_w = 128.
  p.filter_offset = is_uint8 ? (fitting_zw ? -128 : -ZeroPoint(rng, true)) : 0;
  p.output_offset = ZeroPoint(rng, is_uint8);
  RandomClamp(rng, is_uint8, &p.act_min, &p.act_max);
  return p;
}

// Which VNNI panels a layer got: none (the AVX2 GEMM runs it), plain taps (PackedConv::vnni) or,
// for a first layer with few input channels, the im2col order (PackedConv::vnni_im2col).
enum class Panels { kNone, kPlain, kIm2col };

// Runs one layer on `path` with 1, 2 and 3 threads against the reference; returns its panels.
template <class T>
Panels CheckConv(std::mt19937& rng, const reference::ConvParams& p, KernelPath path) {
  const bool is_uint8 = std::is_same_v<T, uint8_t>;
  const size_t in_n = (size_t)p.batches * p.input_h * p.input_w * p.input_c;
  const size_t out_n = (size_t)p.batches * p.output_h * p.output_w * p.output_c;
  auto input = RandomBytes<T>(rng, in_n);
  auto filter = RandomBytes<T>(rng, (size_t)p.output_c * p.filter_h * p.filter_w * p.input_c, !is_uint8);
  auto bias = RandomBias(rng, p.output_c);
  std::vector<Requant> rq(is_uint8 ? 1 : p.output_c);
  for (auto& r : rq) r = RandomRequant(rng);
  std::vector<T> want(out_n);
  optimized::PackedConv pc;
  if constexpr (is_uint8) {
    reference::ConvUint8(p, rq[0], input.data(), filter.data(), bias.data(), want.data());
    pc = optimized::PackConvUint8(p, rq[0], filter.data(), bias.data());
  } else {
    reference::ConvPerChannelInt8(p, rq.data(), input.data(), filter.data(), bias.data(), want.data());
    pc = optimized::PackConvInt8(p, rq.data(), (int)rq.size(), filter.data(), bias.data());
  }
  static ThreadPool pool2(2), pool3(3);
  for (ThreadPool* tp : {(ThreadPool*)nullptr, &pool2, &pool3}) {
    // 64 guard bytes after the output and after the scratch the layer asked for: a tile that
    // stores past the last pixel (or a copy past its buffer) shows even without a sanitizer.
    constexpr size_t kGuard = 64;
    std::vector<T> got(out_n + kGuard, 0x5a);
    const size_t scratch_n = optimized::ConvScratchBytes(pc);
    std::vector<uint8_t> scratch(scratch_n + kGuard, 0xa5);
    if constexpr (is_uint8)
      optimized::ConvUint8(pc, input.data(), got.data(), scratch.data(), tp, path);
    else
      optimized::ConvInt8(pc, input.data(), got.data(), scratch.data(), tp, path);
    size_t bad = 0, guard = 0;
    for (size_t i = 0; i < out_n; ++i) bad += got[i] != want[i];
    for (size_t i = out_n; i < out_n + kGuard; ++i) guard += got[i] != (T)0x5a;
    for (size_t i = scratch_n; i < scratch_n + kGuard; ++i) guard += scratch[i] != 0xa5;
    EXPECT_EQ(bad, 0u) << Describe(p) << " vnni " << pc.vnni << " threads " << (tp ? tp->size() : 1) << " path "
                       << KernelPathName(path);
    EXPECT_EQ(guard, 0u) << "bytes written past the output or the scratch: " << Describe(p) << " threads "
                         << (tp ? tp->size() : 1) << " path " << KernelPathName(path);
  }
  return pc.vnni ? Panels::kPlain : pc.vnni_im2col ? Panels::kIm2col : Panels::kNone;
}

template <class T>
void CheckFc(std::mt19937& rng, int batches, int depth, int out_depth, KernelPath path, RequantMode mode) {
  const bool is_uint8 = std::is_same_v<T, uint8_t>;
  reference::FullyConnectedParams p;
  p.requant = mode;
  p.batches = batches;
  p.input_depth = depth;
  p.output_depth = out_depth;
  p.input_offset = -ZeroPoint(rng, is_uint8);
  p.filter_offset = is_uint8 ? -128 : 0;
  p.output_offset = ZeroPoint(rng, is_uint8);
  RandomClamp(rng, is_uint8, &p.act_min, &p.act_max);
  auto x = RandomBytes<T>(rng, (size_t)batches * depth);
  auto w = RandomBytes<T>(rng, (size_t)out_depth * depth, !is_uint8);
  auto bias = RandomBias(rng, out_depth);
  std::vector<Requant> rq(is_uint8 ? 1 : out_depth);
  for (auto& r : rq) r = RandomRequant(rng);
  std::vector<T> want((size_t)batches * out_depth), got(want.size(), 0x5a);
  optimized::PackedConv pc;
  if constexpr (is_uint8) {
    reference::FullyConnectedUint8(p, rq[0], x.data(), w.data(), bias.data(), want.data());
    pc = optimized::PackFullyConnectedUint8(p, rq[0], w.data(), bias.data());
    optimized::ConvUint8(pc, x.data(), got.data(), nullptr, nullptr, path);
  } else {
    reference::FullyConnectedInt8(p, rq.data(), (int)rq.size(), x.data(), w.data(), bias.data(), want.data());
    pc = optimized::PackFullyConnectedInt8(p, rq.data(), (int)rq.size(), w.data(), bias.data());
    optimized::ConvInt8(pc, x.data(), got.data(), nullptr, nullptr, path);
  }
  EXPECT_TRUE(pc.vnni);
  EXPECT_EQ(got, want) << "FC b" << batches << " " << depth << " -> " << out_depth << " mode " << (int)mode;
}

// Random layers: the int8 ones with plain taps always get VNNI panels, the first layers (few input
// channels: row taps / im2col on the int16 GEMM) VNNI panels in the im2col order; uint8 layers
// whose weights do not fit int8 fall back to the AVX2 GEMM (still exact).
template <class T>
void RandomTrials(uint32_t seed, int trials, KernelPath path) {
  const bool is_uint8 = std::is_same_v<T, uint8_t>;
  std::mt19937 rng(seed);
  int vnni_layers = 0;
  for (int trial = 0; trial < trials; ++trial)
    for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
      reference::ConvParams p = RandomConv(rng, is_uint8, trial % 4 != 3);
      p.requant = mode;
      if (p.output_h == 0 || p.output_w == 0) continue;
      const bool plain = !(p.filter_h * p.filter_w > 1 && p.input_c < 8);
      const Panels panels = CheckConv<T>(rng, p, path);
      if (!is_uint8 || p.filter_offset == -128) {
        EXPECT_EQ(panels, plain ? Panels::kPlain : Panels::kIm2col) << Describe(p);
      }
      vnni_layers += panels != Panels::kNone;
      if (::testing::Test::HasFailure()) return;
    }
  EXPECT_GT(vnni_layers, trials / 2);
}

TEST(OptimizedConvVnni, VnniLayoutInt8MatchesReference) {
  PackAlways always;
  RandomTrials<int8_t>(606, 120, KernelPath::kAvx512Vnni);
}

TEST(OptimizedConvVnni, VnniLayoutUint8MatchesReference) {
  PackAlways always;
  RandomTrials<uint8_t>(607, 120, KernelPath::kAvx512Vnni);
}

TEST(OptimizedConvVnni, VnniLayoutFullyConnectedMatchesReference) {
  PackAlways always;
  std::mt19937 rng(608);
  for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack})
    for (int b : {1, 3, 8, 13}) {
      CheckFc<int8_t>(rng, b, Uniform(rng, 1, 300), Uniform(rng, 1, 70), KernelPath::kAvx512Vnni, mode);
      CheckFc<uint8_t>(rng, b, Uniform(rng, 1, 300), Uniform(rng, 1, 70), KernelPath::kAvx512Vnni, mode);
    }
}

void NetworkShapes(KernelPath path);

// The VNNI tile's zmm output stage over the whole int32 accumulator range: FC layers of depth 1-3,
// so the bias sets the accumulator. kTflite: every right shift 0-31 and a few left shifts,
// multipliers over [0, 2^31); kXnnpack: scales from 2^-20 to 4, so that float(acc) * scale passes
// +-2^31 (vcvtps2dq's 0x80000000, which the stage turns into INT32_MAX for positive products).
void OutputStageOverTheInt32Range(KernelPath path) {
  std::mt19937 rng(4243);
  for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack})
    for (int trial = 0; trial < 12; ++trial) {
      reference::FullyConnectedParams p;
      p.requant = mode;
      p.batches = Uniform(rng, 1, 9);
      p.input_depth = Uniform(rng, 1, 3);
      p.output_depth = 48;
      p.input_offset = -ZeroPoint(rng, false);
      // Z_out = 0 every third trial: only there does INT32_MAX (the saturated product) differ from
      // vcvtps2dq's INT32_MIN after the wrapping + Z_out and the clamp.
      p.output_offset = trial % 3 == 0 ? 0 : ZeroPoint(rng, false);
      RandomClamp(rng, false, &p.act_min, &p.act_max);
      auto x = RandomBytes<int8_t>(rng, (size_t)p.batches * p.input_depth);
      auto w = RandomBytes<int8_t>(rng, (size_t)p.output_depth * p.input_depth, true);
      std::vector<int32_t> bias(p.output_depth);
      std::vector<Requant> rq(p.output_depth);
      for (int c = 0; c < p.output_depth; ++c) {
        if (mode == RequantMode::kTflite) {
          rq[c].multiplier = c % 7 == 0 ? (int32_t)(rng() >> 1) : (int32_t)((1u << 30) + (rng() >> 2));
          rq[c].shift = c < 32 ? -c : Uniform(rng, -31, 3);
        } else {
          rq[c] = MakeRequant(std::exp2(std::uniform_real_distribution<double>(-20.0, 2.0)(rng)));
        }
        const int k = Uniform(rng, 0, 3);
        bias[c] = k == 0 ? INT32_MAX - Uniform(rng, 0, 1000) : k == 1 ? INT32_MIN + Uniform(rng, 0, 1000) : (int32_t)rng();
      }
      std::vector<int8_t> want((size_t)p.batches * p.output_depth), got(want.size(), 0x5a);
      reference::FullyConnectedInt8(p, rq.data(), p.output_depth, x.data(), w.data(), bias.data(), want.data());
      auto pc = optimized::PackFullyConnectedInt8(p, rq.data(), p.output_depth, w.data(), bias.data());
      ASSERT_TRUE(pc.vnni);
      optimized::ConvInt8(pc, x.data(), got.data(), nullptr, nullptr, path);
      ASSERT_EQ(got, want) << "trial " << trial << " mode " << (int)mode;
    }
}

struct EmulateVnni {
  EmulateVnni() { optimized::SetVnniEmulationForTests(true); }
  ~EmulateVnni() { optimized::SetVnniEmulationForTests(false); }
};

// The vpdpbusd kernel's own source with emulated AVX-512 intrinsics (x86/avx512_emulation.h) on a
// CPU without VNNI: the same random layers as VnniLayout*, and the network shapes of
// HardwareKernelMatchesReference below. Where the CPU has VNNI the hardware kernel runs instead
// (the hook only replaces the scalar twin).
TEST(OptimizedConvVnni, EmulatedKernelMatchesReference) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "the emulated kernel is compiled for AVX2";
  PackAlways always;
  EmulateVnni emulate;
  RandomTrials<int8_t>(611, 60, KernelPath::kAvx512Vnni);
  RandomTrials<uint8_t>(612, 60, KernelPath::kAvx512Vnni);
  std::mt19937 rng(613);
  for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack})
    for (int b : {1, 3, 8, 13}) {
      CheckFc<int8_t>(rng, b, Uniform(rng, 1, 300), Uniform(rng, 1, 70), KernelPath::kAvx512Vnni, mode);
      CheckFc<uint8_t>(rng, b, Uniform(rng, 1, 300), Uniform(rng, 1, 70), KernelPath::kAvx512Vnni, mode);
    }
  NetworkShapes(KernelPath::kAvx512Vnni);
  OutputStageOverTheInt32Range(KernelPath::kAvx512Vnni);
}

// The emulation those tests stand on: each emulated AVX-512 operation against this CPU's AVX2 twin
// on both halves (random and edge values: NaN, infinities, +-2^31, shift counts past the lane),
// vpdpbusd and vpmovdb against scalar formulations.
TEST(OptimizedConvVnni, EmulationMatchesTheCpusOwnInstructions) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "the check compares with AVX2 instructions";
  std::string first;
  EXPECT_EQ(x86::CheckAvx512EmulationForTests(2026, 3000, &first), 0) << "first mismatch: " << first;
}

// Without the test hook the u8 panels exist only where the CPU has VNNI or AVX2 (the split GEMM).
TEST(OptimizedConvVnni, PanelsFollowTheCpu) {
  reference::ConvParams p;
  p.input_h = p.input_w = 4;
  p.input_c = p.output_c = 16;
  p.output_h = p.output_w = 4;
  std::vector<int8_t> w(16 * 16, 1);
  Requant rq = MakeRequant(0.01);
  auto pc = optimized::PackConvInt8(p, &rq, 1, w.data(), nullptr);
  EXPECT_EQ(pc.vnni, isa_supported(Isa::kAvx512Vnni) || isa_supported(Isa::kAvx2));
}

TEST(OptimizedConvVnni, GemmDispatch) {
  EXPECT_EQ(GemmPathFor(Isa::kPortable), KernelPath::kPortable);
  EXPECT_EQ(GemmPathFor(Isa::kAvx2), KernelPath::kAvx2);
  EXPECT_EQ(GemmPathFor(Isa::kAvx512Vnni), KernelPath::kAvx512Vnni);
  EXPECT_EQ(KernelPathFor(Isa::kAvx512Vnni), KernelPath::kAvx2);  // elementwise kernels: AVX2
  if (isa_supported(Isa::kAvx512Vnni)) {
    force_isa(Isa::kAvx2);
    EXPECT_EQ(ActiveGemmPath(), KernelPath::kAvx2);
    force_isa(Isa::kAvx512Vnni);
    EXPECT_EQ(ActiveGemmPath(), KernelPath::kAvx512Vnni);
    clear_forced_isa();
  }
}

// The vpdpbusd kernel itself, at network sizes (many 8-pixel tiles, pixel and channel tails).
TEST(OptimizedConvVnni, HardwareKernelMatchesReference) {
  if (!isa_supported(Isa::kAvx512Vnni))
    GTEST_SKIP() << "this CPU/OS lacks AVX-512 VNNI: the vpdpbusd kernel is not run here (its scalar twin is, "
                    "in VnniLayout*)";
  force_isa(Isa::kAvx512Vnni);
  ASSERT_EQ(ActiveGemmPath(), KernelPath::kAvx512Vnni);
  NetworkShapes(ActiveGemmPath());
  OutputStageOverTheInt32Range(ActiveGemmPath());
  clear_forced_isa();
}

// AMX in the VNNI runs (x86::GemmTilesAmx: 16-pixel blocks x two panels on tile registers, the
// rows by one strided tile load or a 16-row copy): layers whose input depth is a multiple of 64 or
// below 64,
// pixel counts around the 16- and 32-pixel blocks, output channels with and without a partial pair
// of panels, 1x1 / 3x3 with padding (copied rows) / stride 2 / dilation 2, batches of 2, FC.
void AmxShapes(KernelPath path) {
  std::mt19937 rng(2611);
  struct Shape {
    int b, h, w, ic, oc, k, s, d;
  };
  const Shape shapes[] = {{1, 4, 4, 64, 32, 1, 1, 1},   {1, 4, 8, 128, 64, 1, 1, 1},  {1, 7, 7, 64, 96, 1, 1, 1},
                          {2, 5, 7, 192, 40, 1, 1, 1},  {1, 9, 9, 64, 64, 3, 1, 1},   {1, 12, 10, 128, 32, 3, 2, 1},
                          {2, 8, 9, 64, 48, 3, 1, 2},   {1, 6, 11, 256, 70, 1, 2, 1}, {1, 17, 3, 64, 32, 5, 1, 1},
                          // Depths below 64 (one short K step): 32 and 12 channels, first layers (im2col rows).
                          {1, 8, 8, 32, 64, 1, 1, 1},   {1, 9, 9, 12, 32, 3, 1, 1},   {1, 16, 16, 3, 32, 3, 2, 1},
                          {2, 11, 13, 1, 32, 3, 1, 1},
                          // Direct 1x1 layers whose depth is no whole number of 64-byte steps (im2col rows).
                          {1, 6, 6, 96, 64, 1, 1, 1},   {2, 5, 9, 144, 32, 1, 1, 1}};
  // kind 0: int8; 1: uint8 with Z_w = 128 (folded weights fit int8: tdpbusd); 2: uint8 with another
  // weight zero point over full-range weights (the u8 x u8 form, tdpbuud, where channels are a
  // multiple of 32 and the depth at least 64 bytes; else the AVX2 GEMM).
  for (const Shape& sh : shapes)
    for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack})
      for (int kind = 0; kind < 3; ++kind)
        for (int clamp = 0; clamp < 2; ++clamp) {
          const bool is_uint8 = kind > 0;
          reference::ConvParams p;
          p.batches = sh.b;
          p.input_h = sh.h;
          p.input_w = sh.w;
          p.input_c = sh.ic;
          p.output_c = sh.oc;
          p.filter_h = p.filter_w = sh.k;
          p.stride_h = p.stride_w = sh.s;
          p.dilation_h = p.dilation_w = sh.d;
          reference::ComputePadding(reference::Padding::kSame, sh.h, sh.k, sh.s, sh.d, &p.output_h, &p.pad_top);
          reference::ComputePadding(reference::Padding::kSame, sh.w, sh.k, sh.s, sh.d, &p.output_w, &p.pad_left);
          p.input_offset = -ZeroPoint(rng, is_uint8);
          p.filter_offset = kind == 0 ? 0 : kind == 1 ? -128 : -Uniform(rng, 0, 255);
          if (kind == 2 && p.filter_offset == -128) p.filter_offset = -127;
          p.output_offset = ZeroPoint(rng, is_uint8);
          // clamp 0: the whole type (the saturating byte forms); 1: a random clamp.
          if (clamp) {
            RandomClamp(rng, is_uint8, &p.act_min, &p.act_max);
          } else {
            p.act_min = is_uint8 ? 0 : -128;
            p.act_max = is_uint8 ? 255 : 127;
          }
          p.requant = mode;
          if (is_uint8)
            CheckConv<uint8_t>(rng, p, path);
          else
            CheckConv<int8_t>(rng, p, path);
          if (::testing::Test::HasFailure()) return;
        }
  // The u8 x u8 packing is there for such a layer (Z_w = 5, full-range weights, 64 channels).
  {
    reference::ConvParams p;
    p.input_h = p.input_w = p.output_h = p.output_w = 6;
    p.input_c = p.output_c = 64;
    p.filter_h = p.filter_w = 3;
    p.pad_top = p.pad_left = 1;
    p.input_offset = -3;
    p.filter_offset = -5;
    std::vector<uint8_t> w(64 * 9 * 64);
    for (size_t i = 0; i < w.size(); ++i) w[i] = (uint8_t)(i * 37 % 256);
    const auto pc = optimized::PackConvUint8(p, MakeRequant(0.001), w.data(), nullptr);
    EXPECT_TRUE(pc.amx_uu && !pc.vnni) << "a uint8 layer whose weights do not fit int8 gets the u8 x u8 AMX panels";
  }
  for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack})
    for (int b : {16, 33}) {
      CheckFc<int8_t>(rng, b, 128, 64, path, mode);
      CheckFc<uint8_t>(rng, b, 192, 96, path, mode);
      CheckFc<int8_t>(rng, b, 100, 32, path, mode);
    }
}

struct AmxMode {
  explicit AmxMode(int mode) { optimized::SetAmxForTests(mode); }
  ~AmxMode() { optimized::SetAmxForTests(-1); }
};

// The AMX kernel on this CPU's tiles, where the process may use them.
TEST(OptimizedConvVnni, AmxHardwareMatchesReference) {
  if (!optimized::AmxUsableForTests() || !isa_supported(Isa::kAvx512Vnni))
    GTEST_SKIP() << "this CPU/OS lacks AMX-INT8 (or AVX-512 VNNI): the tile kernel runs emulated only "
                    "(AmxEmulatedMatchesReference)";
  AmxMode amx(1);
  const int64_t runs0 = optimized::AmxRunsForTests();
  force_isa(Isa::kAvx512Vnni);
  AmxShapes(ActiveGemmPath());
  NetworkShapes(ActiveGemmPath());
  clear_forced_isa();
  EXPECT_GT(optimized::AmxRunsForTests(), runs0) << "the AMX kernel never ran";
}

// Its own source on emulated tiles and emulated AVX-512 (needs AVX2), on any CPU: the VNNI path on
// hardware where the CPU has it, else emulated.
TEST(OptimizedConvVnni, AmxEmulatedMatchesReference) {
  if (!isa_supported(Isa::kAvx2)) GTEST_SKIP() << "the emulated AMX kernel is compiled for AVX2";
  PackAlways always;
  EmulateVnni emulate;
  AmxMode amx(2);
  const int64_t runs0 = optimized::AmxRunsForTests();
  AmxShapes(KernelPath::kAvx512Vnni);
  EXPECT_GT(optimized::AmxRunsForTests(), runs0) << "the AMX kernel never ran";
}

// Network-sized layers (many 8-pixel tiles, pixel and channel tails) and FC 1024 -> 1000 on `path`.
void NetworkShapes(KernelPath path) {
  std::mt19937 rng(609);
  struct Shape {
    int h, w, ic, oc, k, s;
  };
  // The last three are first layers (im2col panels): MobileNet's at half resolution, SmallCNN's,
  // and a 5x5 window with 3 channels (75 values, a 76-byte row).
  const Shape shapes[] = {{28, 28, 128, 128, 1, 1}, {14, 14, 256, 250, 3, 1}, {15, 13, 67, 75, 3, 2},
                          {7, 7, 512, 33, 1, 1},    {9, 11, 36, 40, 5, 1},   {17, 17, 8, 16, 3, 1},
                          {112, 112, 3, 32, 3, 2},  {28, 28, 1, 32, 3, 1},   {23, 31, 3, 24, 5, 1}};
  for (const Shape& sh : shapes)
    for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack})
      for (bool is_uint8 : {false, true}) {
        reference::ConvParams p;
        p.input_h = sh.h;
        p.input_w = sh.w;
        p.input_c = sh.ic;
        p.output_c = sh.oc;
        p.filter_h = p.filter_w = sh.k;
        p.stride_h = p.stride_w = sh.s;
        reference::ComputePadding(reference::Padding::kSame, sh.h, sh.k, sh.s, 1, &p.output_h, &p.pad_top);
        reference::ComputePadding(reference::Padding::kSame, sh.w, sh.k, sh.s, 1, &p.output_w, &p.pad_left);
        p.input_offset = -ZeroPoint(rng, is_uint8);
        p.filter_offset = is_uint8 ? -128 : 0;
        p.output_offset = ZeroPoint(rng, is_uint8);
        RandomClamp(rng, is_uint8, &p.act_min, &p.act_max);
        p.requant = mode;
        const Panels panels = is_uint8 ? CheckConv<uint8_t>(rng, p, path) : CheckConv<int8_t>(rng, p, path);
        EXPECT_EQ(panels, sh.ic < 8 ? Panels::kIm2col : Panels::kPlain) << Describe(p);
      }
  for (RequantMode mode : {RequantMode::kTflite, RequantMode::kXnnpack}) {
    CheckFc<int8_t>(rng, 1, 1024, 1000, path, mode);
    CheckFc<int8_t>(rng, 13, 1024, 1000, path, mode);
    CheckFc<uint8_t>(rng, 5, 999, 77, path, mode);
  }
}

}  // namespace
}  // namespace qat::kernels
