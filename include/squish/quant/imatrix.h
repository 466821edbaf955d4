// Importance matrices in llama.cpp's formats: per-column sums of squared activations of each
// linear layer's input. Reads the GGUF format (general.type = imatrix, <name>.in_sum2 and
// <name>.counts tensors) and the legacy .dat format; writes both (GGUF by default).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace squish {

// Statistics of one weight tensor's input. For a dense tensor n_mat() == 1; for stacked experts
// there is one row of sums and one count per matrix.
struct ImatrixEntry {
  std::vector<double> sum2;    // Σx² per column (n_mat × n_cols)
  std::vector<double> sum;     // Σx per column, may be empty (newer llama.cpp writes in_sum)
  std::vector<int64_t> counts; // tokens accumulated, per matrix
  // Number of matrices.
  int64_t n_mat() const { return static_cast<int64_t>(counts.size()); }
  // Columns per matrix.
  int64_t n_cols() const { return counts.empty() ? 0 : static_cast<int64_t>(sum2.size() / counts.size()); }
};

// A whole importance matrix: tensor name ("blk.0.attn_q.weight") to statistics.
class ImportanceMatrix {
 public:
  std::map<std::string, ImatrixEntry> entries;
  std::vector<std::string> datasets;  // calibration files used
  uint32_t chunk_count = 0;           // chunks of text evaluated
  uint32_t chunk_size = 0;            // tokens per chunk

  // Reads a GGUF or legacy .dat imatrix (detected by magic). Throws squish::Error naming the file
  // for malformed input.
  static ImportanceMatrix load(const std::string& path);
  // Writes the GGUF format llama.cpp reads (atomically; refuses an existing file unless overwrite).
  void save_gguf(const std::string& path, bool overwrite) const;
  // Writes the legacy .dat format.
  void save_legacy(const std::string& path, bool overwrite) const;

  // Adds n_rows input vectors x[n_rows × n_cols] of a dense tensor to its statistics.
  void accumulate(const std::string& tensor, const float* x, int64_t n_rows, int64_t n_cols);
  // Adds n_rows input rows routed to expert `expert` of stacked tensor `tensor` (n_experts
  // matrices, each with its own sums and count, as llama.cpp collects MUL_MAT_ID inputs).
  void accumulate_expert(const std::string& tensor, int64_t expert, int64_t n_experts, const float* x,
                         int64_t n_rows, int64_t n_cols);
  // Per-column mean of squares (Σx²/count, 1.0 where a matrix saw no tokens) for quantizing,
  // as llama-quantize derives it; empty when the tensor has no entry.
  std::vector<float> importance(const std::string& tensor) const;
};

}  // namespace squish
