// MNIST-format datasets and the batch loader.
#include <cstdlib>
#include <filesystem>

#include "qat/data.h"
#include "qat/error.h"

namespace qat::data {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t mix_seed(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t s = a * 0x9e3779b97f4a7c15ull;
  s = splitmix64(s) ^ b;
  s = splitmix64(s) ^ c;
  return splitmix64(s);
}

Dataset Dataset::head(int64_t count) const {
  QAT_CHECK_T(UsageError, count >= 0, "{}: negative subset size {}", name, count);
  Dataset d = *this;
  d.n = std::min(count, n);
  d.pixels.resize((size_t)(d.n * image_size()));
  d.labels.resize((size_t)d.n);
  return d;
}

std::string fashion_mnist_dir() {
  if (const char* e = std::getenv("QAT_FASHION_MNIST_DIR"); e && *e) return e;
  return "/usr/share/datasets/fashion-mnist";
}

Dataset load_mnist_split(const std::string& images_path, const std::string& labels_path, const std::string& name) {
  IdxArray im = read_idx(images_path);
  IdxArray lb = read_idx(labels_path);
  if (im.dims.size() != 3 && im.dims.size() != 4)
    fail<FormatError>("{}: expected images of rank 3 [n,h,w] or 4 [n,h,w,c], got {}", images_path, shape_str(im.dims));
  if (lb.dims.size() != 1) fail<FormatError>("{}: expected labels of rank 1 [n], got {}", labels_path, shape_str(lb.dims));
  if (lb.dims[0] != im.dims[0])
    fail<FormatError>("{}: {} labels but {} has {} images", labels_path, lb.dims[0], images_path, im.dims[0]);
  Dataset d;
  d.name = name;
  d.n = im.dims[0];
  d.h = im.dims[1];
  d.w = im.dims[2];
  d.c = im.dims.size() == 4 ? im.dims[3] : 1;
  d.pixels = std::move(im.values);
  d.labels.resize(lb.values.size());
  for (size_t i = 0; i < lb.values.size(); ++i) {
    if (lb.values[i] >= d.num_classes)
      fail<FormatError>("{}: label {} of example {} is out of range [0, {})", labels_path, (int)lb.values[i], i,
                        d.num_classes);
    d.labels[i] = lb.values[i];
  }
  return d;
}

MnistSplits load_mnist(const std::string& dir) {
  namespace fs = std::filesystem;
  if (!fs::is_directory(dir)) fail<IoError>("{}: data directory not found", dir);
  // Accept both the gzip files (Debian, the original site) and already-extracted ones.
  auto pick = [&](const std::string& stem) {
    std::string gz = (fs::path(dir) / (stem + ".gz")).string();
    std::string raw = (fs::path(dir) / stem).string();
    if (fs::exists(gz)) return gz;
    if (fs::exists(raw)) return raw;
    fail<IoError>("{}: missing {}.gz (MNIST-format folder expected)", dir, stem);
  };
  MnistSplits s;
  s.train = load_mnist_split(pick("train-images-idx3-ubyte"), pick("train-labels-idx1-ubyte"), "train");
  s.test = load_mnist_split(pick("t10k-images-idx3-ubyte"), pick("t10k-labels-idx1-ubyte"), "test");
  if (s.train.h != s.test.h || s.train.w != s.test.w || s.train.c != s.test.c)
    fail<FormatError>("{}: train images are {}x{}x{} but test images are {}x{}x{}", dir, s.train.h, s.train.w,
                      s.train.c, s.test.h, s.test.w, s.test.c);
  return s;
}

// ---------------------------------------------------------------------------------------- Loader

Loader::Loader(const Dataset& ds, LoaderOptions opt) : ds_(ds), opt_(opt) {
  QAT_CHECK_T(UsageError, opt_.batch > 0, "batch size must be positive, got {}", opt_.batch);
  QAT_CHECK_T(UsageError, ds_.n > 0, "dataset '{}' is empty", ds_.name);
  QAT_CHECK_T(UsageError, !opt_.drop_last || ds_.n >= opt_.batch, "dataset '{}' has {} examples, fewer than one batch of {}",
              ds_.name, ds_.n, opt_.batch);
  QAT_CHECK_T(UsageError, opt_.crop_pad >= 0, "crop padding must be >= 0");
  order_.resize((size_t)ds_.n);
  images_ = Tensor(DType::kFloat32, {opt_.batch, ds_.h, ds_.w, ds_.c});
  labels_ = Tensor(DType::kInt32, {opt_.batch});
}

int64_t Loader::steps_per_epoch() const {
  return opt_.drop_last ? ds_.n / opt_.batch : (ds_.n + opt_.batch - 1) / opt_.batch;
}

void Loader::seek(int64_t epoch, int64_t step) {
  QAT_CHECK_T(UsageError, epoch >= 0 && step >= 0 && step <= steps_per_epoch(), "loader: bad position epoch {} step {}",
              epoch, step);
  if (epoch != epoch_) {
    for (int64_t i = 0; i < ds_.n; ++i) order_[(size_t)i] = (int32_t)i;
    if (opt_.shuffle) {
      // Fisher-Yates driven by SplitMix64 seeded from (seed, epoch): the order of an epoch
      // does not depend on how many epochs ran before it in this process.
      uint64_t st = mix_seed(opt_.seed, (uint64_t)epoch, 0x5ca1ab1eull);
      for (int64_t i = ds_.n - 1; i > 0; --i) {
        int64_t j = (int64_t)(splitmix64(st) % (uint64_t)(i + 1));
        std::swap(order_[(size_t)i], order_[(size_t)j]);
      }
    }
    epoch_ = epoch;
  }
  step_ = step;
}

bool Loader::next(Batch& out) {
  QAT_CHECK(epoch_ >= 0, "loader: next() before seek()");
  if (step_ >= steps_per_epoch()) return false;
  int64_t first = step_ * opt_.batch;
  int64_t count = std::min(opt_.batch, ds_.n - first);
  if (count == opt_.batch) {
    out.images = images_;
    out.labels = labels_;
  } else {
    // Only the last batch of a non-dropping loader is short: allocated once per epoch at most.
    if (!out.images.defined() || out.images.dim(0) != count || out.images.raw() == images_.raw()) {
      out.images = Tensor(DType::kFloat32, {count, ds_.h, ds_.w, ds_.c});
      out.labels = Tensor(DType::kInt32, {count});
    }
  }
  out.size = count;
  float* img = out.images.data<float>();
  int32_t* lab = out.labels.data<int32_t>();
  const int64_t H = ds_.h, W = ds_.w, C = ds_.c, sz = ds_.image_size();
  const bool augment = opt_.crop_pad > 0 || opt_.flip;
  for (int64_t b = 0; b < count; ++b) {
    int64_t pos = first + b;
    int64_t idx = order_[(size_t)pos];
    lab[b] = ds_.labels[(size_t)idx];
    const uint8_t* src = ds_.pixels.data() + idx * sz;
    float* dst = img + b * sz;
    if (!augment) {
      for (int64_t i = 0; i < sz; ++i) dst[i] = (float)src[i] * opt_.scale;
      continue;
    }
    // Augmentation draws depend only on (seed, epoch, position): exact under resume.
    uint64_t st = mix_seed(opt_.seed, (uint64_t)epoch_, 0xa0000000ull + (uint64_t)pos);
    int64_t dy = 0, dx = 0;
    if (opt_.crop_pad > 0) {
      int64_t span = 2 * opt_.crop_pad + 1;
      dy = (int64_t)(splitmix64(st) % (uint64_t)span) - opt_.crop_pad;
      dx = (int64_t)(splitmix64(st) % (uint64_t)span) - opt_.crop_pad;
    }
    bool flip = opt_.flip && (splitmix64(st) & 1);
    for (int64_t y = 0; y < H; ++y) {
      int64_t sy = y + dy;
      for (int64_t x = 0; x < W; ++x) {
        int64_t sx0 = flip ? (W - 1 - x) : x;
        int64_t sx = sx0 + dx;
        float* d = dst + (y * W + x) * C;
        if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
          for (int64_t c = 0; c < C; ++c) d[c] = 0.0f;
        } else {
          const uint8_t* s = src + (sy * W + sx) * C;
          for (int64_t c = 0; c < C; ++c) d[c] = (float)s[c] * opt_.scale;
        }
      }
    }
  }
  ++step_;
  return true;
}

}  // namespace qat::data
