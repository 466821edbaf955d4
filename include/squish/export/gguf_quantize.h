// `squish quantize`: converts a model (GGUF or HF directory) into a GGUF file of a llama.cpp
// quantization mix, tensor types chosen by llama.cpp's rules, metadata and tokenizer carried over.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/quant/file_type.h"
#include "squish/quant/layer_result.h"

namespace squish {

class ImportanceMatrix;
class ModelSource;

// Options of one quantization run.
struct QuantizeOptions {
  FileType ftype = FileType::Q4_K_M;
  bool leave_output_tensor = false;          // keep output.weight in its input type
  bool pure = false;                         // no mix rules: every tensor gets the base type
  bool overwrite = false;                    // --force
  const ImportanceMatrix* imatrix = nullptr; // per-column importance, may be null
  std::string imatrix_path;                  // for messages
  std::function<void(const std::string&)> on_warning;  // called as soon as a warning arises
  // Calibrated GGUF (quantize_calibrated_gguf): GPTQ dampening and whether to measure output
  // errors (slow).
  double gptq_damp = 0.01;
  bool gptq_measure = false;
  // Tensors already encoded in the type the mix gives them (the calibration engine's results),
  // written as they are: the lookup returns the tensor of a name or null (it may read it from disk;
  // the pointer need only stay valid until the next call). May be empty.
  std::function<const EncodedTensor*(const std::string&)> encoded;
};

// What happened to one tensor.
struct QuantizedTensor {
  std::string name;
  GGMLType from = GGMLType::F32, to = GGMLType::F32;
  uint64_t bytes_in = 0, bytes_out = 0;
  uint64_t n_elements = 0;
  bool used_imatrix = false;
  bool used_gptq = false;     // written from the calibration engine's blocks
};

// Summary of a run.
struct QuantizeReport {
  std::vector<QuantizedTensor> tensors;
  std::vector<std::string> warnings;  // fallbacks and missing imatrix entries
  uint64_t input_bytes = 0;           // size of the input file(s)
  uint64_t output_bytes = 0;          // size of the written file
  double seconds = 0;                 // wall time of the conversion
};

// The type the mix gives each tensor of `source` (llama.cpp's rules), by tensor name.
std::map<std::string, GGMLType> gguf_tensor_types(const ModelSource& source, const QuantizeOptions& options);

// Quantizes `source` into the GGUF file `out_path` (atomically). Throws squish::Error naming the
// file on bad input, an existing output without overwrite, or a failed write (nothing is left).
QuantizeReport quantize_to_gguf(const ModelSource& source, const std::string& out_path,
                                const QuantizeOptions& options);

}  // namespace squish
