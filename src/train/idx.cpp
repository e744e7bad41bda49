// IDX reader/writer. The format (LeCun's MNIST page): a 4-byte magic {0, 0, dtype, ndim}, then
// ndim big-endian u32 dimensions, then the values in row-major order. The file is read through
// zlib's gzread, which passes uncompressed files through unchanged.
#include <zlib.h>

#include <cstring>
#include <memory>

#include "qat/data.h"
#include "qat/error.h"

namespace qat::data {
namespace {

struct GzCloser {
  void operator()(gzFile f) const {
    if (f) gzclose(f);
  }
};
using GzPtr = std::unique_ptr<gzFile_s, GzCloser>;

// Reads exactly n bytes; returns the number read (less means the stream ended).
size_t read_fully(gzFile f, void* dst, size_t n, const std::string& path) {
  size_t got = 0;
  auto* p = static_cast<unsigned char*>(dst);
  while (got < n) {
    unsigned chunk = (unsigned)std::min<size_t>(n - got, 1u << 30);
    int r = gzread(f, p + got, chunk);
    if (r < 0) {
      int errnum = 0;
      const char* msg = gzerror(f, &errnum);
      fail<FormatError>("{}: corrupt gzip stream after {} bytes ({})", path, got, msg ? msg : "?");
    }
    if (r == 0) break;
    got += (size_t)r;
  }
  return got;
}

}  // namespace

IdxArray read_idx(const std::string& path) {
  GzPtr f(gzopen(path.c_str(), "rb"));
  if (!f) fail<IoError>("{}: cannot open ({})", path, std::strerror(errno));
  gzbuffer(f.get(), 1 << 17);
  unsigned char magic[4];
  size_t got = read_fully(f.get(), magic, 4, path);
  if (got < 4) fail<FormatError>("{}: truncated IDX header ({} of 4 magic bytes)", path, got);
  if (magic[0] != 0 || magic[1] != 0)
    fail<FormatError>("{}: bad IDX magic {:02x}{:02x}{:02x}{:02x} (expected 0000xxxx)", path, magic[0], magic[1],
                      magic[2], magic[3]);
  if (magic[2] != 0x08)
    fail<FormatError>("{}: unsupported IDX dtype 0x{:02x} (only 0x08, unsigned byte, is supported)", path, magic[2]);
  int ndim = magic[3];
  if (ndim < 1 || ndim > 4) fail<FormatError>("{}: unsupported IDX rank {} (expected 1..4)", path, ndim);
  IdxArray a;
  int64_t total = 1;
  for (int i = 0; i < ndim; ++i) {
    unsigned char b[4];
    if (read_fully(f.get(), b, 4, path) < 4)
      fail<FormatError>("{}: truncated IDX header (dimension {} of {} missing)", path, i, ndim);
    int64_t d = ((int64_t)b[0] << 24) | ((int64_t)b[1] << 16) | ((int64_t)b[2] << 8) | b[3];
    // 2^31 elements is far beyond any MNIST-format set; refuse before allocating.
    if (d == 0 || total * d > (int64_t(1) << 31))
      fail<FormatError>("{}: implausible IDX dimension {} = {}", path, i, d);
    total *= d;
    a.dims.push_back(d);
  }
  a.values.resize((size_t)total);
  got = read_fully(f.get(), a.values.data(), a.values.size(), path);
  if (got < a.values.size())
    fail<FormatError>("{}: truncated IDX data: header {} promises {} bytes, file has {}", path, shape_str(a.dims),
                      total, got);
  unsigned char extra;
  if (read_fully(f.get(), &extra, 1, path) != 0)
    fail<FormatError>("{}: trailing bytes after the {} values promised by header {}", path, total, shape_str(a.dims));
  return a;
}

void write_idx(const std::string& path, const std::vector<int64_t>& dims, const std::vector<uint8_t>& values) {
  std::vector<unsigned char> bytes = {0, 0, 0x08, (unsigned char)dims.size()};
  for (int64_t d : dims)
    for (int s = 24; s >= 0; s -= 8) bytes.push_back((unsigned char)((d >> s) & 0xff));
  bytes.insert(bytes.end(), values.begin(), values.end());
  bool gz = path.size() > 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  GzPtr f(gzopen(path.c_str(), gz ? "wb6" : "wbT"));
  if (!f) fail<IoError>("{}: cannot create ({})", path, std::strerror(errno));
  if (gzwrite(f.get(), bytes.data(), (unsigned)bytes.size()) != (int)bytes.size())
    fail<IoError>("{}: write failed", path);
  if (gzclose(f.release()) != Z_OK) fail<IoError>("{}: write failed on close", path);
}

}  // namespace qat::data
