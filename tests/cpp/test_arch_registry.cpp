// The tensor registry: names map both ways, shapes follow the config, transforms and features are
// those llama.cpp's converter and loader apply per architecture.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "squish/arch/rope_scaling.h"
#include "squish/arch/tensor_names.h"
#include "squish/arch/tensor_registry.h"
#include "squish/common/error.h"

namespace {

using namespace squish;

TEST(ArchRegistry, EveryTensorMapsToHfAndBackUniquely) {
  for (const ArchSpec* a : all_archs()) {
    std::set<std::string> gguf, hf;
    for (const LayerTensorSpec& t : a->layer_tensors) {
      EXPECT_TRUE(gguf.insert(t.spec.gguf).second) << a->name << " " << t.spec.gguf;
      EXPECT_TRUE(hf.insert(t.spec.hf).second) << a->name << " " << t.spec.hf;
      EXPECT_EQ(layer_tensor_by_hf(*a, t.spec.hf), &t.spec);
      EXPECT_EQ(layer_tensor_by_gguf(*a, t.spec.gguf), &t.spec);
      const std::string name = layer_tensor_name(7, t.spec);
      if (find_arch(a->name) == a) {  // mixtral's GGUF name is llama's
        EXPECT_EQ(hf_tensor_name(a->name, name), "model.layers.7." + std::string(t.spec.hf));
      }
    }
    for (const GlobalTensorSpec& g : a->global_tensors) {
      EXPECT_EQ(global_tensor_by_hf(*a, g.spec.hf), &g.spec);
      EXPECT_EQ(hf_tensor_name(a->name, g.spec.gguf), g.spec.hf);
    }
    EXPECT_EQ(find_arch(a->name), a->arch == Arch::Mixtral ? &arch_spec(Arch::Llama) : a);
    EXPECT_EQ(&arch_spec(a->arch), a);
    for (const char* mt : a->hf_model_types) EXPECT_EQ(find_arch_by_hf_model_type(mt), a);
  }
  EXPECT_EQ(find_arch("falcon"), nullptr);
  EXPECT_THROW(hf_tensor_name("gemma3", "blk.0.attn_q.bias"), Error);
  EXPECT_THROW(hf_tensor_name("llama", "blk.0.nonsense.weight"), Error);
}

TEST(ArchRegistry, ExpertTensorsStackOneHfTensorPerExpert) {
  const ArchSpec& q = arch_spec(Arch::Qwen3Moe);
  int64_t e = -1;
  const TensorSpec* up = layer_tensor_by_hf(q, "mlp.experts.13.up_proj.weight", &e);
  ASSERT_NE(up, nullptr);
  EXPECT_EQ(std::string(up->gguf), "ffn_up_exps.weight");
  EXPECT_EQ(e, 13);
  EXPECT_EQ(expert_hf_name(*up, 13), "mlp.experts.13.up_proj.weight");
  EXPECT_EQ(layer_tensor_by_hf(q, "mlp.experts.x.up_proj.weight", &e), nullptr);
  EXPECT_EQ(layer_tensor_by_hf(q, "mlp.experts.13.up_proj.weight"), nullptr);  // without the expert out-parameter
  EXPECT_EQ(layer_tensor_by_hf(q, "mlp.gate.weight", &e), find_layer_tensor(q, LayerTensor::FfnGateInp));
  EXPECT_EQ(e, -1);
  const TensorSpec* w2 = layer_tensor_by_hf(arch_spec(Arch::Mixtral), "block_sparse_moe.experts.0.w2.weight", &e);
  ASSERT_NE(w2, nullptr);
  EXPECT_EQ(std::string(w2->gguf), "ffn_down_exps.weight");
  ModelConfig c;
  c.n_embd = 64, c.n_ff = 96, c.n_ff_exp = 32, c.n_expert = 4;
  EXPECT_EQ(tensor_shape(*w2, c), (std::vector<int64_t>{32, 64, 4}));
  EXPECT_EQ(tensor_shape(*find_layer_tensor(q, LayerTensor::FfnGateInp), c), (std::vector<int64_t>{64, 4}));
  EXPECT_TRUE(arch_spec(Arch::Mixtral).features.moe && q.features.moe && !arch_spec(Arch::Llama).features.moe);
  EXPECT_EQ(supported_arch_names().find("llama"), supported_arch_names().rfind("llama"));  // listed once
}

TEST(ArchRegistry, NormNamesDifferPerArchitecture) {
  // The norm before the feed-forward block: llama/qwen2 call it post_attention_layernorm, gemma3
  // pre_feedforward_layernorm (its post_attention_layernorm is the post-attention norm).
  EXPECT_EQ(hf_tensor_name("llama", "blk.3.ffn_norm.weight"), "model.layers.3.post_attention_layernorm.weight");
  EXPECT_EQ(hf_tensor_name("gemma3", "blk.3.ffn_norm.weight"), "model.layers.3.pre_feedforward_layernorm.weight");
  EXPECT_EQ(hf_tensor_name("gemma3", "blk.3.post_attention_norm.weight"),
            "model.layers.3.post_attention_layernorm.weight");
  EXPECT_EQ(layer_tensor_by_gguf(arch_spec(Arch::Llama), "post_attention_norm.weight"), nullptr);
}

TEST(ArchRegistry, ShapesFollowTheConfig) {
  ModelConfig c;
  c.n_embd = 64, c.n_ff = 96, c.n_vocab = 50, c.n_head = 4, c.n_head_kv = 2, c.head_dim_k = 16,
  c.head_dim_v = 8;
  const ArchSpec& g = arch_spec(Arch::Gemma3);
  EXPECT_EQ(tensor_shape(*find_layer_tensor(g, LayerTensor::AttnQ), c), (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(tensor_shape(*find_layer_tensor(g, LayerTensor::AttnK), c), (std::vector<int64_t>{64, 32}));
  EXPECT_EQ(tensor_shape(*find_layer_tensor(g, LayerTensor::AttnV), c), (std::vector<int64_t>{64, 16}));
  EXPECT_EQ(tensor_shape(*find_layer_tensor(g, LayerTensor::AttnOutput), c), (std::vector<int64_t>{32, 64}));
  EXPECT_EQ(tensor_shape(*find_layer_tensor(g, LayerTensor::AttnQNorm), c), (std::vector<int64_t>{16}));
  EXPECT_EQ(tensor_shape(*find_layer_tensor(g, LayerTensor::FfnDown), c), (std::vector<int64_t>{96, 64}));
  EXPECT_EQ(tensor_shape(*global_tensor_by_gguf(g, "token_embd.weight"), c, 40), (std::vector<int64_t>{64, 40}));
}

TEST(ArchRegistry, TransformsAndFeaturesPerArchitecture) {
  const ArchSpec &l = arch_spec(Arch::Llama), &q = arch_spec(Arch::Qwen2), &g = arch_spec(Arch::Gemma3);
  EXPECT_EQ(tensor_transform(l, "blk.0.attn_q.weight"), LoadTransform::RopePermuteQ);
  EXPECT_EQ(tensor_transform(l, "blk.0.attn_k.bias"), LoadTransform::RopePermuteK);
  EXPECT_EQ(tensor_transform(l, "blk.0.attn_v.weight"), LoadTransform::None);
  EXPECT_EQ(tensor_transform(q, "blk.0.attn_q.weight"), LoadTransform::None);
  EXPECT_EQ(tensor_transform(g, "output_norm.weight"), LoadTransform::NormPlusOne);
  EXPECT_EQ(tensor_transform(g, "blk.1.attn_k_norm.weight"), LoadTransform::NormPlusOne);
  EXPECT_EQ(tensor_transform(l, "output_norm.weight"), LoadTransform::None);
  EXPECT_TRUE(find_layer_tensor(q, LayerTensor::AttnQBias)->required);
  EXPECT_FALSE(find_layer_tensor(l, LayerTensor::AttnQBias)->required);
  EXPECT_EQ(find_layer_tensor(g, LayerTensor::AttnQBias), nullptr);
  EXPECT_TRUE(g.features.qk_norm && g.features.post_norms && g.features.gelu && g.features.embed_scale);
  EXPECT_FALSE(l.features.qk_norm || l.features.post_norms || l.features.rope_neox);
  EXPECT_TRUE(q.features.rope_neox && q.features.attn_bias);
  EXPECT_EQ(find_layer_tensor(l, LayerTensor::FfnUp)->group, InputGroup::FfnInput);
  EXPECT_EQ(find_layer_tensor(l, LayerTensor::AttnOutput)->group, InputGroup::AttnOutput);
}

TEST(ArchRegistry, Gemma2IsGemma3WithoutQkNormWithAttentionSoftcap) {
  const ArchSpec &g2 = arch_spec(Arch::Gemma2), &g3 = arch_spec(Arch::Gemma3);
  EXPECT_EQ(find_layer_tensor(g2, LayerTensor::AttnQNorm), nullptr);
  EXPECT_EQ(tensor_transform(g2, "blk.0.post_ffw_norm.weight"), LoadTransform::NormPlusOne);
  EXPECT_EQ(hf_tensor_name("gemma2", "blk.2.ffn_norm.weight"), "model.layers.2.pre_feedforward_layernorm.weight");
  EXPECT_TRUE(g2.features.attn_logit_softcap && g2.features.post_norms && g2.features.sliding_window);
  EXPECT_FALSE(g3.features.attn_logit_softcap || g2.features.qk_norm);
  EXPECT_EQ(g2.features.swa_pattern, 2);
  EXPECT_EQ(g3.features.swa_pattern, 6);
}

TEST(RopeScaling, Llama3FactorsFollowTheBands) {
  // Llama 3.1 8B: head_dim 128, base 500000, factor 8, 1 / 4, original context 8192.
  const Llama3RopeScaling s{8.0, 1.0, 4.0, 8192.0};
  const std::vector<float> f = llama3_rope_factors(s, 500000.0, 128);
  ASSERT_EQ(f.size(), 64u);
  EXPECT_EQ(f.front(), 1.f);   // wavelength 2π: unscaled
  EXPECT_EQ(f.back(), 8.f);    // wavelength ~ 2.6e6 > 8192: scaled by factor
  int band = 0;
  for (size_t i = 1; i < f.size(); ++i) {
    EXPECT_GE(f[i], f[i - 1]);
    band += f[i] > 1.f && f[i] < 8.f;
  }
  EXPECT_GT(band, 2);
}

TEST(RopeScaling, FitRecoversParametersThatGiveTheSameFactors) {
  for (const Llama3RopeScaling& s : {Llama3RopeScaling{8.0, 1.0, 4.0, 8192.0}, Llama3RopeScaling{32.0, 1.0, 4.0, 8192.0},
                                     Llama3RopeScaling{8.0, 1.0, 4.0, 64.0}}) {
    for (const auto& [base, dim] : {std::pair{500000.0, int64_t{128}}, std::pair{500000.0, int64_t{64}},
                                    std::pair{10000.0, int64_t{64}}}) {
      const std::vector<float> f = llama3_rope_factors(s, base, dim);
      const auto fit = fit_llama3_rope_scaling(f, base, dim);
      ASSERT_TRUE(fit.has_value()) << base << " " << dim;
      const std::vector<float> g = llama3_rope_factors(*fit, base, dim);
      for (size_t i = 0; i < f.size(); ++i) EXPECT_NEAR(g[i], f[i], 1e-5 * f[i]) << i;
    }
  }
  EXPECT_FALSE(fit_llama3_rope_scaling(std::vector<float>(32, 1.f), 10000.0, 64).has_value());
  std::vector<float> odd(32, 1.f);
  odd[3] = 5.f, odd[20] = 2.f;  // not monotone in wavelength: no llama3 scaling
  EXPECT_FALSE(fit_llama3_rope_scaling(odd, 10000.0, 64).has_value());
}

}  // namespace
