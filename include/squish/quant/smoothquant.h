// SmoothQuant (Xiao et al. 2023): per-input-channel scales that move the activations' outliers into
// the weights, s_j = max|X_j|^α / max_i |W_ij|^(1−α); the caller divides the input (folds 1/s into
// the previous norm) and multiplies the weights' columns by s, so X·Wᵀ is unchanged.
#pragma once
#include <cstdint>
#include <vector>

namespace squish {

// Smoothing scales for linears sharing one input: ws[i] is rows[i] × cols row-major, act_max the
// per-channel max|x| of the input; the weight maximum runs over all rows of all ws. Guards as
// llm-compressor: s ≥ 1e-5, and s = 1 for a dead channel (zero activation or zero weight column).
// Throws std::invalid_argument on inconsistent sizes or alpha outside [0, 1].
std::vector<float> smoothquant_scales(const std::vector<float>& act_max, const std::vector<const float*>& ws,
                                      const std::vector<int64_t>& rows, int64_t cols, double alpha = 0.5);

}  // namespace squish
