// AWQ (Lin et al. 2023, as AutoAWQ does it): per-input-channel scales s = mean|x|^α searched on a
// grid of α to minimise the output error of round-to-nearest W·diag(s) (the scale is folded into
// the previous norm / linear by the caller: X/s · (W·s)ᵀ = X·Wᵀ), and the optional clipping search
// that shrinks each group's range where that lowers the group's output error.
#pragma once
#include <cstdint>
#include <vector>

#include "squish/formats/number_formats.h"

namespace squish {

// Settings of the AWQ searches.
struct AwqOptions {
  int grid = 20;              // α ∈ {0, 1/grid, …, (grid−1)/grid}
  bool duo_scaling = false;   // AutoAWQ's duo_scaling: s = mean|x|^α / (mean|ŵ|^(1−α) + 1e-4), ŵ = W / group max|W|
  bool clip_search = false;   // whether the caller runs awq_clip() after scaling (not read here)
  int clip_grid = 20;         // clip ratios 1 − k/clip_grid ...
  double max_shrink = 0.5;    // ... for k = 0 .. max_shrink·clip_grid (ratios down to 1 − max_shrink)
  int64_t max_rows = 4096;    // rows of X the scale search uses (evenly spaced subsample)
  int64_t clip_rows = 512;    // rows of X the clipping search uses (AutoAWQ: 512 tokens)
};

// Outcome of the scale search.
struct AwqResult {
  std::vector<float> scales;   // per input channel: multiply W's columns, divide X's (fold into the norm)
  double alpha = 0;            // the α chosen
  double error = 0;            // Σ_i ||X W_iᵀ − X W'_iᵀ||² at that α (on the subsample of X)
  double error_identity = 0;   // the same for α = 0 (s = 1: plain round-to-nearest)
  std::vector<double> errors;  // per grid point α = k/grid
};

// For linears sharing one input (e.g. q,k,v or gate,up): ws[i] is rows[i] × cols row-major, X is
// n × cols row-major, mean_abs_x the per-channel mean |x|. For each α, s = max(mean_abs_x^α, 1e-4)
// normalised by sqrt(max(s)·min(s)), W' = Q(W·diag(s))·diag(1/s) with Q = quantize_matrix() on spec,
// error = Σ_i ||X W_iᵀ − X W'_iᵀ||²; returns the α of least error (error ≤ error_identity).
// With duo_scaling, s also divides by the weights' normalised channel means (see AwqOptions), and
// s = 1 (alpha 0) is returned when no α beats plain rounding.
// Throws std::invalid_argument on inconsistent sizes or specs without row-independent groups.
AwqResult awq_search_scales(const float* X, int64_t n, int64_t cols, const std::vector<const float*>& ws,
                            const std::vector<int64_t>& rows, const std::vector<float>& mean_abs_x,
                            const QuantSpec& spec, const AwqOptions& opt);

// AWQ clipping search on W (rows × cols row-major, already scaled: W·s) with X (n × cols) the input
// it then sees (X/s): for each row and quantization group, the clip ratio
// c ∈ {1, 1 − 1/clip_grid, …, 1 − max_shrink} minimising the group's output error
// Σ_t (X_t,g · (W_g − Q(clamp(W_g, ±c·max|W_g|))))²; clamps W in place to the chosen ranges and
// returns the total of that error before minus after (≥ 0).
double awq_clip(float* W, int64_t rows, int64_t cols, const float* X, int64_t n, const QuantSpec& spec,
                const AwqOptions& opt);

}  // namespace squish
