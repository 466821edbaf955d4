// GGUF v2/v3 reader: memory-mapped, validating every count, length and offset against the file.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/io/gguf_value.h"
#include "squish/io/mapped_file.h"

namespace squish {

// One tensor of a GGUF file; its data points into the mapping (zero-copy).
struct GGUFTensor {
  std::string name;
  GGMLType type = GGMLType::F32;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the row length (innermost)
  uint64_t offset = 0;         // relative to the start of the data section
  const uint8_t* data = nullptr;
  size_t nbytes = 0;

  // Total number of elements.
  int64_t n_elements() const;
  // Number of rows (product of shape[1..]).
  int64_t n_rows() const;
  // Row length (shape[0]).
  int64_t row_length() const { return shape.empty() ? 1 : shape[0]; }
};

// A parsed GGUF file. Throws squish::Error("<path>: <problem>") on any malformed input.
class GGUFFile {
 public:
  explicit GGUFFile(const std::string& path);

  // Path the file was opened with.
  const std::string& path() const { return map_.path(); }
  // GGUF format version (2 or 3).
  uint32_t version() const { return version_; }
  // Data alignment (general.alignment, default 32).
  uint64_t alignment() const { return alignment_; }
  // Absolute file offset of the tensor data section.
  uint64_t data_offset() const { return data_offset_; }
  // Size of the whole file.
  size_t file_size() const { return map_.size(); }

  // Metadata in file order.
  const std::vector<std::pair<std::string, GGUFValue>>& metadata() const { return kv_; }
  // Value of a key, or nullptr.
  const GGUFValue* find(const std::string& key) const;
  // Typed accessors: throw Error naming the file when the key is missing or of the wrong kind.
  int64_t get_int(const std::string& key) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_float(const std::string& key) const;
  double get_float(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;
  std::string get_string(const std::string& key) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  const GGUFArray& get_array(const std::string& key) const;
  // general.architecture.
  std::string architecture() const { return get_string("general.architecture"); }

  // Tensors in file order.
  const std::vector<GGUFTensor>& tensors() const { return tensors_; }
  // Tensor by name, or nullptr.
  const GGUFTensor* find_tensor(const std::string& name) const;
  // Tensor by name; throws Error "missing tensor NAME".
  const GGUFTensor& tensor(const std::string& name) const;
  // The tensor dequantized to F32 (row-major, shape[0] fastest). Throws for unsupported types.
  std::vector<float> dequantize(const GGUFTensor& t) const;

 private:
  MappedFile map_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, GGUFValue>> kv_;
  std::unordered_map<std::string, size_t> kv_index_;
  std::vector<GGUFTensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace squish
