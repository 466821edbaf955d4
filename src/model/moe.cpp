// moe_ffn: router, top-k selection and the experts, batched per expert.
#include "moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "ops.h"
#include "squish/common/error.h"
#include "squish/kernels/gemm.h"
#include "squish/kernels/quant_matmul.h"

namespace squish {

namespace {

// y[n × rows] = x · W_eᵀ for matrix e of the stacked weight w (matrix 0 of a 2-D one).
void slice_matmul(const Weight& w, int64_t e, int64_t n, const float* x, float* y) {
  const int64_t rows = w.matrix_rows(), cols = w.cols();
  if (w.is_scaled()) throw Error(w.name, "expert tensors have no runtime layout conversion");
  if (w.is_packed())
    kernels::quant_matmul(w.type, w.packed + static_cast<size_t>(e * rows) * row_bytes(w.type, cols), n, rows, cols,
                          x, y, nullptr);
  else
    kernels::matmul(n, rows, cols, x, w.ptr() + e * rows * cols, y, nullptr);
}

}  // namespace

void route_tokens(const ModelConfig& c, int64_t n, const float* logits, int32_t* experts, float* weights) {
  const int64_t ne = c.n_expert, k = c.n_expert_used;
  std::vector<float> p(static_cast<size_t>(ne));
  std::vector<int32_t> order(static_cast<size_t>(ne));
  for (int64_t t = 0; t < n; ++t) {
    const float* l = logits + t * ne;
    const float mx = *std::max_element(l, l + ne);
    float sum = 0.f;
    for (int64_t e = 0; e < ne; ++e) sum += p[static_cast<size_t>(e)] = std::exp(l[e] - mx);
    for (float& v : p) v /= sum;
    std::iota(order.begin(), order.end(), 0);
    // Highest probability first; ties to the lower expert number (a stable order).
    std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int32_t a, int32_t b) {
      return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)] || (p[static_cast<size_t>(a)] == p[static_cast<size_t>(b)] && a < b);
    });
    float kept = 0.f;
    for (int64_t j = 0; j < k; ++j) kept += p[static_cast<size_t>(order[static_cast<size_t>(j)])];
    const float scale = c.expert_weights_norm ? 1.f / kept : 1.f;
    for (int64_t j = 0; j < k; ++j) {
      experts[t * k + j] = order[static_cast<size_t>(j)];
      weights[t * k + j] = p[static_cast<size_t>(order[static_cast<size_t>(j)])] * scale;
    }
  }
}

void moe_ffn(const ModelConfig& c, const LayerWeights& L, int64_t n, const float* h, float* out,
             const ExpertObserver& observe) {
  const int64_t E = c.n_embd, F = c.n_ff_exp, ne = c.n_expert, k = c.n_expert_used;
  std::vector<float> logits(static_cast<size_t>(n * ne)), weights(static_cast<size_t>(n * k));
  std::vector<int32_t> chosen(static_cast<size_t>(n * k));
  slice_matmul(L.ffn_gate_inp, 0, n, h, logits.data());
  route_tokens(c, n, logits.data(), chosen.data(), weights.data());
  std::fill(out, out + n * E, 0.f);
  // Per expert: gather its tokens' rows, run gate / up / down on them at once, scatter-add.
  std::vector<int64_t> rows;
  std::vector<float> w, x, g, u, y;
  for (int64_t e = 0; e < ne; ++e) {
    rows.clear(), w.clear();
    for (int64_t i = 0; i < n * k; ++i)
      if (chosen[static_cast<size_t>(i)] == e) rows.push_back(i / k), w.push_back(weights[static_cast<size_t>(i)]);
    const int64_t m = static_cast<int64_t>(rows.size());
    if (m == 0) continue;
    x.resize(static_cast<size_t>(m * E)), g.resize(static_cast<size_t>(m * F));
    u.resize(static_cast<size_t>(m * F)), y.resize(static_cast<size_t>(m * E));
    for (int64_t r = 0; r < m; ++r) std::copy_n(h + rows[static_cast<size_t>(r)] * E, E, x.data() + r * E);
    if (observe) {
      observe(LayerTensor::FfnGateExps, e, x.data(), m, E);
      observe(LayerTensor::FfnUpExps, e, x.data(), m, E);
    }
    slice_matmul(L.ffn_gate_exps, e, m, x.data(), g.data());
    slice_matmul(L.ffn_up_exps, e, m, x.data(), u.data());
    ops::swiglu(g.data(), u.data(), m * F);
    if (observe) observe(LayerTensor::FfnDownExps, e, g.data(), m, F);
    slice_matmul(L.ffn_down_exps, e, m, g.data(), y.data());
    for (int64_t r = 0; r < m; ++r) {
      float* o = out + rows[static_cast<size_t>(r)] * E;
      const float wr = w[static_cast<size_t>(r)];
      for (int64_t i = 0; i < E; ++i) o[i] += wr * y[static_cast<size_t>(r * E + i)];
    }
  }
}

}  // namespace squish
