// `squish inspect`: what a model file holds — architecture, metadata, tensors with their types,
// shapes, sizes and bits per weight — for GGUF files and SafeTensors files / HF model directories.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace squish {

// One metadata entry: its key, stored type, a short rendering and a JSON value (arrays summarised).
struct InspectMetadata {
  std::string key;
  std::string type;     // "uint32", "string", "array[string]" ...
  std::string display;  // one line, long strings and arrays shortened
  nlohmann::json value; // scalars as is; arrays as {"type", "length", "head"}
};

// One tensor.
struct InspectTensor {
  std::string name;
  std::string type;              // "Q4_K", "F32", "BF16" ...
  std::vector<int64_t> shape;    // as stored (GGUF: row length first; SafeTensors: row-major)
  int64_t n_elements = 0;
  uint64_t bytes = 0;
  double bits_per_weight = 0;    // bytes * 8 / n_elements, block scales included
};

// Count, elements and bytes of the tensors of one type.
struct InspectTypeTotal {
  std::string type;
  int64_t n_tensors = 0;
  int64_t n_elements = 0;
  uint64_t bytes = 0;
};

// Everything `squish inspect` shows about one model.
struct InspectReport {
  std::string path;
  std::string format;        // "GGUF v3", "SafeTensors", "SafeTensors (3 shards)"
  std::string architecture;  // general.architecture / config.json model_type; "unknown" if absent
  uint64_t file_bytes = 0;   // size of the file(s) on disk
  std::vector<InspectMetadata> metadata;
  std::vector<InspectTensor> tensors;
  std::vector<InspectTypeTotal> by_type;  // sorted by bytes, largest first
  int64_t total_elements = 0;
  uint64_t total_bytes = 0;  // tensor data bytes
  double bits_per_weight = 0;
};

// Reads a GGUF file, a .safetensors file, a safetensors index .json or an HF model directory.
// Throws squish::Error naming the file for anything malformed.
InspectReport inspect_model(const std::string& path);
// Human-readable listing.
std::string format_inspect_text(const InspectReport& r);
// Machine-readable form.
nlohmann::json inspect_to_json(const InspectReport& r);

}  // namespace squish
