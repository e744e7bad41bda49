#include <gtest/gtest.h>

#include <atomic>
#include <cmath>

#include "qat/cpu_features.h"
#include "qat/tensor.h"
#include "qat/thread_pool.h"

namespace qat {

TEST(Tensor, ZeroInitialisedAndAligned) {
  Tensor t(DType::kFloat32, {2, 3});
  EXPECT_EQ(t.size(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.data<float>()[i], 0.f);
}

TEST(Tensor, WrongTypeAccessThrows) {
  Tensor t(DType::kInt8, {4});
  EXPECT_THROW(t.data<float>(), Error);
  EXPECT_NO_THROW(t.data<int8_t>());
}

TEST(Tensor, ReshapeSharesStorageAndInfers) {
  Tensor t = Tensor::from_vector({2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor r = t.reshaped({3, -1});
  EXPECT_EQ(r.shape(), (Shape{3, 2}));
  r.data<float>()[0] = 42;
  EXPECT_EQ(t.data<float>()[0], 42);
  EXPECT_THROW(t.reshaped({4, 2}), ShapeError);
  EXPECT_THROW(t.reshaped({-1, -1}), ShapeError);
}

TEST(Tensor, CloneIsDeep) {
  Tensor t = Tensor::from_vector({2}, {1, 2});
  Tensor c = t.clone();
  c.data<float>()[0] = 5;
  EXPECT_EQ(t.data<float>()[0], 1);
}

TEST(Tensor, DTypeNames) {
  for (int i = 0; i < kDTypeCount; ++i) EXPECT_EQ((int)dtype_from_name(dtype_name((DType)i)), i);
  EXPECT_THROW(dtype_from_name("float64x"), UsageError);
}

TEST(Half, RoundTripsAndRounds) {
  for (float f : {0.f, -0.f, 1.f, -2.5f, 65504.f, 6.1035156e-05f, 5.9604645e-08f, 0.1f})
    EXPECT_EQ(half_to_float(float_to_half(f)), (float)half_to_float(float_to_half(f)));
  EXPECT_EQ(half_to_float(0x3c00), 1.f);
  EXPECT_EQ(half_to_float(0xc000), -2.f);
  EXPECT_EQ(half_to_float(0x0001), 5.9604645e-08f);
  EXPECT_EQ(float_to_half(1.f), 0x3c00);
  EXPECT_EQ(float_to_half(65520.f), 0x7c00);  // rounds to infinity
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
  // Every finite half converts to float and back unchanged.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    if ((h & 0x7c00) == 0x7c00) continue;
    ASSERT_EQ(float_to_half(half_to_float((uint16_t)h)), h) << h;
  }
}

TEST(ThreadPool, ParallelForCoversRangeOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> hits(1000);
  pool.parallel_for(1000, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) hits[i]++;
  });
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPool, RethrowsWorkerException) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.run_tasks(4, [](int t) {
    if (t == 3) throw Error("boom");
  }), Error);
  // The pool is still usable afterwards.
  std::atomic<int> n{0};
  pool.run_tasks(4, [&](int) { n++; });
  EXPECT_EQ(n.load(), 4);
}

TEST(CpuFeatures, ForcingUnsupportedIsaFails) {
  EXPECT_TRUE(isa_supported(Isa::kPortable));
  force_isa(Isa::kPortable);
  EXPECT_EQ(active_isa(), Isa::kPortable);
  clear_forced_isa();
  if (!isa_supported(Isa::kAvx512Vnni)) {
    EXPECT_THROW(force_isa(Isa::kAvx512Vnni), UsageError);
  }
  EXPECT_EQ(isa_from_name("avx2"), Isa::kAvx2);
}

}  // namespace qat
