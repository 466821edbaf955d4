// Statistics of one decoder layer's linear inputs over the calibration samples: the Hessian
// H = Σ xᵀx (float64), per-channel max |x| and mean |x|, the token count, and an evenly strided
// sample of raw input rows (for AWQ's scale search). q/k/v share one input, gate/up another.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "squish/model/model.h"

namespace squish {

// The four inputs of a decoder layer.
enum class LayerInput { Attn = 0, AttnOut = 1, Ffn = 2, FfnOut = 3 };
// Which input a linear of the layer reads ("attn_v" → Attn); throws for other names.
LayerInput layer_input_of(const std::string& linear_kind);

// Statistics of one input.
struct InputStats {
  int64_t cols = 0, tokens = 0;
  std::vector<double> h;        // cols × cols, Σ xᵀx (empty unless wanted)
  std::vector<float> max_abs;   // per channel
  std::vector<double> sum_abs;  // per channel Σ|x|
  std::vector<float> rows;      // kept rows, n_rows() × cols
  // Number of kept raw rows.
  int64_t n_rows() const { return cols ? static_cast<int64_t>(rows.size()) / cols : 0; }
  // mean |x| per channel.
  std::vector<float> mean_abs() const;
  // Divides channel j by s[j] everywhere (after folding a scale into the previous operation).
  void scale_channels(const std::vector<float>& s);
};

// What to collect.
struct LayerStatsOptions {
  bool observe = true;       // false: the quantizer reads no statistics (the engine skips that pass)
  bool propagate = true;     // false: nothing needs activations at all (no statistics, no KV-cache
                             // ranges), so the engine runs no forward pass over the samples
  bool hessian = true;
  int64_t keep_rows = 0;     // raw rows to keep per input (0: none)
  int64_t total_tokens = 0;  // tokens the layer will see (for the row stride)
};

// Accumulates the four inputs of one layer through LayerPass's observer.
class LayerStats {
 public:
  explicit LayerStats(const LayerStatsOptions& opt) : opt_(opt) {}
  // The observer to give LayerPass::run.
  LinearObserver observer();
  // Statistics of an input (empty InputStats when never observed).
  InputStats& input(LayerInput in) { return inputs_[static_cast<int>(in)]; }

 private:
  void add(LayerInput in, const float* x, int64_t n, int64_t cols);
  LayerStatsOptions opt_;
  InputStats inputs_[4];
  int64_t seen_[4] = {0, 0, 0, 0};
};

}  // namespace squish
