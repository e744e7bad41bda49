// Checkpoint file writer/reader. Layout (little-endian; documented in docs/training.md):
//   "QATCKPT\0"  u32 version  u32 reserved(0)
//   i64 step
//   u32 n_meta,   n_meta   x { str key, str value }
//   u32 n_tensor, n_tensor x { u8 kind (0 variable, 1 slot), str name, u8 dtype, u8 rank,
//                              rank x i64 dim, u64 nbytes, nbytes of data }
//   u32 crc32 of every byte before it, "QEND"
// (str = u32 length + bytes). The CRC covers the whole file so a flipped byte anywhere is found.
#include "qat/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "qat/error.h"

namespace qat::train {
namespace {

constexpr char kMagic[8] = {'Q', 'A', 'T', 'C', 'K', 'P', 'T', '\0'};
constexpr char kEnd[4] = {'Q', 'E', 'N', 'D'};

class Writer {
 public:
  std::string buf;
  void bytes(const void* p, size_t n) { buf.append(static_cast<const char*>(p), n); }
  template <class T>
  void pod(T v) {
    bytes(&v, sizeof v);  // x86-64 / aarch64 are little-endian, as the format requires
  }
  void str(const std::string& s) {
    pod<uint32_t>((uint32_t)s.size());
    bytes(s.data(), s.size());
  }
  void tensor(uint8_t kind, const std::string& name, const Tensor& t) {
    QAT_CHECK(t.defined(), "checkpoint: tensor '{}' is undefined", name);
    pod<uint8_t>(kind);
    str(name);
    pod<uint8_t>((uint8_t)t.dtype());
    pod<uint8_t>((uint8_t)t.rank());
    for (int64_t d : t.shape()) pod<int64_t>(d);
    pod<uint64_t>(t.nbytes());
    bytes(t.raw(), t.nbytes());
  }
};

class Reader {
 public:
  Reader(const std::string& data, const std::string& path) : d_(data), path_(path) {}
  void need(size_t n, const char* what) {
    if (pos_ + n > end_) fail<FormatError>("{}: truncated checkpoint (reading {} at byte {})", path_, what, pos_);
  }
  void bytes(void* dst, size_t n, const char* what) {
    need(n, what);
    std::memcpy(dst, d_.data() + pos_, n);
    pos_ += n;
  }
  template <class T>
  T pod(const char* what) {
    T v;
    bytes(&v, sizeof v, what);
    return v;
  }
  std::string str(const char* what) {
    uint32_t n = pod<uint32_t>(what);
    need(n, what);
    std::string s = d_.substr(pos_, n);
    pos_ += n;
    return s;
  }
  size_t pos() const { return pos_; }
  void set_end(size_t e) { end_ = e; }

 private:
  const std::string& d_;
  const std::string& path_;
  size_t pos_ = 0, end_ = 0;
};

uint32_t crc32_of(const std::string& s, size_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  const auto* p = reinterpret_cast<const Bytef*>(s.data());
  while (n > 0) {
    uInt chunk = (uInt)std::min<size_t>(n, 1u << 30);
    c = crc32(c, p, chunk);
    p += chunk;
    n -= chunk;
  }
  return (uint32_t)c;
}

void fsync_dir(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);  // best effort: some filesystems refuse fsync on directories
    ::close(fd);
  }
}

}  // namespace

int64_t Checkpoint::meta_int(const std::string& key, int64_t fallback) const {
  auto it = meta.find(key);
  if (it == meta.end()) return fallback;
  try {
    return std::stoll(it->second);
  } catch (const std::exception&) {
    fail<FormatError>("checkpoint: meta '{}' = '{}' is not an integer", key, it->second);
  }
}

std::string Checkpoint::meta_str(const std::string& key, const std::string& fallback) const {
  auto it = meta.find(key);
  return it == meta.end() ? fallback : it->second;
}

