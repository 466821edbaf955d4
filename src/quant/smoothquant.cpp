// SmoothQuant's scales from activation and weight channel maxima.
#include "squish/quant/smoothquant.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace squish {

namespace {

constexpr double kMinSmoothingScale = 1e-5;  // llm-compressor's MINIMUM_SMOOTHING_SCALE

}  // namespace

std::vector<float> smoothquant_scales(const std::vector<float>& act_max, const std::vector<const float*>& ws,
                                      const std::vector<int64_t>& rows, int64_t cols, double alpha) {
  if (cols <= 0 || static_cast<int64_t>(act_max.size()) != cols)
    throw std::invalid_argument("SmoothQuant: act_max has " + std::to_string(act_max.size()) +
                                " channels, the weights have " + std::to_string(cols));
  if (ws.empty() || ws.size() != rows.size())
    throw std::invalid_argument("SmoothQuant: need one row count per weight matrix (and at least one matrix)");
  if (!(alpha >= 0 && alpha <= 1)) throw std::invalid_argument("SmoothQuant: alpha must be in [0, 1]");
  std::vector<float> wmax(static_cast<size_t>(cols), 0.0f);
  for (size_t i = 0; i < ws.size(); ++i) {
    if (!ws[i] || rows[i] <= 0) throw std::invalid_argument("SmoothQuant: empty weight matrix");
    for (int64_t r = 0; r < rows[i]; ++r)
      for (int64_t c = 0; c < cols; ++c) wmax[c] = std::max(wmax[c], std::fabs(ws[i][r * cols + c]));
  }
  std::vector<float> s(static_cast<size_t>(cols));
  for (int64_t c = 0; c < cols; ++c) {
    const double a = act_max[c], w = wmax[c];
    if (!(a > 0) || !(w > 0) || !std::isfinite(a) || !std::isfinite(w)) {
      s[c] = 1.0f;  // a dead channel: nothing to balance
      continue;
    }
    s[c] = static_cast<float>(std::max(std::pow(a, alpha) / std::pow(w, 1.0 - alpha), kMinSmoothingScale));
  }
  return s;
}

}  // namespace squish
