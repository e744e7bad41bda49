// Checkpoint files: round trip, corruption (any flipped byte), truncation, mismatch, atomicity.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "qat/checkpoint.h"
#include "test_util.h"

namespace qat::train {
namespace {

using testing::read_bytes;
using testing::temp_dir;
using testing::write_bytes;

Checkpoint sample() {
  Checkpoint c;
  c.step = 1234;
  c.variables["conv1/kernel"] = Tensor::from_vector({2, 3}, {1, -2, 3.5f, 4, 5, 6});
  c.variables["fc/bias"] = Tensor::from_vector({3}, {0.25f, 0.5f, -1});
  Tensor gs(DType::kInt64, {});
  gs.data<int64_t>()[0] = 1234;
  c.variables["global_step"] = gs;
  c.slots["conv1/kernel/momentum"] = Tensor::from_vector({2, 3}, {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f});
  c.meta["epoch"] = "2";
  c.meta["seed"] = "7";
  return c;
}

void expect_equal(const Checkpoint& a, const Checkpoint& b) {
  EXPECT_EQ(a.step, b.step);
  EXPECT_EQ(a.meta, b.meta);
  ASSERT_EQ(a.variables.size(), b.variables.size());
  ASSERT_EQ(a.slots.size(), b.slots.size());
  auto same = [](const std::map<std::string, Tensor>& x, const std::map<std::string, Tensor>& y) {
    for (const auto& [k, t] : x) {
      ASSERT_TRUE(y.count(k)) << k;
      const Tensor& u = y.at(k);
      EXPECT_EQ(t.dtype(), u.dtype()) << k;
      EXPECT_EQ(t.shape(), u.shape()) << k;
      EXPECT_EQ(0, std::memcmp(t.raw(), u.raw(), t.nbytes())) << k;
    }
  };
  same(a.variables, b.variables);
  same(a.slots, b.slots);
}

TEST(Checkpoint, RoundTrip) {
  std::string p = temp_dir() + "/ckpt-1234.qatckpt";
  Checkpoint c = sample();
  save_checkpoint(p, c);
  Checkpoint d = load_checkpoint(p);
  expect_equal(c, d);
  EXPECT_EQ(d.meta_int("epoch", -1), 2);
  EXPECT_EQ(d.meta_int("absent", -1), -1);
}

TEST(Checkpoint, EveryFlippedByteIsDetected) {
  std::string p = temp_dir() + "/c.qatckpt";
  save_checkpoint(p, sample());
  std::string good = read_bytes(p);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x10;
    write_bytes(p, bad);
    try {
      load_checkpoint(p);
      ADD_FAILURE() << "flipped byte " << i << " not detected";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    }
  }
}

TEST(Checkpoint, CorruptMessageMentionsChecksum) {
  std::string p = temp_dir() + "/c.qatckpt";
  save_checkpoint(p, sample());
  std::string b = read_bytes(p);
  b[b.size() / 2] ^= 1;
  write_bytes(p, b);
  try {
    load_checkpoint(p);
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("CRC"), std::string::npos) << e.what();
  }
}

TEST(Checkpoint, TruncatedAtEveryLength) {
  std::string p = temp_dir() + "/c.qatckpt";
  save_checkpoint(p, sample());
  std::string good = read_bytes(p);
  for (size_t n = 0; n < good.size(); n += 7) {
    write_bytes(p, good.substr(0, n));
    EXPECT_THROW(load_checkpoint(p), FormatError) << "length " << n;
  }
}

TEST(Checkpoint, MissingFileIsIoError) { EXPECT_THROW(load_checkpoint("/nonexistent/x.qatckpt"), IoError); }

TEST(Checkpoint, MismatchNamesTheVariable) {
  Checkpoint c = sample();
  std::map<std::string, Shape> want{{"conv1/kernel", {2, 3}}, {"fc/bias", {3}}, {"global_step", {}}};
  EXPECT_NO_THROW(check_checkpoint_matches(c, "x", want));
  want["fc/bias"] = {4};
  try {
    check_checkpoint_matches(c, "x.qatckpt", want);
    FAIL();
  } catch (const FormatError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("fc/bias"), std::string::npos) << m;
    EXPECT_NE(m.find("[3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[4]"), std::string::npos) << m;
  }
  want["fc/bias"] = {3};
  want["fc/kernel"] = {128, 10};
  try {
    check_checkpoint_matches(c, "x.qatckpt", want);
    FAIL();
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("fc/kernel"), std::string::npos) << e.what();
  }
  // Partial restore: the missing one is reported, not an error.
  auto missing = check_checkpoint_matches(c, "x.qatckpt", want, /*allow_partial=*/true);
  EXPECT_EQ(missing, std::vector<std::string>{"fc/kernel"});
  // An extra checkpoint variable is an error unless allowed.
  want.erase("fc/kernel");
  want.erase("conv1/kernel");
  EXPECT_THROW(check_checkpoint_matches(c, "x", want), FormatError);
  EXPECT_NO_THROW(check_checkpoint_matches(c, "x", want, false, true));
}

TEST(Checkpoint, AtomicNoPartialFileOnFailure) {
  std::string dir = temp_dir();
  std::string p = dir + "/c.qatckpt";
  save_checkpoint(p, sample());
  std::string before = read_bytes(p);
  // An undefined tensor fails while serialising: the old file is untouched, no temp file left.
  Checkpoint bad = sample();
  bad.variables["broken"] = Tensor();
  EXPECT_THROW(save_checkpoint(p, bad), Error);
  EXPECT_EQ(read_bytes(p), before);
  // A read-only folder fails at create time: nothing is left behind either.
  std::string ro = dir + "/ro";
  std::filesystem::create_directories(ro);
  ::chmod(ro.c_str(), 0555);
  if (::access(ro.c_str(), W_OK) != 0) {  // (root ignores the mode)
    EXPECT_THROW(save_checkpoint(ro + "/c.qatckpt", sample()), IoError);
  }
  ::chmod(ro.c_str(), 0755);
  // Writing into a path whose parent does not exist fails cleanly.
  EXPECT_THROW(save_checkpoint(dir + "/missing/c.qatckpt", sample()), IoError);
  int files = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) {
      ++files;
      EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
    }
  }
  EXPECT_EQ(files, 1);
}

TEST(Checkpoint, LatestFile) {
  std::string dir = temp_dir();
  EXPECT_THROW(latest_checkpoint(dir), IoError);
  write_latest(dir, checkpoint_filename(42));
  EXPECT_EQ(latest_checkpoint(dir), dir + "/ckpt-42.qatckpt");
}

}  // namespace
}  // namespace qat::train
