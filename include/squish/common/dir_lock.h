// An exclusive lock on a directory (flock), so that two processes never share one working
// directory, such as the state directory of a calibrated run.
#pragma once
#include <string>

namespace squish {

// Creates `dir` if missing and locks it for this process until destroyed (the kernel drops the
// lock when the process dies, even by SIGKILL); a directory it created is removed again on
// destruction if it is still empty. Throws squish::Error naming the directory when another process
// holds it.
class DirLock {
 public:
  DirLock(const std::string& dir, const std::string& what);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  std::string dir_;
  int fd_ = -1;
  bool created_ = false;
};

}  // namespace squish
