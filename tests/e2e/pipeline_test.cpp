// The main job's pipeline end to end through the CLI binary, on a small subset (< 90 s):
// float training on 2k images -> QAT (int8, symmetric per-channel) from the float checkpoint ->
// freeze -> convert int8 -> qat's interpreter on 1k test images -> `qat report`.
// Checks: accuracy above chance, the int8 interpreter agrees with the fake-quant eval graph
// (top-1 on >= 97% of the images here: the tiny model has many near-ties) and the report exists.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;

namespace {

std::string qat_bin() { return std::string(QAT_BINARY_DIR) + "/qat"; }

// Runs `qat ARGS` in the source directory; returns stdout, fails the test on a non-zero exit.
std::string run_qat(const std::string& args, const fs::path& log) {
  const std::string cmd = "cd '" + std::string(QAT_SOURCE_DIR) + "' && OMP_WAIT_POLICY=passive '" + qat_bin() +
                          "' " + args + " > '" + log.string() + "' 2> '" + log.string() + ".err'";
  const int rc = std::system(cmd.c_str());
  std::ifstream f(log), e(log.string() + ".err");
  std::stringstream out, err;
  out << f.rdbuf();
  err << e.rdbuf();
  EXPECT_EQ(rc, 0) << "qat " << args << "\nstdout:\n" << out.str() << "\nstderr:\n" << err.str();
  return out.str();
}

std::vector<int> read_predictions(const fs::path& p) {
  std::vector<int> v;
  std::ifstream f(p);
  int x;
  while (f >> x) v.push_back(x);
  return v;
}

}  // namespace

TEST(Pipeline, FloatQatFreezeConvertInterpreterReport) {
  if (!fs::exists(qat_bin())) GTEST_SKIP() << qat_bin() << " is not built";
  const char* env = std::getenv("QAT_FASHION_MNIST_DIR");
  const fs::path data = env ? env : "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(data)) GTEST_SKIP() << "Fashion-MNIST not installed at " << data;

  const fs::path dir = fs::temp_directory_path() / ("qat_e2e_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "run");
  const std::string run = (dir / "run").string();
  const std::string common = "--model models/small_cnn.json --data fashion-mnist --batch 32 --momentum 0.9 "
                             "--threads 2 --train-limit 2048 --test-limit 500 --quiet --json";

  // 1. float: 192 steps (3 epochs of 64 batches).
  run_qat("train " + common + " --epochs 3 --lr 0.05 --schedule cosine --seed 1 --out " + run + "/float",
          dir / "train.log");
  std::string latest;
  std::ifstream(run + "/float/latest") >> latest;
  ASSERT_FALSE(latest.empty());
  // 2. QAT: 64 steps from the float checkpoint.
  run_qat("train " + common + " --epochs 1 --lr 0.005 --seed 2 --quantize --symmetric --per-channel --restore " +
              run + "/float/" + latest + " --out " + run + "/qat_int8",
          dir / "qat.log");
  // 3. freeze + convert.
  run_qat("freeze --run " + run + "/qat_int8 --out " + run + "/qat_int8.frozen.json", dir / "freeze.log");
  run_qat("convert " + run + "/qat_int8.frozen.json --out " + run + "/int8.tflite --inference-type int8",
          dir / "convert.log");
  run_qat("freeze --run " + run + "/float --out " + run + "/float.frozen.json", dir / "freeze_f.log");
  run_qat("convert " + run + "/float.frozen.json --out " + run + "/float.tflite", dir / "convert_f.log");
  ASSERT_TRUE(fs::exists(run + "/int8.tflite"));
  EXPECT_LT(fs::file_size(run + "/int8.tflite"), 0.35 * fs::file_size(run + "/float.tflite"));

  // 4. interpreter accuracy on 1000 test images.
  auto js = nlohmann::json::parse(run_qat("eval " + run + "/int8.tflite --data fashion-mnist --test-limit 1000 --json "
                                          "--predictions " + run + "/int8.pred",
                                          dir / "eval.log"));
  const double acc = js["accuracy"].get<double>();
  EXPECT_GT(acc, 0.5) << "chance is 0.1";
  EXPECT_EQ(read_predictions(run + "/int8.pred").size(), 1000u);

  // qat bench on it: a batch of 4 images, cycling through 3 different random inputs.
  auto bj = nlohmann::json::parse(run_qat("bench " + run + "/int8.tflite --runs 3 --warmup 1 --batch 4 --inputs 3 --json",
                                          dir / "bench.log"));
  EXPECT_EQ(bj["batch"].get<int>(), 4);
  EXPECT_EQ(bj["inputs"].get<int>(), 3);
  EXPECT_GT(bj["median_ms"].get<double>(), 0.0);

  // 5. report: compares the int8 interpreter with the fake-quant eval graph per image.
  const std::string rep = run_qat("report --run " + run + " --test-limit 1000 --threads 2", dir / "report.log");
  ASSERT_TRUE(fs::exists(run + "/report.md"));
  ASSERT_TRUE(fs::exists(run + "/report.html"));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(rep, m, std::regex(R"(same top-1 class on >= 99.5% of the images: ([0-9.]+)%)")))
      << rep;
  EXPECT_GE(std::stod(m[1]), 97.0) << rep;
  std::smatch fq;
  ASSERT_TRUE(std::regex_search(rep, fq, std::regex(R"(fake-quant int8\s+([0-9.]+)%)"))) << rep;
  EXPECT_NEAR(std::stod(fq[1]) / 100, acc, 0.02) << rep;
  std::ifstream html(run + "/report.html");
  std::stringstream hs;
  hs << html.rdbuf();
  EXPECT_NE(hs.str().find("<svg"), std::string::npos);
  fs::remove_all(dir);
}
