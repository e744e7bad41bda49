// Helpers for the train tests: a per-test temporary folder and small synthetic datasets.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "qat/data.h"

namespace qat::train::testing {

inline std::string temp_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  auto p = std::filesystem::temp_directory_path() /
           ("qat_train_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
  std::filesystem::remove_all(p);
  std::filesystem::create_directories(p);
  return p.string();
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
inline void write_bytes(const std::string& path, const std::string& s) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << s;
}

// n images of h x w: class k images are bright in band k (learnable in a few steps).
inline data::Dataset synthetic(int64_t n, int64_t h = 8, int64_t w = 8, int classes = 4, uint64_t seed = 3) {
  data::Dataset d;
  d.name = "synthetic";
  d.n = n, d.h = h, d.w = w, d.c = 1;
  d.num_classes = 10;
  d.pixels.resize((size_t)(n * h * w));
  d.labels.resize((size_t)n);
  uint64_t st = seed;
  for (int64_t i = 0; i < n; ++i) {
    int k = (int)(data::splitmix64(st) % (uint64_t)classes);
    d.labels[(size_t)i] = k;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        int noise = (int)(data::splitmix64(st) % 60);
        bool band = (y * classes / h) == k;
        d.pixels[(size_t)((i * h + y) * w + x)] = (uint8_t)(noise + (band ? 180 : 0));
      }
  }
  return d;
}

}  // namespace qat::train::testing
