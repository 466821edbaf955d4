// SafeTensors reader: memory-mapped, zero-copy, validating the header against the file;
// single files and sharded checkpoints (model.safetensors.index.json).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "squish/io/mapped_file.h"

namespace squish {

struct QuantizedMatrix;

// Element types squish reads from SafeTensors files.
enum class STDType { F32, F16, BF16, F8_E4M3, F8_E5M2, I8, U8, I32, I64 };

// Name as written in the header ("F32", "BF16", "F8_E4M3", ...).
const char* st_dtype_name(STDType t);
// Parses a header dtype name; nullopt for names squish does not support.
std::optional<STDType> parse_st_dtype(const std::string& name);
// Bytes per element.
size_t st_dtype_size(STDType t);
// v rounded to the precision of dtype t (F16 or BF16; other dtypes leave it as it is).
float st_round(float v, STDType t);
// Rounds q's scales to dtype (F16 or BF16; other dtypes leave them as they are), as a file
// storing the scales in dtype holds them.
void round_scales(QuantizedMatrix& q, STDType dtype);

// One tensor of a SafeTensors file; `data` points into the mapping (zero-copy, may be unaligned).
struct SafeTensor {
  std::string name;
  STDType dtype = STDType::F32;
  std::vector<int64_t> shape;  // as in the header: row-major, the LAST dimension is innermost
  const uint8_t* data = nullptr;
  size_t nbytes = 0;
  uint64_t begin = 0;  // data_offsets[0], relative to the data section
  std::string file;    // file holding the tensor

  // Total number of elements (1 for a 0-d tensor).
  int64_t n_elements() const;
  // All elements converted to F32 (exact for every type but I32/I64 beyond 2^24).
  std::vector<float> to_f32() const;
  // Converts into dst, which must hold n_elements() floats.
  void to_f32(float* dst) const;
};

// Converts n elements of dtype t at src (any alignment) to F32.
void st_convert_to_f32(STDType t, const uint8_t* src, float* dst, size_t n);

// A parsed SafeTensors file. Throws squish::Error("<path>: <problem>") on any malformed input.
class SafeTensorsFile {
 public:
  explicit SafeTensorsFile(const std::string& path);

  // Path the file was opened with.
  const std::string& path() const { return map_.path(); }
  // Size of the file in bytes.
  size_t file_size() const { return map_.size(); }
  // Length of the JSON header (the u64 at the start).
  uint64_t header_size() const { return header_size_; }
  // The "__metadata__" string map (empty when absent).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Tensors in data-offset order.
  const std::vector<SafeTensor>& tensors() const { return tensors_; }
  // Tensor by name, or nullptr.
  const SafeTensor* find(const std::string& name) const;

 private:
  MappedFile map_;
  uint64_t header_size_ = 0;
  std::map<std::string, std::string> metadata_;
  std::vector<SafeTensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
};

// The tensors of a checkpoint: one .safetensors file, or every shard listed by an index
// (model.safetensors.index.json "weight_map"). Tensor names are unique across shards.
class SafeTensorsSet {
 public:
  // Opens a .safetensors file, an index .json, or a directory holding model.safetensors,
  // model.safetensors.index.json or a single *.safetensors file.
  static SafeTensorsSet open(const std::string& path);

  // The opened file(s), in shard order.
  const std::vector<std::shared_ptr<SafeTensorsFile>>& files() const { return files_; }
  // Path of the index file ("" for a single file).
  const std::string& index_path() const { return index_path_; }
  // Index "metadata" (e.g. total_size) as strings, or the single file's __metadata__.
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // Every tensor, shard by shard in data-offset order.
  const std::vector<const SafeTensor*>& tensors() const { return order_; }
  // Tensor by name, or nullptr.
  const SafeTensor* find(const std::string& name) const;
  // Tensor by name; throws Error naming the checkpoint: "missing tensor NAME".
  const SafeTensor& tensor(const std::string& name) const;
  // Path used in error messages (index, file or directory).
  const std::string& path() const { return path_; }
  // Sum of tensor bytes.
  uint64_t total_bytes() const;

 private:
  std::string path_;
  std::string index_path_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::shared_ptr<SafeTensorsFile>> files_;
  std::vector<const SafeTensor*> order_;
  std::unordered_map<std::string, const SafeTensor*> by_name_;
};

}  // namespace squish
