// `qat train` / `qat eval` end to end on a tiny MNIST-format folder: exit codes (2 for usage
// errors), run folder, --json lines. Skips when the CLI binary has not been built.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "qat/data.h"
#include "test_util.h"

namespace qat::train {
namespace {

std::string qat_bin() { return std::string(QAT_BINARY_DIR) + "/qat"; }

// Runs a shell command; returns (exit code, stdout).
std::pair<int, std::string> sh(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) return {-1, ""};
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int st = ::pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

void write_split(const std::string& dir, const std::string& prefix, const data::Dataset& d) {
  data::write_idx(dir + "/" + prefix + "-images-idx3-ubyte.gz", {d.n, d.h, d.w}, d.pixels);
  std::vector<uint8_t> labels(d.labels.begin(), d.labels.end());
  data::write_idx(dir + "/" + prefix + "-labels-idx1-ubyte.gz", {d.n}, labels);
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(qat_bin())) GTEST_SKIP() << "CLI not built: " << qat_bin();
    dir_ = testing::temp_dir();
    std::filesystem::create_directories(dir_ + "/data");
    write_split(dir_ + "/data", "train", testing::synthetic(128, 8, 8, 4, 1));
    write_split(dir_ + "/data", "t10k", testing::synthetic(32, 8, 8, 4, 2));
    std::ofstream(dir_ + "/m.json") << R"({"input": {"shape": [8, 8, 1]}, "layers": [
      {"type": "conv2d", "name": "c", "filters": 4, "use_bias": false}, {"type": "batch_norm", "name": "bn"},
      {"type": "relu", "name": "r"}, {"type": "global_avg_pool", "name": "gap"},
      {"type": "dense", "name": "fc", "units": 10}]})";
  }
  std::string train_cmd(const std::string& extra) {
    return qat_bin() + " train --model " + dir_ + "/m.json --data-dir " + dir_ + "/data --epochs 2 --batch 16 " +
           "--threads 1 --quiet " + extra;
  }
  std::string dir_;
};

TEST_F(Cli, TrainEvalAndJson) {
  auto [rc, out] = sh(train_cmd("--out " + dir_ + "/run --json"));
  ASSERT_EQ(rc, 0) << out;
  EXPECT_NE(out.find("\"test_acc\""), std::string::npos) << out;
  EXPECT_NE(out.find("\"steps\":16"), std::string::npos) << out;
  for (const char* f : {"graph.json", "metrics.jsonl", "latest", "model.json"})
    EXPECT_TRUE(std::filesystem::exists(dir_ + "/run/" + f)) << f;
  auto [rc2, out2] = sh(qat_bin() + " eval --run " + dir_ + "/run --data-dir " + dir_ + "/data --json");
  ASSERT_EQ(rc2, 0) << out2;
  EXPECT_NE(out2.find("\"accuracy\""), std::string::npos) << out2;
  EXPECT_NE(out2.find("\"examples\":32"), std::string::npos) << out2;
  // A corrupt checkpoint is a clear error (exit 1), not a crash.
  std::string ck = dir_ + "/run/ckpt-16.qatckpt";
  std::string bytes = testing::read_bytes(ck);
  bytes[bytes.size() / 2] ^= 0x40;
  testing::write_bytes(ck, bytes);
  EXPECT_EQ(sh(qat_bin() + " eval --run " + dir_ + "/run --data-dir " + dir_ + "/data").first, 1);
}

TEST_F(Cli, UsageErrorsExit2) {
  EXPECT_EQ(sh(train_cmd("--bogus-flag")).first, 2);
  EXPECT_EQ(sh(train_cmd("--lr -1")).first, 2);
  EXPECT_EQ(sh(train_cmd("--schedule wiggly")).first, 2);
  EXPECT_EQ(sh(train_cmd("--batch 0")).first, 2);
  EXPECT_EQ(sh(qat_bin() + " train --model /nonexistent.json").first, 2);
  EXPECT_EQ(sh(train_cmd("--data-dir /nonexistent")).first, 2);
  EXPECT_EQ(sh(qat_bin() + " eval --run /nonexistent").first, 2);
  EXPECT_EQ(sh(qat_bin() + " eval").first, 2);
  // A malformed dataset file is reported naming the file, exit 2.
  testing::write_bytes(dir_ + "/data/t10k-labels-idx1-ubyte.gz", "garbage");
  EXPECT_EQ(sh(train_cmd("")).first, 2);
}

}  // namespace
}  // namespace qat::train
