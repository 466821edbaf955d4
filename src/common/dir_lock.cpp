#include "squish/common/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "squish/common/error.h"

namespace squish {

DirLock::DirLock(const std::string& dir, const std::string& what) : dir_(dir) {
  std::error_code ec;
  created_ = std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir, "cannot create directory: " + ec.message());
  fd_ = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd_ < 0) throw Error(dir, std::string("cannot open directory: ") + std::strerror(errno));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK) throw Error(dir, "another squish process is " + what + " (it holds this directory)");
    throw Error(dir, std::string("cannot lock directory: ") + std::strerror(err));
  }
}

DirLock::~DirLock() {
  if (fd_ < 0) return;
  if (created_) ::rmdir(dir_.c_str());  // fails, as meant, unless it is empty
  ::close(fd_);
}

}  // namespace squish
