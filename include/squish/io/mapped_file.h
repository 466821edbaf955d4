// Read-only memory-mapped files.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace squish {

// A whole file mapped read-only; movable, unmapped on destruction.
class MappedFile {
 public:
  MappedFile() = default;
  // Maps `path`; throws squish::Error naming the file when it cannot be opened or mapped.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  // First byte of the mapping (nullptr for an empty file).
  const uint8_t* data() const { return data_; }
  // File size in bytes.
  size_t size() const { return size_; }
  // The path it was opened with.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Drops the resident pages lying wholly inside [p, p + n) of a read-only file mapping from this
// process's memory (madvise MADV_DONTNEED); touched again, they are read back from the file. Never
// call it on anonymous memory, whose contents it would discard.
void release_mapped_pages(const void* p, size_t n);

}  // namespace squish
