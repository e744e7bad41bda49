// FakeQuant arithmetic against TF's FakeQuantWithMinMaxVars formulas (REFERENCE.md §3),
// re-derived here independently of src/quantize/fake_quant_math.cpp.
#include "quantize/fake_quant_math.h"
#include "qat/cpu_features.h"
#include "qat/error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace fq = qat::quantize::fq;

namespace {

// TF's Nudge + forward, transcribed from the formulas of REFERENCE.md §3.
struct TfRef {
  float nmin, nmax, scale;
  TfRef(float min, float max, int qmin, int qmax) {
    float qminf = (float)qmin, qmaxf = (float)qmax;
    scale = (max - min) / (qmaxf - qminf);
    float zp_from_min = qminf - min / scale;
    uint16_t zp;
    if (zp_from_min < qminf) zp = (uint16_t)qmin;
    else if (zp_from_min > qmaxf) zp = (uint16_t)qmax;
    else zp = (uint16_t)std::round(zp_from_min);
    nmin = (qminf - zp) * scale;
    nmax = (qmaxf - zp) * scale;
  }
  float fwd(float x) const {
    float c = std::max(std::min(x, nmax), nmin);
    return std::floor((c - nmin) / scale + 0.5f) * scale + nmin;
  }
};

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0 || (a == 0.f && b == 0.f); }

std::vector<float> edge_inputs(const TfRef& r) {
  std::vector<float> xs = {0.f, -0.f, r.nmin, r.nmax, std::nextafter(r.nmin, -1e30f), std::nextafter(r.nmax, 1e30f),
                           -1e30f, 1e30f, 1e-30f, -1e-30f};
  // Exact half-way points between grid values (and their float neighbours): round half up.
  for (int k = -3; k < 300; ++k) {
    float h = r.nmin + ((float)k + 0.5f) * r.scale;
    xs.push_back(h);
    xs.push_back(std::nextafter(h, -1e30f));
    xs.push_back(std::nextafter(h, 1e30f));
    xs.push_back(r.nmin + (float)k * r.scale);
  }
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(r.nmin - 2 * (r.nmax - r.nmin), r.nmax + 2 * (r.nmax - r.nmin));
  for (int i = 0; i < 50000; ++i) xs.push_back(u(rng));
  return xs;
}

struct RangeCase {
  float min, max;
};
const RangeCase kRanges[] = {{-6.f, 6.f},   {0.f, 6.f},        {-1.f, 0.f},     {-0.1f, 0.25f}, {0.5f, 2.f},
                             {-3.f, -1.f},  {-127.5f, 127.5f}, {-0.f, 1e-6f},   {-1e4f, 3.f},   {-0.123f, 5.678f},
                             {0.f, 1.f},    {-1.f, 1.f},       {-2.3e-3f, 7.f}, {-5.f, 0.01f}};

}  // namespace

TEST(FakeQuantMath, QuantRangeAndBits) {
  EXPECT_EQ(fq::quant_range(8, false).qmin, 0);
  EXPECT_EQ(fq::quant_range(8, false).qmax, 255);
  EXPECT_EQ(fq::quant_range(8, true).qmin, 1);
  EXPECT_EQ(fq::quant_range(2, false).qmax, 3);
  EXPECT_EQ(fq::quant_range(16, true).qmax, 65535);
  EXPECT_THROW(fq::quant_range(1, false), qat::UsageError);
  EXPECT_THROW(fq::quant_range(17, false), qat::UsageError);
}

TEST(FakeQuantMath, NudgeMatchesTfAndZeroIsExact) {
  for (int bits = 2; bits <= 16; ++bits)
    for (bool narrow : {false, true})
      for (auto rc : kRanges) {
        auto qr = fq::quant_range(bits, narrow);
        TfRef ref(rc.min, rc.max, qr.qmin, qr.qmax);
        fq::Nudged n = fq::nudge(rc.min, rc.max, qr);
        SCOPED_TRACE(testing::Message() << "bits " << bits << " narrow " << narrow << " [" << rc.min << ","
                                        << rc.max << "]");
        ASSERT_TRUE(same_bits(n.min, ref.nmin));
        ASSERT_TRUE(same_bits(n.max, ref.nmax));
        ASSERT_TRUE(same_bits(n.scale, ref.scale));
        // 0 maps to the grid exactly (the reason for nudging: zero padding must be exact).
        ASSERT_EQ(fq::fake_quant_one(0.f, n), 0.f);
        ASSERT_GE(n.zero_point, qr.qmin);
        ASSERT_LE(n.zero_point, qr.qmax);
      }
}

