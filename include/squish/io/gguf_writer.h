// GGUF v3 writer: metadata of every value type (nested arrays too), tensors of any ggml type,
// general.alignment honoured, written atomically through squish::AtomicFile.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/io/gguf_value.h"

namespace squish {

class AtomicFile;

// Description of one tensor to be written (its data is streamed later, in order).
struct GGUFTensorInfo {
  std::string name;
  GGMLType type = GGMLType::F32;
  std::vector<int64_t> shape;  // ggml order: shape[0] is the row length
  // Bytes of the tensor's data (computed from type and shape).
  uint64_t nbytes() const;
};

// Collects metadata and tensor descriptions, then writes a GGUF file in one pass:
// header first, then each tensor's data in the order the tensors were added.
class GGUFWriter {
 public:
  GGUFWriter();
  ~GGUFWriter();

  // Sets a key: replaces the value in place when the key exists, else appends it.
  void set(const std::string& key, GGUFValue value);
  // Removes a key if present.
  void remove(const std::string& key);
  // Value of a key, or nullptr.
  const GGUFValue* find(const std::string& key) const;
  // Metadata in write order.
  const std::vector<std::pair<std::string, GGUFValue>>& metadata() const { return kv_; }

  // Appends a tensor description; throws Error for duplicate names, empty or bad shapes, or a
  // row length that is not a multiple of the type's block size.
  void add_tensor(const std::string& name, GGMLType type, std::vector<int64_t> shape);
  // Tensors in write order.
  const std::vector<GGUFTensorInfo>& tensors() const { return tensors_; }
  // Alignment of the data section (general.alignment, default 32).
  uint64_t alignment() const;

  // Creates the output (temporary beside `path`) and writes the header. Throws Error when the
  // target exists and !overwrite, or cannot be written.
  void begin(const std::string& path, bool overwrite);
  // Writes the data of the next tensor (exactly its nbytes(), possibly in several calls);
  // padding between tensors is added automatically.
  void write_data(const void* data, size_t n);
  // Checks every tensor got all its bytes, then fsyncs and renames the file into place.
  void finish();

  // Convenience: writes a whole file whose tensor data are given in order.
  void write_file(const std::string& path, bool overwrite, const std::vector<const void*>& data);

 private:
  void close_tensor_if_complete();
  std::vector<std::pair<std::string, GGUFValue>> kv_;
  std::vector<GGUFTensorInfo> tensors_;
  std::unique_ptr<AtomicFile> out_;
  size_t cur_ = 0;             // index of the tensor being written
  uint64_t cur_written_ = 0;   // bytes of it written so far
  uint64_t data_start_ = 0;    // file offset of the data section
};

}  // namespace squish
