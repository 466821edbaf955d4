// GGUF -> HF tensor names (see tensor_names.h).
#include "squish/arch/tensor_names.h"

#include <utility>

#include "squish/common/error.h"

namespace squish {

namespace {

bool starts_with(const std::string& s, const std::string& p) { return s.rfind(p, 0) == 0; }

}  // namespace

std::string hf_tensor_name(const std::string& arch, const std::string& g) {
  if (g == "token_embd.weight") return "model.embed_tokens.weight";
  if (g == "output_norm.weight") return "model.norm.weight";
  if (g == "output.weight") return "lm_head.weight";
  if (starts_with(g, "blk.")) {
    const size_t dot = g.find('.', 4);
    if (dot != std::string::npos) {
      const std::string layer = g.substr(4, dot - 4), s = g.substr(dot + 1);
      static const std::pair<const char*, const char*> kCommon[] = {
          {"attn_norm.weight", "input_layernorm.weight"},
          {"attn_q.weight", "self_attn.q_proj.weight"},
          {"attn_k.weight", "self_attn.k_proj.weight"},
          {"attn_v.weight", "self_attn.v_proj.weight"},
          {"attn_output.weight", "self_attn.o_proj.weight"},
          {"attn_q.bias", "self_attn.q_proj.bias"},
          {"attn_k.bias", "self_attn.k_proj.bias"},
          {"attn_v.bias", "self_attn.v_proj.bias"},
          {"attn_output.bias", "self_attn.o_proj.bias"},
          {"ffn_gate.weight", "mlp.gate_proj.weight"},
          {"ffn_up.weight", "mlp.up_proj.weight"},
          {"ffn_down.weight", "mlp.down_proj.weight"},
      };
      std::string hf;
      for (const auto& [gg, h] : kCommon)
        if (s == gg) hf = h;
      if (arch == "gemma3") {
        if (s == "post_attention_norm.weight") hf = "post_attention_layernorm.weight";
        if (s == "ffn_norm.weight") hf = "pre_feedforward_layernorm.weight";
        if (s == "post_ffw_norm.weight") hf = "post_feedforward_layernorm.weight";
        if (s == "attn_q_norm.weight") hf = "self_attn.q_norm.weight";
        if (s == "attn_k_norm.weight") hf = "self_attn.k_norm.weight";
      } else if (s == "ffn_norm.weight") {
        hf = "post_attention_layernorm.weight";
      }
      if (!hf.empty()) return "model.layers." + layer + "." + hf;
    }
  }
  throw Error("", "tensor '" + g + "' has no HF name for architecture " + arch);
}

}  // namespace squish
