// ActivationStore: RAM vector or a scratch file accessed with pread/pwrite.
#include "squish/quant/activation_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "squish/common/atomic_file.h"
#include "squish/common/error.h"

namespace squish {

namespace {

void pwrite_all(int fd, const void* p, size_t n, off_t off, const std::string& path) {
  const char* c = static_cast<const char*>(p);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, c, n, off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw Error(path, std::string("cannot write activations: ") + std::strerror(errno));
    c += w, n -= static_cast<size_t>(w), off += w;
  }
}

void pread_all(int fd, void* p, size_t n, off_t off, const std::string& path) {
  char* c = static_cast<char*>(p);
  while (n > 0) {
    const ssize_t r = ::pread(fd, c, n, off);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw Error(path, "cannot read activations (file truncated?)");
    c += r, n -= static_cast<size_t>(r), off += r;
  }
}

}  // namespace

ActivationStore::ActivationStore(int64_t n_samples, int64_t rows_per_sample, int64_t cols, std::string file)
    : n_samples_(n_samples), rows_(rows_per_sample), cols_(cols), file_(std::move(file)) {
  if (file_.empty()) {
    ram_.assign(static_cast<size_t>(n_samples * rows_per_sample * cols), 0.0f);
    return;
  }
  fd_ = ::open(file_.c_str(), O_RDWR | O_CREAT, 0644);
  if (fd_ < 0) throw Error(file_, std::string("cannot create scratch file: ") + std::strerror(errno));
  if (::ftruncate(fd_, static_cast<off_t>(bytes())) != 0) {
    ::close(fd_);
    fd_ = -1;
    throw Error(file_, std::string("cannot size scratch file: ") + std::strerror(errno));
  }
}

ActivationStore::~ActivationStore() {
  if (fd_ >= 0) {
    ::close(fd_);
    if (!keep_) ::unlink(file_.c_str());
  }
}

void ActivationStore::read(int64_t s, float* dst) const {
  const size_t n = static_cast<size_t>(sample_floats());
  if (fd_ < 0) {
    std::copy_n(ram_.data() + s * sample_floats(), n, dst);
    return;
  }
  pread_all(fd_, dst, n * sizeof(float), static_cast<off_t>(s * sample_floats() * sizeof(float)), file_);
}

void ActivationStore::write(int64_t s, const float* src) {
  const size_t n = static_cast<size_t>(sample_floats());
  if (fd_ < 0) {
    std::copy_n(src, n, ram_.data() + s * sample_floats());
    return;
  }
  pwrite_all(fd_, src, n * sizeof(float), static_cast<off_t>(s * sample_floats() * sizeof(float)), file_);
}

void ActivationStore::save(const std::string& path) const {
  if (fd_ >= 0) {
    if (::fsync(fd_) != 0) throw Error(file_, std::string("cannot sync: ") + std::strerror(errno));
    if (path != file_) throw Error(path, "a spilled activation store is saved in its own file");
    return;
  }
  AtomicFile f(path, true);
  f.write(ram_.data(), ram_.size() * sizeof(float));
  f.commit();
}

void ActivationStore::load(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) != bytes() || ec)
    throw Error(path, "activation snapshot has the wrong size for this calibration set");
  if (fd_ >= 0 && path == file_) return;
  const int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(path, std::string("cannot open: ") + std::strerror(errno));
  std::vector<float> buf(static_cast<size_t>(sample_floats()));
  try {
    for (int64_t s = 0; s < n_samples_; ++s) {
      pread_all(fd, buf.data(), buf.size() * sizeof(float), static_cast<off_t>(s * sample_floats() * sizeof(float)), path);
      write(s, buf.data());
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

}  // namespace squish
