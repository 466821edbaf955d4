// LayerStats: per-input Hessians, channel ranges and strided row samples.
#include "squish/quant/layer_stats.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "squish/kernels/gemm.h"

namespace squish {

LayerInput layer_input_of(const std::string& kind) {
  if (kind == "attn_q" || kind == "attn_k" || kind == "attn_v") return LayerInput::Attn;
  if (kind == "attn_output") return LayerInput::AttnOut;
  if (kind == "ffn_gate" || kind == "ffn_up") return LayerInput::Ffn;
  if (kind == "ffn_down") return LayerInput::FfnOut;
  throw std::invalid_argument("not a decoder linear: " + kind);
}

std::vector<float> InputStats::mean_abs() const {
  std::vector<float> m(static_cast<size_t>(cols), 0.0f);
  if (tokens > 0)
    for (int64_t j = 0; j < cols; ++j) m[j] = static_cast<float>(sum_abs[j] / static_cast<double>(tokens));
  return m;
}

void InputStats::scale_channels(const std::vector<float>& s) {
  for (int64_t j = 0; j < cols; ++j) {
    max_abs[j] /= s[j];
    sum_abs[j] /= s[j];
  }
  if (!h.empty())
    for (int64_t i = 0; i < cols; ++i)
      for (int64_t j = 0; j < cols; ++j) h[i * cols + j] /= static_cast<double>(s[i]) * s[j];
  for (size_t k = 0; k < rows.size(); ++k) rows[k] /= s[k % static_cast<size_t>(cols)];
}

LinearObserver LayerStats::observer() {
  return [this](const LinearInput& in) {
    // q/k/v and gate/up are reported once per reader: take the first reader only.
    const std::string& t = in.tensor;
    const size_t dot = t.find('.', 4);
    std::string kind = t.substr(dot + 1);
    kind.resize(kind.size() - 7);  // ".weight"
    if (kind == "attn_k" || kind == "attn_v" || kind == "ffn_up") return;
    add(layer_input_of(kind), in.data, in.n_tokens, in.n_cols);
  };
}

void LayerStats::add(LayerInput which, const float* x, int64_t n, int64_t cols) {
  InputStats& s = inputs_[static_cast<int>(which)];
  if (s.cols == 0) {
    s.cols = cols;
    s.max_abs.assign(static_cast<size_t>(cols), 0.0f);
    s.sum_abs.assign(static_cast<size_t>(cols), 0.0);
    if (opt_.hessian) s.h.assign(static_cast<size_t>(cols * cols), 0.0);
  }
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < cols; ++j) {
      const float a = std::fabs(x[t * cols + j]);
      s.max_abs[j] = std::max(s.max_abs[j], a);
      s.sum_abs[j] += a;
    }
  if (opt_.hessian) {
    std::vector<float> xt(static_cast<size_t>(cols * n)), prod(static_cast<size_t>(cols * cols));
    for (int64_t t = 0; t < n; ++t)
      for (int64_t j = 0; j < cols; ++j) xt[j * n + t] = x[t * cols + j];
    kernels::matmul(cols, cols, n, xt.data(), xt.data(), prod.data());  // Xᵀ·X
    for (size_t k = 0; k < prod.size(); ++k) s.h[k] += prod[k];
  }
  if (opt_.keep_rows > 0) {
    const int64_t stride = std::max<int64_t>(1, (opt_.total_tokens + opt_.keep_rows - 1) / opt_.keep_rows);
    int64_t& seen = seen_[static_cast<int>(which)];
    for (int64_t t = 0; t < n; ++t, ++seen)
      if (seen % stride == 0 && s.n_rows() < opt_.keep_rows)
        s.rows.insert(s.rows.end(), x + t * cols, x + (t + 1) * cols);
  }
  s.tokens += n;
}

}  // namespace squish