void write_file_atomic(const std::string& path, const std::string& bytes) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) fail<IoError>("{}: cannot create temporary file {} ({})", path, tmp, std::strerror(errno));
  auto bail = [&](const char* what) {
    int e = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    fail<IoError>("{}: {} failed ({})", path, what, std::strerror(e));
  };
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      bail("write");
    }
    off += (size_t)w;
  }
  if (::fsync(fd) != 0) bail("fsync");
  if (::close(fd) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    fail<IoError>("{}: close failed ({})", path, std::strerror(e));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(tmp.c_str());
    fail<IoError>("{}: rename from {} failed ({})", path, tmp, std::strerror(e));
  }
  fsync_dir(path);
}

void save_checkpoint(const std::string& path, const Checkpoint& ckpt) {
  Writer w;
  w.bytes(kMagic, 8);
  w.pod<uint32_t>(kCheckpointVersion);
  w.pod<uint32_t>(0);
  w.pod<int64_t>(ckpt.step);
  w.pod<uint32_t>((uint32_t)ckpt.meta.size());
  for (const auto& [k, v] : ckpt.meta) {
    w.str(k);
    w.str(v);
  }
  w.pod<uint32_t>((uint32_t)(ckpt.variables.size() + ckpt.slots.size()));
  for (const auto& [name, t] : ckpt.variables) w.tensor(0, name, t);
  for (const auto& [name, t] : ckpt.slots) w.tensor(1, name, t);
  w.pod<uint32_t>(crc32_of(w.buf, w.buf.size()));
  w.bytes(kEnd, 4);
  write_file_atomic(path, w.buf);
}

Checkpoint load_checkpoint(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail<IoError>("{}: cannot open checkpoint ({})", path, std::strerror(errno));
  std::stringstream ss;
  ss << f.rdbuf();
  std::string data = ss.str();
  if (data.size() < 8 || std::memcmp(data.data(), kMagic, 8) != 0)
    fail<FormatError>("{}: not a qat checkpoint (bad magic)", path);
  if (data.size() < 8 + 8 + 8 + 8) fail<FormatError>("{}: truncated checkpoint ({} bytes)", path, data.size());
  if (std::memcmp(data.data() + data.size() - 4, kEnd, 4) != 0)
    fail<FormatError>("{}: truncated checkpoint (end marker missing; {} bytes)", path, data.size());
  size_t body = data.size() - 8;
  uint32_t stored;
  std::memcpy(&stored, data.data() + body, 4);
  uint32_t actual = crc32_of(data, body);
  Reader r(data, path);
  r.set_end(body);
  r.need(8, "magic");
  char magic[8];
  r.bytes(magic, 8, "magic");
  uint32_t version = r.pod<uint32_t>("version");
  if (version != kCheckpointVersion)
    fail<FormatError>("{}: checkpoint version {} is not supported (this build reads {})", path, version,
                      kCheckpointVersion);
  if (stored != actual)
    fail<FormatError>("{}: checkpoint is corrupt (CRC-32 {:08x} stored, {:08x} computed)", path, stored, actual);
  r.pod<uint32_t>("reserved");
  Checkpoint c;
  c.step = r.pod<int64_t>("step");
  uint32_t n_meta = r.pod<uint32_t>("meta count");
  for (uint32_t i = 0; i < n_meta; ++i) {
    std::string k = r.str("meta key");
    c.meta[k] = r.str("meta value");
  }
  uint32_t n = r.pod<uint32_t>("tensor count");
  for (uint32_t i = 0; i < n; ++i) {
    uint8_t kind = r.pod<uint8_t>("tensor kind");
    std::string name = r.str("tensor name");
    if (kind > 1) fail<FormatError>("{}: tensor '{}' has unknown kind {}", path, name, (int)kind);
    uint8_t dt = r.pod<uint8_t>("dtype");
    if (dt >= kDTypeCount) fail<FormatError>("{}: tensor '{}' has unknown dtype {}", path, name, (int)dt);
    uint8_t rank = r.pod<uint8_t>("rank");
    if (rank > 8) fail<FormatError>("{}: tensor '{}' has rank {}", path, name, (int)rank);
    Shape shape(rank);
    for (auto& d : shape) {
      d = r.pod<int64_t>("dimension");
      if (d < 0 || d > (int64_t(1) << 40)) fail<FormatError>("{}: tensor '{}' has bad dimension {}", path, name, d);
    }
    uint64_t nbytes = r.pod<uint64_t>("byte count");
    int64_t elems = 1;
    for (int64_t d : shape) {
      if (d != 0 && elems > (int64_t(1) << 56) / d)
        fail<FormatError>("{}: tensor '{}' shape {} is too large", path, name, shape_str(shape));
      elems *= d;
    }
    if (elems < 0 || (uint64_t)elems * dtype_size((DType)dt) != nbytes)
      fail<FormatError>("{}: tensor '{}' {} {} should have {} bytes, header says {}", path, name,
                        dtype_name((DType)dt), shape_str(shape), (uint64_t)elems * dtype_size((DType)dt), nbytes);
    r.need(nbytes, "tensor data");
    Tensor t((DType)dt, shape);
    r.bytes(t.raw(), nbytes, "tensor data");
    auto& dst = kind == 0 ? c.variables : c.slots;
    if (!dst.emplace(name, std::move(t)).second) fail<FormatError>("{}: tensor '{}' appears twice", path, name);
  }
  if (r.pos() != body) fail<FormatError>("{}: {} unexpected bytes before the checksum", path, body - r.pos());
  return c;
}

