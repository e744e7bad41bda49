// Training data: the IDX reader (MNIST / Fashion-MNIST format, gzip or raw), an in-memory image
// classification dataset and a seeded, allocation-free batch loader.
//
// Determinism: the order of epoch E is a pure function of (seed, E), and the augmentation of
// the sample at position i of epoch E is a pure function of (seed, E, i). Resuming therefore
// only needs (epoch, position) - no generator state has to be saved.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "qat/tensor.h"

namespace qat::data {

// One IDX file: big-endian header {0, 0, dtype, ndim}, ndim u32 dims, then the data. Only
// dtype 0x08 (unsigned byte) is used by MNIST-format sets and supported here.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> values;
};

// Reads an IDX file, gzip-compressed or not (zlib's gzread reads both). A missing file is an
// IoError; a bad magic, unsupported dtype, absurd dims, truncation or trailing bytes is a
// FormatError whose message names the file and what is wrong.
IdxArray read_idx(const std::string& path);
// Writes a uint8 IDX file (gzip when the path ends in .gz); for tests and tools.
void write_idx(const std::string& path, const std::vector<int64_t>& dims, const std::vector<uint8_t>& values);

// Images as uint8 NHWC [n, h, w, c] plus int32 labels in [0, num_classes).
struct Dataset {
  std::string name;
  int64_t n = 0, h = 0, w = 0, c = 0;
  int num_classes = 10;
  std::vector<uint8_t> pixels;
  std::vector<int32_t> labels;
  int64_t image_size() const { return h * w * c; }
  // The first `count` examples (a view would do, but copying keeps the lifetime simple).
  Dataset head(int64_t count) const;
};

struct MnistSplits {
  Dataset train, test;
};

// The Debian dataset-fashion-mnist folder (QAT_FASHION_MNIST_DIR overrides it).
std::string fashion_mnist_dir();
// Loads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from `dir`. Image/label counts must
// agree and labels must be < 10; errors name the file.
MnistSplits load_mnist(const std::string& dir);
Dataset load_mnist_split(const std::string& images_path, const std::string& labels_path,
                         const std::string& name);

struct LoaderOptions {
  int64_t batch = 128;
  bool shuffle = true;
  bool drop_last = true;  // training drops the last partial batch (as the PyTorch recipe does)
  uint64_t seed = 1;
  float scale = 1.0f / 255.0f;  // pixel -> float
  // Augmentation (training only): random crop after zero padding by `crop_pad` pixels, and
  // horizontal flip with probability 1/2.
  int crop_pad = 0;
  bool flip = false;
};

// A batch: float32 images [b, h, w, c] and int32 labels [b]. The tensors are allocated once per
// loader and refilled in place (the last partial batch gets reshaped views of them).
struct Batch {
  Tensor images, labels;
  int64_t size = 0;
};

class Loader {
 public:
  Loader(const Dataset& ds, LoaderOptions opt);
  int64_t steps_per_epoch() const;
  // Positions the loader at batch `step` of epoch `epoch` (0-based); builds that epoch's order.
  void seek(int64_t epoch, int64_t step = 0);
  // Fills the next batch of the current epoch; false at the end of the epoch.
  bool next(Batch& out);
  int64_t epoch() const { return epoch_; }
  int64_t step() const { return step_; }
  const std::vector<int32_t>& order() const { return order_; }
  const LoaderOptions& options() const { return opt_; }

 private:
  const Dataset& ds_;
  LoaderOptions opt_;
  std::vector<int32_t> order_;
  int64_t epoch_ = -1, step_ = 0;
  Tensor images_, labels_;
};

// SplitMix64: the small, well-mixed generator behind shuffling and augmentation.
uint64_t splitmix64(uint64_t& state);
uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c = 0);

}  // namespace qat::data