TEST(FakeQuantMath, ForwardBitExactAllBitsAndRanges) {
  // Every code path of fq::forward (portable SSE4.1, AVX2 when the CPU has it).
  for (qat::Isa isa : {qat::Isa::kPortable, qat::Isa::kAvx2}) {
    if (!qat::isa_supported(isa)) continue;
    qat::force_isa(isa);
    SCOPED_TRACE(qat::isa_name(isa));
  for (int bits : {2, 3, 4, 5, 7, 8, 10, 12, 16})
    for (bool narrow : {false, true})
      for (auto rc : kRanges) {
        auto qr = fq::quant_range(bits, narrow);
        TfRef ref(rc.min, rc.max, qr.qmin, qr.qmax);
        fq::Nudged n = fq::nudge(rc.min, rc.max, qr);
        std::vector<float> xs = edge_inputs(ref), ys(xs.size());
        fq::forward(xs.data(), (int64_t)xs.size(), n, ys.data());
        for (size_t i = 0; i < xs.size(); ++i) {
          float want = ref.fwd(xs[i]);
          ASSERT_TRUE(same_bits(ys[i], want)) << "bits " << bits << " narrow " << narrow << " range [" << rc.min
                                              << "," << rc.max << "] x=" << xs[i] << " got " << ys[i]
                                              << " want " << want;
          ASSERT_TRUE(same_bits(fq::fake_quant_one(xs[i], n), want));
        }
      }
  }
  qat::clear_forced_isa();
}

TEST(FakeQuantMath, RoundHalfUpOnTheGrid) {
  // [0, 255] with 8 bits: scale 1, x.5 goes up, -0.5 relative to the grid goes up too.
  fq::Nudged n = fq::nudge(0.f, 255.f, fq::quant_range(8, false));
  EXPECT_EQ(n.scale, 1.f);
  EXPECT_EQ(fq::fake_quant_one(2.5f, n), 3.f);
  EXPECT_EQ(fq::fake_quant_one(3.5f, n), 4.f);  // not half-to-even
  EXPECT_EQ(fq::fake_quant_one(2.4999998f, n), 2.f);
  EXPECT_EQ(fq::fake_quant_one(-7.f, n), 0.f);
  EXPECT_EQ(fq::fake_quant_one(300.f, n), 255.f);
  // Range [-1.5, 253.5]: zp_from_min = 1.5 rounds half up to 2 -> nudged [-2, 253].
  fq::Nudged m = fq::nudge(-1.5f, 253.5f, fq::quant_range(8, false));
  EXPECT_EQ(m.zero_point, 2);
  EXPECT_EQ(m.min, -2.f);
  EXPECT_EQ(m.max, 253.f);
}

TEST(FakeQuantMath, ZeroRangeSpecialCase) {
  fq::Nudged n = fq::nudge(0.f, 0.f, fq::quant_range(8, false));
  EXPECT_TRUE(n.zero);
  std::vector<float> x = {1.f, -2.f, 0.f}, y(3), dy = {1.f, 2.f, 3.f}, dx(3);
  fq::forward(x.data(), 3, n, y.data());
  EXPECT_EQ(y, std::vector<float>(3, 0.f));
  float dmin = 9, dmax = 9;
  fq::backward(x.data(), dy.data(), 3, n, dx.data(), &dmin, &dmax);
  EXPECT_EQ(dx, dy);
  EXPECT_EQ(dmin, 0.f);
  EXPECT_EQ(dmax, 0.f);
  EXPECT_THROW(fq::nudge(1.f, -1.f, fq::quant_range(8, false)), qat::UsageError);
  EXPECT_THROW(fq::nudge(NAN, 1.f, fq::quant_range(8, false)), qat::UsageError);
}

TEST(FakeQuantMath, GradientStraightThroughAndMinMaxSums) {
  for (bool narrow : {false, true}) {
    fq::Nudged n = fq::nudge(-0.7f, 1.3f, fq::quant_range(8, narrow));
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-2.f, 2.f);
    const int64_t N = 100003;  // large enough to use several threads, odd size
    std::vector<float> x(N), dy(N), dx(N);
    for (int64_t i = 0; i < N; ++i) x[i] = u(rng), dy[i] = u(rng);
    x[0] = n.min, x[1] = n.max, x[2] = std::nextafter(n.min, -5.f), x[3] = std::nextafter(n.max, 5.f);
    float dmin, dmax;
    fq::backward(x.data(), dy.data(), N, n, dx.data(), &dmin, &dmax);
    double wmin = 0, wmax = 0;
    for (int64_t i = 0; i < N; ++i) {
      bool inside = x[i] >= n.min && x[i] <= n.max;  // boundaries included (TF: >= and <=)
      ASSERT_EQ(dx[i], inside ? dy[i] : 0.f) << i;
      if (x[i] < n.min) wmin += dy[i];
      if (x[i] > n.max) wmax += dy[i];
    }
    EXPECT_NEAR(dmin, wmin, 1e-3 * (1 + std::fabs(wmin)));
    EXPECT_NEAR(dmax, wmax, 1e-3 * (1 + std::fabs(wmax)));
    // Deterministic: same result twice.
    float dmin2, dmax2;
    fq::backward(x.data(), dy.data(), N, n, dx.data(), &dmin2, &dmax2);
    EXPECT_EQ(dmin, dmin2);
    EXPECT_EQ(dmax, dmax2);
  }
}

