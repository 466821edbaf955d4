// SafeTensors writer: tensors collected in order, written as one model.safetensors or as
// model-XXXXX-of-YYYYY.safetensors shards (split above a byte threshold) plus
// model.safetensors.index.json, each file atomically.
#pragma once
#include <cstdint>
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

// Collects tensors, then writes them into a directory.
class SafeTensorsWriter {
 public:
  // Adds a tensor; throws squish::Error if the byte count does not match dtype × shape or the
  // name repeats.
  void add(STOutTensor t);
  // Adds an F32 tensor converted to dtype (F32, F16 or BF16).
  void add_f32(const std::string& name, STDType dtype, std::vector<int64_t> shape,
               const float* values);
  // Total tensor bytes added.
  uint64_t total_bytes() const { return total_; }
  // Writes the file(s) into dir (which must exist); shards when total_bytes() > shard_bytes.
  // Returns the file names written.
  std::vector<std::string> write(const std::string& dir, uint64_t shard_bytes) const;

 private:
  std::vector<STOutTensor> tensors_;
  uint64_t total_ = 0;
};

}  // namespace squish
