// SafeTensors writer: tensors collected in order, written as one model.safetensors or as
// model-XXXXX-of-YYYYY.safetensors shards (split above a byte threshold) plus
// model.safetensors.index.json, each file atomically. Tensors are held in memory, or — with a
// spool directory — streamed to one spool file per shard as they are added, so that writing a
// model never holds more than one tensor.
#pragma once
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "squish/io/safetensors.h"

namespace squish {

// One tensor to write: header dtype, row-major shape (last dimension innermost) and its bytes.
struct STOutTensor {
  std::string name;
  STDType dtype = STDType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;
};

// Reads rows [r0, r0 + n) of an F32 matrix into dst (n × cols floats).
using RowReader = std::function<void(int64_t r0, int64_t n, float* dst)>;

// Collects tensors, then writes them into a directory.
class SafeTensorsWriter {
 public:
  // Tensors held in memory until write().
  SafeTensorsWriter() = default;
  // Tensor bytes streamed to spool files in spool_dir (which must exist) as they are added, one
  // per shard of shard_bytes (the greedy split write() makes); write() takes the same shard_bytes.
  SafeTensorsWriter(std::string spool_dir, uint64_t shard_bytes);
  ~SafeTensorsWriter();
  SafeTensorsWriter(const SafeTensorsWriter&) = delete;
  SafeTensorsWriter& operator=(const SafeTensorsWriter&) = delete;

  // Adds a tensor; throws squish::Error if the byte count does not match dtype × shape or the
  // name repeats.
  void add(STOutTensor t);
  // Adds an F32 tensor converted to dtype (F32, F16 or BF16).
  void add_f32(const std::string& name, STDType dtype, std::vector<int64_t> shape,
               const float* values);
  // Adds a rows × cols F32 tensor (shape's elements = rows × cols) converted to dtype, read a
  // slice of rows at a time (when spooling, never whole in memory).
  void add_f32_rows(const std::string& name, STDType dtype, std::vector<int64_t> shape, int64_t rows,
                    int64_t cols, const RowReader& read);
  // Total tensor bytes added.
  uint64_t total_bytes() const { return total_; }
  // Writes the file(s) into dir (which must exist); shards when total_bytes() > shard_bytes.
  // Returns the file names written. A spooling writer can write once.
  std::vector<std::string> write(const std::string& dir, uint64_t shard_bytes);

 private:
  struct Entry {
    std::string name;
    STDType dtype;
    std::vector<int64_t> shape;
    uint64_t size = 0;
    size_t shard = 0;            // spooling: the shard (and spool file) it went to
    std::vector<uint8_t> data;   // in memory only
  };
  // Checks and registers a tensor of `size` bytes; when spooling, opens its shard's spool.
  Entry& begin(const std::string& name, STDType dtype, std::vector<int64_t> shape, uint64_t size);
  void spool_write(const void* p, size_t n);
  std::string spool_path(size_t shard) const;

  std::vector<Entry> tensors_;
  uint64_t total_ = 0;
  std::string spool_dir_;        // "" = in memory
  uint64_t spool_shard_bytes_ = 0;
  uint64_t shard_fill_ = 0;      // bytes in the current shard
  size_t n_spools_ = 0;
  std::FILE* spool_ = nullptr;   // the current shard's spool
};

}  // namespace squish
