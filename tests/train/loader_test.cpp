// Batch loader: seeded shuffling is deterministic, covers every example once per epoch, differs
// between epochs and seeds; seek() reproduces any position (the basis of exact resume).
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "qat/data.h"
#include "test_util.h"

namespace qat::data {
namespace {

std::vector<int32_t> epoch_labels(const Dataset& ds, LoaderOptions o, int64_t epoch, std::vector<float>* pix = nullptr) {
  Loader l(ds, o);
  l.seek(epoch);
  Batch b;
  std::vector<int32_t> r;
  while (l.next(b)) {
    for (int64_t i = 0; i < b.size; ++i) r.push_back(b.labels.data<int32_t>()[i]);
    if (pix)
      for (int64_t i = 0; i < b.images.size(); ++i) pix->push_back(b.images.data<float>()[i]);
  }
  return r;
}

Dataset indexed(int64_t n) {
  // Label = index % 10 and pixel 0 = index, so the order is observable.
  Dataset d = qat::train::testing::synthetic(n, 4, 4);
  for (int64_t i = 0; i < n; ++i) {
    d.labels[i] = (int32_t)(i % 10);
    d.pixels[i * 16] = (uint8_t)i;
  }
  return d;
}

TEST(Loader, ShuffleIsAPermutationDeterministicBySeed) {
  Dataset d = indexed(200);
  LoaderOptions o;
  o.batch = 16;
  o.drop_last = false;
  o.seed = 7;
  Loader l(d, o);
  EXPECT_EQ(l.steps_per_epoch(), 13);
  l.seek(0);
  std::vector<int32_t> order = l.order();
  std::vector<int32_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 200; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_NE(order, sorted);  // actually shuffled
  Loader l2(d, o);
  l2.seek(0);
  EXPECT_EQ(l2.order(), order);  // same seed, same order
  l2.seek(1);
  EXPECT_NE(l2.order(), order);  // next epoch differs
  o.seed = 8;
  Loader l3(d, o);
  l3.seek(0);
  EXPECT_NE(l3.order(), order);  // other seed differs
}

TEST(Loader, BatchesFollowTheOrderAndScale) {
  Dataset d = indexed(50);
  LoaderOptions o;
  o.batch = 8;
  o.seed = 3;
  Loader l(d, o);
  EXPECT_EQ(l.steps_per_epoch(), 6);  // drop_last
  l.seek(2);
  Batch b;
  ASSERT_TRUE(l.next(b));
  EXPECT_EQ(b.images.shape(), (Shape{8, 4, 4, 1}));
  for (int i = 0; i < 8; ++i) {
    int32_t idx = l.order()[i];
    EXPECT_EQ(b.labels.data<int32_t>()[i], idx % 10);
    EXPECT_FLOAT_EQ(b.images.data<float>()[i * 16], (float)idx / 255.0f);
  }
  const void* storage = b.images.raw();
  ASSERT_TRUE(l.next(b));
  EXPECT_EQ(b.images.raw(), storage);  // no per-step allocation
}

TEST(Loader, SeekReproducesAnyPosition) {
  Dataset d = indexed(100);
  LoaderOptions o;
  o.batch = 10;
  o.crop_pad = 1;
  o.flip = true;
  std::vector<float> all;
  auto full = epoch_labels(d, o, 3, &all);
  Loader l(d, o);
  l.seek(3, 4);
  Batch b;
  ASSERT_TRUE(l.next(b));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(b.labels.data<int32_t>()[i], full[40 + i]);
  for (int64_t i = 0; i < b.images.size(); ++i) ASSERT_EQ(b.images.data<float>()[i], all[40 * 16 + i]);
}

TEST(Loader, LastPartialBatchWhenNotDropping) {
  Dataset d = indexed(25);
  LoaderOptions o;
  o.batch = 10;
  o.shuffle = false;
  o.drop_last = false;
  auto labels = epoch_labels(d, o, 0);
  ASSERT_EQ(labels.size(), 25u);
  for (int i = 0; i < 25; ++i) EXPECT_EQ(labels[i], i % 10);
}

TEST(Loader, AugmentationKeepsPixelsInRangeAndChangesImages) {
  Dataset d = indexed(20);
  LoaderOptions plain, aug;
  plain.batch = aug.batch = 20;
  aug.crop_pad = 2;
  aug.flip = true;
  std::vector<float> a, b;
  epoch_labels(d, plain, 0, &a);
  epoch_labels(d, aug, 0, &b);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_NE(a, b);
  for (float v : b) ASSERT_TRUE(v >= 0.0f && v <= 1.0f);
}

TEST(Loader, BadOptions) {
  Dataset d = indexed(5);
  LoaderOptions o;
  o.batch = 0;
  EXPECT_THROW(Loader(d, o), UsageError);
  o.batch = 10;  // more than the dataset with drop_last
  EXPECT_THROW(Loader(d, o), UsageError);
}

}  // namespace
}  // namespace qat::data
