// The model side of a deployment plan: parameter count and the numbers that size the weights
// and the KV cache, from a GGUF file, an HF config.json, explicit numbers or a built-in table.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace squish::plan {

// What a tensor is, for deciding how a scheme stores it.
enum class TensorRole { Embedding, Output, Linear, Other };

// One weight tensor of the model (ggml order: shape[0] is the row length).
struct PlanTensor {
  std::string name;                // llama.cpp name ("blk.3.ffn_down.weight")
  std::vector<int64_t> shape;
  TensorRole role = TensorRole::Other;
  int64_t n_elements() const;
};

// Architecture numbers of a decoder-only transformer.
struct ModelShape {
  std::string name;      // "llama-3-70b", the file name, or "custom"
  std::string source;    // where the numbers come from (config repository / file path)
  std::string arch = "llama";  // llama.cpp architecture name
  double n_params = 0;   // total parameters
  int64_t n_layer = 0;
  int64_t n_head = 0;    // query heads (0: unknown)
  int64_t n_head_kv = 0;
  int64_t head_dim = 0;  // key (and value) head dimension
  int64_t n_embd = 0;    // hidden size (0: unknown)
  int64_t n_ff = 0;
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t sliding_window = 0;   // window of the sliding-window layers (0: none)
  int64_t n_swa_layers = 0;     // how many layers use it (their KV holds only the window)
  bool tied_embeddings = false;
  bool qkv_bias = false;
  bool qk_norm = false;
  bool post_norms = false;      // gemma3's extra post-attention / post-FFN norms
  bool shape_estimated = false; // hidden/ff were solved from the parameter count
  std::vector<PlanTensor> tensors;  // every weight tensor (real ones for GGUF input)

  // Parameters summed over `tensors`.
  double tensor_params() const;
};

// Built-in model names ("llama-2-7b", ...).
std::vector<std::string> builtin_model_names();
// A built-in model; throws squish::Error("model", "unknown model 'x'; ...") for other names.
ModelShape builtin_model(const std::string& name);
// Whether `name` is a built-in model name (case-insensitive).
bool is_builtin_model(const std::string& name);

// Reads a GGUF file's metadata and tensor list.
ModelShape shape_from_gguf(const std::string& path);
// Reads an HF config.json (or the config.json inside a directory); any decoder architecture with
// the usual keys (hidden_size, num_hidden_layers, num_attention_heads, ...).
ModelShape shape_from_hf_config(const std::string& path);

// Explicit numbers: parameter count plus whatever architecture numbers are known (0: unknown).
// layers, kv_heads and head_dim are required (they size the KV cache). Missing hidden size and
// FFN size are solved from the parameter count for a Llama-style layout (ffn = 3.5 × hidden);
// a missing vocabulary is taken as 32000.
ModelShape shape_from_numbers(double params, int64_t layers, int64_t kv_heads, int64_t head_dim,
                              int64_t heads, int64_t hidden, int64_t ff, int64_t vocab);

// Parses a parameter count: "70e9", "70B", "7b", "135M", "1.5T", "7000000000".
double parse_param_count(const std::string& text);

// Fills `tensors` (llama.cpp names) from the architecture numbers and sets n_params from them.
void synthesize_tensors(ModelShape& m);

}  // namespace squish::plan
