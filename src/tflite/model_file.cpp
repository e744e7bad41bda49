// ModelFile: the verified bytes of a .tflite model, mapped from a file or copied from a buffer.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "qat/error.h"
#include "qat/tflite.h"
#include "qat/tflite/schema_generated.h"

namespace qat::tfl {

namespace {
void AlignedFree(uint8_t* p) { ::operator delete[](p, std::align_val_t(64)); }
}  // namespace

ModelFile::~ModelFile() {
  if (map_) munmap(map_, map_size_);
}

void ModelFile::Finish(const VerifyOptions& opt) {
  VerifyModel(data_, size_, name_, opt);
  model_ = tflite::GetModel(data_);
}

std::shared_ptr<const ModelFile> ModelFile::Map(const std::string& path, const VerifyOptions& opt) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw IoError(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw IoError(fmt::format("{}: cannot stat: {}", path, std::strerror(e)));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw IoError(fmt::format("{}: not a regular file", path));
  }
  std::shared_ptr<ModelFile> f(new ModelFile());
  f->name_ = path;
  f->size_ = (size_t)st.st_size;
  if (f->size_ == 0) {
    ::close(fd);
    throw FormatError(fmt::format("{}: empty file", path));
  }
  // MAP_PRIVATE + PROT_READ: constant tensors alias the mapping; nothing may write to it.
  void* p = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int e = errno;
  ::close(fd);
  if (p == MAP_FAILED) throw IoError(fmt::format("{}: mmap failed: {}", path, std::strerror(e)));
  f->map_ = p;
  f->map_size_ = f->size_;
  f->data_ = static_cast<const uint8_t*>(p);
  f->Finish(opt);
  return f;
}

std::shared_ptr<const ModelFile> ModelFile::FromBuffer(std::span<const uint8_t> bytes, const std::string& name,
                                                       const VerifyOptions& opt) {
  std::shared_ptr<ModelFile> f(new ModelFile());
  f->name_ = name;
  f->size_ = bytes.size();
  auto* p = static_cast<uint8_t*>(::operator new[](std::max<size_t>(bytes.size(), 1), std::align_val_t(64)));
  f->owned_ = std::unique_ptr<uint8_t, void (*)(uint8_t*)>(p, AlignedFree);
  if (!bytes.empty()) std::memcpy(p, bytes.data(), bytes.size());
  f->data_ = p;
  f->Finish(opt);
  return f;
}

std::span<const uint8_t> ModelFile::buffer(uint32_t index) const {
  const auto* buffers = model_->buffers();
  if (!buffers || index >= buffers->size()) return {};
  return BufferBytes(data_, size_, buffers->Get(index));
}

}  // namespace qat::tfl
