// The mixture-of-experts feed-forward: routing as Mixtral and Qwen3-MoE define it, and the experts
// run from slices of the stacked tensors (F32 and GGUF blocks) equal to a per-token reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "../../src/model/moe.h"
#include "squish/formats/quantize.h"

namespace {

using namespace squish;

ModelConfig moe_config(int64_t n_expert, int64_t used, bool norm) {
  ModelConfig c;
  c.arch = Arch::Qwen3Moe;
  c.n_embd = 64, c.n_ff_exp = 32, c.n_expert = n_expert, c.n_expert_used = used;
  c.expert_weights_norm = norm;
  return c;
}

std::vector<float> random_values(size_t n, uint32_t seed, float scale) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(Moe, MixtralWeightsAreTheSoftmaxOfTheTopKLogits) {
  const ModelConfig c = moe_config(8, 2, true);
  const std::vector<float> logits = random_values(5 * 8, 1, 2.f);
  std::vector<int32_t> experts(5 * 2);
  std::vector<float> weights(5 * 2);
  route_tokens(c, 5, logits.data(), experts.data(), weights.data());
  for (int t = 0; t < 5; ++t) {
    const float* l = logits.data() + t * 8;
    std::vector<float> sorted(l, l + 8);
    std::sort(sorted.rbegin(), sorted.rend());
    EXPECT_EQ(l[experts[t * 2]], sorted[0]);
    EXPECT_EQ(l[experts[t * 2 + 1]], sorted[1]);
    // Mixtral: softmax over the two kept logits.
    const float w0 = 1.f / (1.f + std::exp(sorted[1] - sorted[0]));
    EXPECT_NEAR(weights[t * 2], w0, 1e-6);
    EXPECT_NEAR(weights[t * 2 + 1], 1.f - w0, 1e-6);
  }
}

TEST(Moe, WithoutRenormalisationWeightsAreTheFullSoftmax) {
  const ModelConfig c = moe_config(4, 2, false);  // Qwen3-MoE with norm_topk_prob false
  const std::vector<float> logits = {0.5f, -1.f, 2.f, 0.f};
  std::vector<int32_t> experts(2);
  std::vector<float> weights(2);
  route_tokens(c, 1, logits.data(), experts.data(), weights.data());
  double z = 0;
  for (float l : logits) z += std::exp(l);
  EXPECT_EQ(experts[0], 2);
  EXPECT_EQ(experts[1], 0);
  EXPECT_NEAR(weights[0], std::exp(2.0) / z, 1e-6);
  EXPECT_NEAR(weights[1], std::exp(0.5) / z, 1e-6);
}

// Σ over each token's chosen experts of w · down(silu(gate x) · up x), token by token, in double.
std::vector<float> reference(const ModelConfig& c, int64_t n, const float* h, const std::vector<float>& router,
                             const std::vector<float>& gate, const std::vector<float>& up,
                             const std::vector<float>& down) {
  const int64_t E = c.n_embd, F = c.n_ff_exp, ne = c.n_expert, k = c.n_expert_used;
  std::vector<float> logits(static_cast<size_t>(n * ne));
  for (int64_t t = 0; t < n; ++t)
    for (int64_t e = 0; e < ne; ++e) {
      double s = 0;
      for (int64_t i = 0; i < E; ++i) s += double(h[t * E + i]) * router[e * E + i];
      logits[t * ne + e] = static_cast<float>(s);
    }
  std::vector<int32_t> chosen(static_cast<size_t>(n * k));
  std::vector<float> w(static_cast<size_t>(n * k));
  route_tokens(c, n, logits.data(), chosen.data(), w.data());
  std::vector<float> out(static_cast<size_t>(n * E), 0.f);
  for (int64_t t = 0; t < n; ++t)
    for (int64_t j = 0; j < k; ++j) {
      const int64_t e = chosen[t * k + j];
      std::vector<double> act(static_cast<size_t>(F));
      for (int64_t f = 0; f < F; ++f) {
        double g = 0, u = 0;
        for (int64_t i = 0; i < E; ++i) {
          g += double(h[t * E + i]) * gate[(e * F + f) * E + i];
          u += double(h[t * E + i]) * up[(e * F + f) * E + i];
        }
        act[f] = g / (1 + std::exp(-g)) * u;
      }
      for (int64_t i = 0; i < E; ++i) {
        double y = 0;
        for (int64_t f = 0; f < F; ++f) y += act[f] * down[(e * E + i) * F + f];
        out[t * E + i] += static_cast<float>(w[t * k + j] * y);
      }
    }
  return out;
}

// A stacked weight of shape {cols, rows, n_expert} holding v as F32 or as rows of `type`.
Weight stacked(const std::vector<float>& v, int64_t cols, int64_t rows, int64_t ne, GGMLType type,
               std::vector<uint8_t>& storage) {
  Weight w;
  w.shape = {cols, rows, ne};
  if (type == GGMLType::F32) {
    w.data = v;
    return w;
  }
  const size_t rb = row_bytes(type, cols);
  storage.resize(rb * static_cast<size_t>(rows * ne));
  for (int64_t r = 0; r < rows * ne; ++r) quantize_row(type, v.data() + r * cols, storage.data() + r * rb, cols);
  w.type = type;
  w.packed = storage.data();
  return w;
}

// The values w holds (dequantized), as the reference must see them.
std::vector<float> held(const Weight& w) {
  std::vector<float> v(static_cast<size_t>(w.rows() * w.cols()));
  for (int64_t r = 0; r < w.rows(); ++r) w.row_f32(r, v.data() + r * w.cols());
  return v;
}

TEST(Moe, ExpertsRunFromSlicesOfTheStackedTensors) {
  const ModelConfig c = moe_config(4, 2, true);
  const int64_t E = c.n_embd, F = c.n_ff_exp, ne = c.n_expert, n = 7;
  const std::vector<float> h = random_values(n * E, 2, 1.f);
  for (GGMLType type : {GGMLType::F32, GGMLType::Q8_0, GGMLType::Q4_0}) {
    std::vector<uint8_t> sg, su, sd, sr;
    LayerWeights L;
    L.ffn_gate_inp.shape = {E, ne};
    L.ffn_gate_inp.data = random_values(ne * E, 3, 0.3f);
    L.ffn_gate_exps = stacked(random_values(ne * F * E, 4, 0.2f), E, F, ne, type, sg);
    L.ffn_up_exps = stacked(random_values(ne * F * E, 5, 0.2f), E, F, ne, type, su);
    L.ffn_down_exps = stacked(random_values(ne * E * F, 6, 0.2f), F, E, ne, type, sd);
    std::vector<float> got(static_cast<size_t>(n * E));
    moe_ffn(c, L, n, h.data(), got.data());
    const std::vector<float> want = reference(c, n, h.data(), L.ffn_gate_inp.data, held(L.ffn_gate_exps),
                                              held(L.ffn_up_exps), held(L.ffn_down_exps));
    float scale = 0;
    for (float x : want) scale = std::max(scale, std::fabs(x));
    // F32: rounding only; block types: the kernels' rounding of the activations too.
    const float tol = (type == GGMLType::F32 ? 1e-5f : 3e-2f) * scale;
    for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << type_name(type) << " " << i;
  }
}

}  // namespace
