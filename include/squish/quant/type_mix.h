// Per-tensor type choices inside a quantization mix, following llama.cpp's llama_tensor_get_type
// rules (src/llama-quant.cpp), including its block-size fallbacks.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/quant/file_type.h"

namespace squish {

// What the rules need to know about the model.
struct MixModelInfo {
  std::string arch;       // general.architecture ("llama", "gemma3", "falcon" ...)
  int64_t n_layer = 0;    // block count
  int64_t n_head = 1;     // attention heads
  int64_t n_head_kv = 1;  // key/value heads (n_gqa = n_head / n_head_kv)
  int64_t n_expert = 0;   // experts (0 or 1: dense)
  bool is_70b = false;    // llama.cpp's LLM_TYPE_70B special case (80-layer GQA llama)
};

// One input tensor as the rules see it.
struct MixTensor {
  std::string name;
  std::vector<int64_t> shape;  // ggml order
  GGMLType type = GGMLType::F32;
};

// Options of a mix.
struct MixOptions {
  FileType ftype = FileType::Q4_K_M;
  bool leave_output_tensor = false;  // keep output.weight in its input type
  bool pure = false;                 // every quantizable tensor gets the base type
  bool has_imatrix = false;          // some rules depend on whether an imatrix is given
};

// The decision for one tensor.
struct MixChoice {
  GGMLType type = GGMLType::F32;
  bool quantizable = false;  // llama.cpp would quantize it (else it keeps its input type)
  bool fell_back = false;    // the rule's type did not fit the row length
  std::string warning;       // set when fell_back: the one-line explanation
};

// Whether llama.cpp quantizes a tensor of this name and rank at all (2-D+ "*weight", not norms,
// not output.weight when leave_output_tensor ...).
bool tensor_is_quantizable(const std::string& name, size_t n_dims, bool leave_output_tensor);

// The order in which llama.cpp walks tensors (non-block tensors first, then by block number,
// names sorted within): indices into `tensors`.
std::vector<size_t> llama_tensor_order(const std::vector<MixTensor>& tensors);

// The type llama.cpp uses instead of t for rows of ncols elements when t's block does not fit
// (Q2_K/Q3_K → Q4_0, Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0, else F16); t itself when it fits.
GGMLType block_fallback(GGMLType t, int64_t ncols);

// Chooses each tensor's type. Tensors are visited in llama_tensor_order (the counters behind
// "use more bits" depend on it); the result is indexed like `tensors`.
std::vector<MixChoice> choose_tensor_types(const MixModelInfo& model,
                                           const std::vector<MixTensor>& tensors,
                                           const MixOptions& options);

}  // namespace squish