TEST(FakeQuantMath, PerChannelMatchesPerTensorPerColumn) {
  const int C = 7;
  const int64_t R = 5000;
  std::vector<fq::Nudged> nd(C);
  for (int c = 0; c < C; ++c) nd[c] = fq::nudge(-0.5f * (c + 1), 0.3f * (c + 2), fq::quant_range(8, true));
  nd[3] = fq::nudge(0.f, 0.f, fq::quant_range(8, true));  // an all-zero channel
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-3.f, 3.f);
  std::vector<float> x(R * C), y(R * C), dy(R * C), dx(R * C), dmin(C), dmax(C);
  for (auto& v : x) v = u(rng);
  for (auto& v : dy) v = u(rng);
  fq::forward_per_channel(x.data(), R, C, nd.data(), y.data());
  fq::backward_per_channel(x.data(), dy.data(), R, C, nd.data(), dx.data(), dmin.data(), dmax.data());
  for (int c = 0; c < C; ++c) {
    std::vector<float> xc(R), yc(R), gc(R), dc(R);
    for (int64_t r = 0; r < R; ++r) xc[r] = x[r * C + c], gc[r] = dy[r * C + c];
    fq::forward(xc.data(), R, nd[c], yc.data());
    float a, b;
    fq::backward(xc.data(), gc.data(), R, nd[c], dc.data(), &a, &b);
    for (int64_t r = 0; r < R; ++r) {
      ASSERT_TRUE(same_bits(y[r * C + c], yc[r])) << c << " " << r;
      ASSERT_EQ(dx[r * C + c], dc[r]);
    }
    EXPECT_NEAR(dmin[c], a, 1e-3 * (1 + std::fabs(a)));
    EXPECT_NEAR(dmax[c], b, 1e-3 * (1 + std::fabs(b)));
  }
}

TEST(FakeQuantMath, MinMaxAndWidenAndSymmetric) {
  std::vector<float> x(70001);
  for (size_t i = 0; i < x.size(); ++i) x[i] = 0.5f + std::sin((float)i) * 0.25f;
  x[12345] = 2.0f;
  x[54321] = 0.1f;
  float mn, mx;
  fq::min_max(x.data(), (int64_t)x.size(), &mn, &mx);
  EXPECT_EQ(mn, 0.1f);
  EXPECT_EQ(mx, 2.0f);
  fq::widen_range(&mn, &mx, false, 8, false);  // widened to include 0
  EXPECT_EQ(mn, 0.f);
  EXPECT_EQ(mx, 2.f);
  float a = -0.5f, b = 2.f;
  fq::widen_range(&a, &b, true, 8, true);  // narrow: ratio -1 -> [-2, 2]
  EXPECT_EQ(a, -2.f);
  EXPECT_EQ(b, 2.f);
  a = -3.f, b = 1.f;
  fq::widen_range(&a, &b, true, 8, false);  // ratio -254/256
  EXPECT_EQ(a, -3.f);
  EXPECT_FLOAT_EQ(b, 3.f * 254.f / 256.f);
  // Symmetric narrow 8-bit weights become int8 with zero point 0 (code 128 of 1..255).
  fq::Nudged n = fq::nudge(-2.f, 2.f, fq::quant_range(8, true));
  EXPECT_EQ(n.zero_point, 128);
  EXPECT_FLOAT_EQ(n.scale, 4.f / 254.f);
  // Per channel.
  const int C = 3;
  std::vector<float> y = {1, -2, 3, 4, 5, -6, -7, 8, 9}, lo(C), hi(C);
  fq::min_max_per_channel(y.data(), 3, C, lo.data(), hi.data());
  EXPECT_EQ(lo, (std::vector<float>{-7, -2, -6}));
  EXPECT_EQ(hi, (std::vector<float>{4, 8, 9}));
  EXPECT_EQ(fq::ema(6.f, 2.f, fq::ema_rate(0.999)), 6.f - (6.f - 2.f) * (float)(1.0 - 0.999));
}
