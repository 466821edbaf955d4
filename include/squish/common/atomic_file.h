// Atomic output files: write to a temporary beside the target, fsync, rename into place.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace squish {

// A file being written atomically. Nothing appears at `path` until commit(); destroying an
// uncommitted AtomicFile removes the temporary. Refuses an existing target unless overwrite.
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
  // Flushes, fsyncs and renames the temporary onto the target.
  void commit();
  // The final path.
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
  uint64_t written_ = 0;
  bool committed_ = false;
};

// Removes temporaries of interrupted writes if the process gets SIGINT/SIGTERM.
void install_interrupt_cleanup();

// Writes a whole file atomically (see AtomicFile).
void write_file_atomic(const std::string& path, std::string_view data, bool overwrite);

}  // namespace squish
