// IDX reader: good files (gzip and raw), and every malformed case names the file and the fault.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

#include "qat/data.h"
#include "test_util.h"

namespace qat::data {
namespace {

using qat::train::testing::read_bytes;
using qat::train::testing::temp_dir;
using qat::train::testing::write_bytes;

std::vector<uint8_t> iota_bytes(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = (uint8_t)(i * 7);
  return v;
}

template <class E>
std::string error_of(const std::string& path) {
  try {
    read_idx(path);
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("WRONG TYPE: ") + e.what();
  }
  return "NO ERROR";
}

TEST(Idx, RoundTripGzipAndRaw) {
  std::string dir = temp_dir();
  auto vals = iota_bytes(3 * 4 * 5);
  for (const char* name : {"a-idx3-ubyte.gz", "a-idx3-ubyte"}) {
    std::string p = dir + "/" + name;
    write_idx(p, {3, 4, 5}, vals);
    IdxArray a = read_idx(p);
    EXPECT_EQ(a.dims, (std::vector<int64_t>{3, 4, 5}));
    EXPECT_EQ(a.values, vals);
  }
  // The .gz one really is compressed (magic 1f 8b).
  std::string gz = read_bytes(dir + "/a-idx3-ubyte.gz");
  ASSERT_GE(gz.size(), 2u);
  EXPECT_EQ((unsigned char)gz[0], 0x1f);
  EXPECT_EQ((unsigned char)gz[1], 0x8b);
}

TEST(Idx, MissingFileIsIoError) {
  std::string msg = error_of<IoError>("/nonexistent/dir/train-images-idx3-ubyte.gz");
  EXPECT_NE(msg.find("/nonexistent/dir/train-images-idx3-ubyte.gz"), std::string::npos) << msg;
}

TEST(Idx, BadMagic) {
  std::string p = temp_dir() + "/bad";
  write_bytes(p, std::string("\x01\x02\x08\x01\x00\x00\x00\x01\x05", 9));
  std::string msg = error_of<FormatError>(p);
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
  EXPECT_NE(msg.find("magic"), std::string::npos) << msg;
}

TEST(Idx, UnsupportedDtype) {
  std::string p = temp_dir() + "/f32";
  write_bytes(p, std::string("\x00\x00\x0d\x01\x00\x00\x00\x01\x00\x00\x00\x00", 12));
  std::string msg = error_of<FormatError>(p);
  EXPECT_NE(msg.find("dtype"), std::string::npos) << msg;
}

TEST(Idx, TruncatedDataRawAndGzip) {
  std::string dir = temp_dir();
  auto vals = iota_bytes(100);
  // Raw: header promises 10x10 but only 60 bytes follow.
  std::string raw = dir + "/t-raw";
  write_idx(raw, {10, 10}, vals);
  std::string bytes = read_bytes(raw);
  write_bytes(raw, bytes.substr(0, 4 + 8 + 60));
  std::string msg = error_of<FormatError>(raw);
  EXPECT_NE(msg.find(raw), std::string::npos) << msg;
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  // Gzip: a well-formed gzip stream of a short payload (header promises more).
  std::string gz = dir + "/t.gz";
  write_idx(gz, {10, 10}, vals);
  {
    std::string payload = bytes.substr(0, 4 + 8 + 30);
    gzFile f = gzopen(gz.c_str(), "wb");
    gzwrite(f, payload.data(), (unsigned)payload.size());
    gzclose(f);
  }
  msg = error_of<FormatError>(gz);
  EXPECT_NE(msg.find("truncated"), std::string::npos) << msg;
  // Gzip file cut in the middle of the compressed stream.
  std::string cut = dir + "/cut.gz";
  write_idx(cut, {50, 50}, iota_bytes(2500));
  std::string cb = read_bytes(cut);
  write_bytes(cut, cb.substr(0, cb.size() / 2));
  msg = error_of<FormatError>(cut);
  EXPECT_NE(msg.find(cut), std::string::npos) << msg;
}

TEST(Idx, TruncatedHeaderAndTrailingBytes) {
  std::string dir = temp_dir();
  std::string p = dir + "/h";
  write_bytes(p, std::string("\x00\x00\x08\x03\x00\x00\x00\x02", 8));  // 3 dims announced, 1 given
  EXPECT_NE(error_of<FormatError>(p).find("dimension"), std::string::npos);
  write_bytes(p, std::string("\x00\x00", 2));
  EXPECT_NE(error_of<FormatError>(p).find("truncated"), std::string::npos);
  write_idx(p, {2}, {1, 2});
  write_bytes(p, read_bytes(p) + "xyz");
  EXPECT_NE(error_of<FormatError>(p).find("trailing"), std::string::npos);
}

TEST(Idx, WrongCountBetweenImagesAndLabels) {
  std::string dir = temp_dir();
  write_idx(dir + "/train-images-idx3-ubyte.gz", {5, 4, 4}, iota_bytes(80));
  write_idx(dir + "/train-labels-idx1-ubyte.gz", {4}, {0, 1, 2, 3});
  write_idx(dir + "/t10k-images-idx3-ubyte.gz", {2, 4, 4}, iota_bytes(32));
  write_idx(dir + "/t10k-labels-idx1-ubyte.gz", {2}, {0, 1});
  try {
    load_mnist(dir);
    FAIL() << "expected an error";
  } catch (const FormatError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("train-labels-idx1-ubyte.gz"), std::string::npos) << msg;
    EXPECT_NE(msg.find("4 labels"), std::string::npos) << msg;
  }
  // Fix the counts; then a label >= 10 is an error naming the file.
  write_idx(dir + "/train-labels-idx1-ubyte.gz", {5}, {0, 1, 2, 3, 12});
  try {
    load_mnist(dir);
    FAIL() << "expected an error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("label 12"), std::string::npos) << e.what();
  }
  write_idx(dir + "/train-labels-idx1-ubyte.gz", {5}, {0, 1, 2, 3, 9});
  MnistSplits s = load_mnist(dir);
  EXPECT_EQ(s.train.n, 5);
  EXPECT_EQ(s.train.h, 4);
  EXPECT_EQ(s.test.n, 2);
  EXPECT_EQ(s.train.labels[4], 9);
  // A missing file names the folder and the file.
  std::filesystem::remove(dir + "/t10k-labels-idx1-ubyte.gz");
  try {
    load_mnist(dir);
    FAIL();
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("t10k-labels-idx1-ubyte"), std::string::npos) << e.what();
  }
}

TEST(Idx, FashionMnistIfInstalled) {
  std::string dir = fashion_mnist_dir();
  if (!std::filesystem::exists(dir + "/t10k-labels-idx1-ubyte.gz")) GTEST_SKIP() << "no Fashion-MNIST at " << dir;
  IdxArray lab = read_idx(dir + "/t10k-labels-idx1-ubyte.gz");
  EXPECT_EQ(lab.dims, (std::vector<int64_t>{10000}));
}

}  // namespace
}  // namespace qat::data
