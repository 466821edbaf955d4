// Second-moment statistics of every linear layer's input, H = Σ xᵀx over calibration tokens (the
// GPTQ Hessian up to a factor 2/n), shared by the linears that read the same input (q/k/v and
// gate/up), gathered in one pass of the unquantized model.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace squish {

class Model;

// Hessians keyed by input ("blk.3.attn_q" stands for q/k/v's input, "blk.3.ffn_gate" for gate/up).
class HessianSet {
 public:
  // The input key of a linear tensor name ("blk.3.attn_v.weight" → "blk.3.attn_q"), or "" for
  // tensors without a collected input (embeddings, output).
  static std::string input_key(const std::string& tensor);
  // Runs the model over the samples and accumulates every block linear's input statistics.
  // on_sample(done, total) reports progress.
  void collect(const std::shared_ptr<const Model>& model,
               const std::vector<std::vector<int32_t>>& samples,
               const std::function<void(int64_t, int64_t)>& on_sample = {});
  // H (n × n, row-major, Σ xᵀx in float64) for a tensor's input, or nullptr when not collected.
  const std::vector<double>* find(const std::string& tensor, int64_t* n = nullptr, int64_t* tokens = nullptr) const;

 private:
  struct Entry {
    int64_t n = 0, tokens = 0;
    std::vector<double> h;
  };
  std::map<std::string, Entry> entries_;
};

}  // namespace squish
