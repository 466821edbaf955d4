// Atomic output files: write to an unnamed temporary in the target's directory (O_TMPFILE; a named
// temporary beside it where the file system has none), fsync, then link it into place.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace squish {

// A file being written atomically. Nothing appears at `path` until commit(), and nothing at all
// while writing where the file system supports unnamed temporaries (so even SIGKILL leaves no
// trace); destroying an uncommitted AtomicFile removes the temporary. Refuses an existing target
// unless overwrite, also one that another process created while this one was writing.
class AtomicFile {
 public:
  AtomicFile(const std::string& path, bool overwrite);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends bytes; throws squish::Error naming the target on a short write (e.g. disk full).
  void write(const void* data, size_t n);
  // Appends zero bytes up to the next multiple of `alignment` of the written size.
  void pad_to(size_t alignment);
  // Bytes written so far.
  uint64_t size() const { return written_; }
  // Flushes, fsyncs and links the temporary at the target (replacing it only with overwrite).
  void commit();
  // The final path.
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  uint64_t written_ = 0;
  bool committed_ = false;
  bool overwrite_ = false;
  bool unnamed_ = false;  // O_TMPFILE: tmp_ is empty until commit
};

// Removes temporaries of interrupted writes if the process gets SIGINT/SIGTERM.
void install_interrupt_cleanup();

// Writes a whole file atomically (see AtomicFile).
void write_file_atomic(const std::string& path, std::string_view data, bool overwrite);

}  // namespace squish
