// Inputs of the GGUF exporter: a model's metadata and tensors (GGUF names, ggml layout), read
// row by row as F32. Backed by a GGUF file or an HF SafeTensors directory.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/io/gguf_value.h"

namespace squish {

// One tensor of a source, named and shaped as GGUF stores it.
struct SourceTensor {
  std::string name;
  GGMLType type = GGMLType::F32;  // its stored type (what a same-type copy would keep)
  std::vector<int64_t> shape;     // ggml order: shape[0] is the row length
  // Elements.
  int64_t n_elements() const;
  // Rows (product of shape[1..]).
  int64_t n_rows() const;
};

// Reads one tensor's rows as F32; read() may be called from several threads at once.
class TensorRows {
 public:
  virtual ~TensorRows() = default;
  // Rows [row0, row0+n_rows) into out (n_rows × shape[0] floats).
  virtual void read(int64_t row0, int64_t n_rows, float* out) const = 0;
};

// A model to export. Implementations are thread-safe for concurrent reads.
class ModelSource {
 public:
  virtual ~ModelSource() = default;
  // The path it was opened from.
  virtual const std::string& path() const = 0;
  // GGUF metadata (architecture, hyper-parameters, tokenizer.ggml.* ...), in order.
  virtual const std::vector<std::pair<std::string, GGUFValue>>& metadata() const = 0;
  // Tensors in source order.
  virtual const std::vector<SourceTensor>& tensors() const = 0;
  // The stored bytes of tensor i in its own type (row_bytes × rows), or nullptr when the source
  // has to convert (then even a same-type output goes through rows_f32).
  virtual const uint8_t* raw_data(size_t i) const = 0;
  // A reader of tensor i's rows as F32 (may convert the whole tensor up front).
  virtual std::unique_ptr<TensorRows> rows_f32(size_t i) const = 0;
  // Size in bytes of the input (the file, or the sum of the safetensors shards).
  virtual uint64_t input_bytes() const = 0;

  // Value of a metadata key, or nullptr.
  const GGUFValue* find(const std::string& key) const;
};

// Opens a GGUF file or an HF model directory (config.json + *.safetensors + tokenizer.json).
// Throws squish::Error naming the path for anything it cannot read.
std::unique_ptr<ModelSource> open_model_source(const std::string& path);
// Opens a GGUF file.
std::unique_ptr<ModelSource> open_gguf_source(const std::string& path);

}  // namespace squish