std::vector<std::string> check_checkpoint_matches(const Checkpoint& ckpt, const std::string& path,
                                                  const std::map<std::string, Shape>& expected, bool allow_partial,
                                                  bool allow_extra) {
  std::vector<std::string> missing;
  for (const auto& [name, shape] : expected) {
    auto it = ckpt.variables.find(name);
    if (it == ckpt.variables.end()) {
      if (!allow_partial) fail<FormatError>("{}: checkpoint has no variable '{}' (the model needs it)", path, name);
      missing.push_back(name);
      continue;
    }
    if (it->second.shape() != shape)
      fail<FormatError>("{}: variable '{}' has shape {} in the checkpoint but {} in the model", path, name,
                        shape_str(it->second.shape()), shape_str(shape));
    if (it->second.dtype() != DType::kFloat32 && it->second.dtype() != DType::kInt64 &&
        it->second.dtype() != DType::kInt32)
      fail<FormatError>("{}: variable '{}' has unsupported dtype {}", path, name, dtype_name(it->second.dtype()));
  }
  if (!allow_extra)
    for (const auto& [name, t] : ckpt.variables)
      if (!expected.count(name))
        fail<FormatError>("{}: checkpoint variable '{}' does not exist in the model", path, name);
  return missing;
}

std::string checkpoint_filename(int64_t step) { return "ckpt-" + std::to_string(step) + ".qatckpt"; }

void write_latest(const std::string& run_dir, const std::string& filename) {
  write_file_atomic((std::filesystem::path(run_dir) / "latest").string(), filename + "\n");
}

std::string latest_checkpoint(const std::string& run_dir) {
  namespace fs = std::filesystem;
  fs::path p = fs::path(run_dir) / "latest";
  std::ifstream f(p);
  if (!f) fail<IoError>("{}: no checkpoint yet ('latest' not found)", run_dir);
  std::string name;
  std::getline(f, name);
  while (!name.empty() && (name.back() == '\r' || name.back() == ' ')) name.pop_back();
  if (name.empty() || name.find('/') != std::string::npos)
    fail<FormatError>("{}: 'latest' does not name a checkpoint file", p.string());
  return (fs::path(run_dir) / name).string();
}

}  // namespace qat::train
