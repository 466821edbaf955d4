#include "squish/common/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

#include "squish/common/error.h"

namespace squish {
namespace {

std::mutex& tmp_mutex() {
  static std::mutex m;
  return m;
}
std::set<std::string>& live_temporaries() {
  static std::set<std::string> s;
  return s;
}

extern "C" void remove_temporaries_and_exit(int sig) {
  // Best effort from a signal handler: unlink is async-signal-safe; the set is not mutated here.
  for (const auto& p : live_temporaries()) ::unlink(p.c_str());
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

}  // namespace

void install_interrupt_cleanup() {
  std::signal(SIGINT, remove_temporaries_and_exit);
  std::signal(SIGTERM, remove_temporaries_and_exit);
}

AtomicFile::AtomicFile(const std::string& path, bool overwrite) : path_(path), overwrite_(overwrite) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(path, ec) && !overwrite)
    throw Error(path, "output exists (use --force to overwrite)");
  if (fs::is_directory(path, ec)) throw Error(path, "output is a directory");
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw Error(path, "output directory does not exist");
  // An unnamed file in the target's directory, linked at commit through /proc/self/fd.
  const int fd = ::access("/proc/self/fd", X_OK) == 0
                     ? ::open(parent.empty() ? "." : parent.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666)
                     : -1;
  if (fd >= 0) {
    f_ = ::fdopen(fd, "wb");
    if (!f_) ::close(fd);
    unnamed_ = f_ != nullptr;
    if (unnamed_) return;
  }
  tmp_ = path + ".tmp." + std::to_string(::getpid());
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) throw Error(path, std::string("cannot write output: ") + std::strerror(errno));
  std::lock_guard<std::mutex> g(tmp_mutex());
  live_temporaries().insert(tmp_);
}

AtomicFile::~AtomicFile() {
  if (f_) std::fclose(f_);
  if (!committed_ && !tmp_.empty()) {
    ::unlink(tmp_.c_str());
    std::lock_guard<std::mutex> g(tmp_mutex());
    live_temporaries().erase(tmp_);
  }
}

void AtomicFile::write(const void* data, size_t n) {
  if (n == 0) return;
  if (std::fwrite(data, 1, n, f_) != n)
    throw Error(path_, std::string("write failed: ") + std::strerror(errno));
  written_ += n;
}

void AtomicFile::pad_to(size_t alignment) {
  static const char zeros[64] = {};
  while (written_ % alignment) {
    const size_t k = std::min<size_t>(sizeof zeros, alignment - written_ % alignment);
    write(zeros, k);
  }
}

namespace {

// The error for a target that appeared while writing (another process committed it first).
Error taken_meanwhile(const std::string& path) {
  return Error(path, "output exists: another process wrote it meanwhile (use --force to overwrite)");
}

}  // namespace

void AtomicFile::commit() {
  if (std::fflush(f_) != 0 || ::fsync(fileno(f_)) != 0) {
    throw Error(path_, std::string("write failed: ") + std::strerror(errno));
  }
  if (unnamed_) {
    // Linking fails with EEXIST when the target exists, so without overwrite only one of two
    // concurrent writers gets it; with overwrite, link beside it and rename over it.
    const std::string self = "/proc/self/fd/" + std::to_string(fileno(f_));
    const std::string at = overwrite_ ? path_ + ".tmp." + std::to_string(::getpid()) : path_;
    if (overwrite_) ::unlink(at.c_str());
    if (::linkat(AT_FDCWD, self.c_str(), AT_FDCWD, at.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      if (errno == EEXIST && !overwrite_) throw taken_meanwhile(path_);
      throw Error(path_, std::string("cannot link the output into place: ") + std::strerror(errno));
    }
    if (overwrite_ && std::rename(at.c_str(), path_.c_str()) != 0) {
      const int err = errno;
      ::unlink(at.c_str());
      throw Error(path_, std::string("cannot rename into place: ") + std::strerror(err));
    }
  }
  const int rc = std::fclose(f_);
  f_ = nullptr;
  if (rc != 0) throw Error(path_, std::string("write failed: ") + std::strerror(errno));
  if (!unnamed_) {
    const int moved = overwrite_ ? std::rename(tmp_.c_str(), path_.c_str())
                                 : ::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE);
    if (moved != 0) {
      if (errno == EEXIST) throw taken_meanwhile(path_);
      throw Error(path_, std::string("cannot rename into place: ") + std::strerror(errno));
    }
  }
  committed_ = true;
  if (!tmp_.empty()) {
    std::lock_guard<std::mutex> g(tmp_mutex());
    live_temporaries().erase(tmp_);
  }
}

void write_file_atomic(const std::string& path, std::string_view data, bool overwrite) {
  AtomicFile f(path, overwrite);
  f.write(data.data(), data.size());
  f.commit();
}

}  // namespace squish
