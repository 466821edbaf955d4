// The k-quant mix rules. Written from a reading of llama.cpp's llama_tensor_get_type_impl and
// tensor_type_fallback; only the file types squish produces are handled.
#include "squish/quant/type_mix.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "squish/common/error.h"

namespace squish {
namespace {

enum class Category {
  TokenEmbd, AttnQ, AttnV, AttnK, AttnQKV, AttnKVB, AttnOutput, FfnUp, FfnGate, FfnDown, Output,
  Other
};

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

Category categorize(const std::string& name) {
  if (name == "output.weight") return Category::Output;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::TokenEmbd;
  if (contains(name, "attn_qkv.weight")) return Category::AttnQKV;
  if (contains(name, "attn_kv_b.weight")) return Category::AttnKVB;
  if (contains(name, "attn_v.weight")) return Category::AttnV;
  if (contains(name, "attn_k.weight")) return Category::AttnK;
  if (contains(name, "attn_q.weight")) return Category::AttnQ;
  if (contains(name, "attn_output.weight")) return Category::AttnOutput;
  if (contains(name, "ffn_up")) return Category::FfnUp;
  if (contains(name, "ffn_gate")) return Category::FfnGate;
  if (contains(name, "ffn_down")) return Category::FfnDown;
  return Category::Other;
}

bool is_attn_v_like(Category c) {
  return c == Category::AttnV || c == Category::AttnQKV || c == Category::AttnKVB;
}

// llama.cpp's "use more bits" layer pattern: the first and last eighth, and every third between.
bool use_more_bits(int64_t i, int64_t n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

int block_index(const std::string& name) {
  int layer = -1;
  if (std::sscanf(name.c_str(), "blk.%d.", &layer) != 1) layer = -1;
  return layer;
}

size_t n_dims(const std::vector<int64_t>& shape) {
  size_t n = shape.size();
  while (n > 1 && shape[n - 1] == 1) --n;
  return n;
}

// The non-linear 4-bit mixes, which share their special cases in llama.cpp.
bool is_iq4(FileType ft) { return ft == FileType::IQ4_NL || ft == FileType::IQ4_XS; }

bool is_quantized_type(GGMLType t) { return type_traits(t).quantized; }

// Mutable counters while walking the tensors, as llama.cpp's quantize_state_impl.
struct MixState {
  int64_t n_attention_wv = 0, i_attention_wv = 0;
  int64_t n_ffn_down = 0, i_ffn_down = 0;
  int64_t n_ffn_gate = 0, i_ffn_gate = 0;
  int64_t n_ffn_up = 0, i_ffn_up = 0;
  bool tied_embeddings = true;
};

// (layer index, layer count) for counted categories; MoE models read the layer from the name.
std::pair<int64_t, int64_t> layer_of(const MixModelInfo& m, int64_t counter, int64_t count,
                                     const std::string& name) {
  if (m.n_expert > 1) {
    const int layer = block_index(name);
    if (layer < 0 || layer >= m.n_layer)
      throw Error("", "cannot determine the layer of tensor '" + name + "'");
    return {layer, count};
  }
  return {counter, count};
}

// The rule-based type for one quantizable tensor (before the block-size fallback).
GGMLType rule_type(const MixModelInfo& m, MixState& st, const MixTensor& t, Category cat,
                   FileType ft, GGMLType base, bool has_imatrix) {
  const bool falcon = m.arch == "falcon";
  const int64_t n_gqa = m.n_head_kv > 0 ? m.n_head / m.n_head_kv : 1;
  GGMLType out = base;
  if (cat == Category::Output || (st.tied_embeddings && cat == Category::TokenEmbd)) {
    // The output projection (or the embedding table that doubles as it) gets more bits.
    if (falcon || t.shape[0] % type_traits(base).block_size != 0) out = GGMLType::Q8_0;
    else if (base != GGMLType::Q8_0) out = GGMLType::Q6_K;
  } else if (cat == Category::TokenEmbd) {
    // Only the ternary mixes give the embedding table more bits; others keep the base type.
    if (ft == FileType::TQ1_0 || ft == FileType::TQ2_0) out = GGMLType::Q4_K;
  } else if (is_attn_v_like(cat)) {
    if (ft == FileType::Q2_K) out = n_gqa >= 4 ? GGMLType::Q4_K : GGMLType::Q3_K;
    else if (ft == FileType::Q3_K_M) out = st.i_attention_wv < 2 ? GGMLType::Q5_K : GGMLType::Q4_K;
    else if (ft == FileType::Q3_K_L) out = GGMLType::Q5_K;
    else if (is_iq4(ft) && n_gqa >= 4) out = GGMLType::Q5_K;
    else if ((ft == FileType::Q4_K_M || ft == FileType::Q5_K_M) &&
             use_more_bits(st.i_attention_wv, st.n_attention_wv))
      out = GGMLType::Q6_K;
    else if (ft == FileType::Q4_K_S && st.i_attention_wv < 4) out = GGMLType::Q5_K;
    if (m.is_70b && (out == GGMLType::Q3_K || out == GGMLType::Q4_K)) out = GGMLType::Q5_K;
    if (m.n_expert == 8) out = GGMLType::Q8_0;
    ++st.i_attention_wv;
  } else if (cat == Category::AttnK) {
    if (m.n_expert == 8) out = GGMLType::Q8_0;
  } else if (cat == Category::FfnDown) {
    const auto [i, n] = layer_of(m, st.i_ffn_down, st.n_ffn_down, t.name);
    if (ft == FileType::Q2_K) {
      out = GGMLType::Q3_K;
    } else if (ft == FileType::Q3_K_M) {
      out = i < n / 16 ? GGMLType::Q5_K
            : (!falcon || use_more_bits(i, n)) ? GGMLType::Q4_K
                                               : GGMLType::Q3_K;
    } else if (ft == FileType::Q3_K_L) {
      out = falcon ? GGMLType::Q4_K : GGMLType::Q5_K;
    } else if (ft == FileType::Q4_K_M) {
      if (falcon)
        out = i < n / 16 ? GGMLType::Q6_K : use_more_bits(i, n) ? GGMLType::Q5_K : GGMLType::Q4_K;
      else if (use_more_bits(i, n))
        out = GGMLType::Q6_K;
    } else if (i < n / 8 && is_iq4(ft) && !has_imatrix) {
      out = GGMLType::Q5_K;
    } else if (ft == FileType::Q5_K_M && use_more_bits(i, n)) {
      out = GGMLType::Q6_K;
    } else if (ft == FileType::Q4_K_S && !falcon && i < n / 8) {
      out = GGMLType::Q5_K;
    } else if ((ft == FileType::Q4_0 || ft == FileType::Q5_0) && has_imatrix && i < n / 8) {
      out = ft == FileType::Q4_0 ? GGMLType::Q4_1 : GGMLType::Q5_1;
    }
    ++st.i_ffn_down;
  } else if (cat == Category::AttnOutput) {
    if (!falcon) {
      if (m.n_expert == 8) {
        if (ft == FileType::Q2_K || ft == FileType::Q3_K_S || ft == FileType::Q3_K_M ||
            ft == FileType::Q4_K_S || ft == FileType::Q4_K_M || is_iq4(ft))
          out = GGMLType::Q5_K;
      } else {
        if (ft == FileType::Q2_K) out = GGMLType::Q3_K;
        else if (ft == FileType::Q3_K_M) out = GGMLType::Q4_K;
        else if (ft == FileType::Q3_K_L) out = GGMLType::Q5_K;
      }
    } else if (ft == FileType::Q3_K_L) {
      out = GGMLType::Q4_K;
    }
  } else if (cat == Category::AttnQKV) {
    if (ft == FileType::Q3_K_M || ft == FileType::Q3_K_L) out = GGMLType::Q4_K;
    else if (ft == FileType::Q4_K_M) out = GGMLType::Q5_K;
    else if (ft == FileType::Q5_K_M) out = GGMLType::Q6_K;
  } else if (cat == Category::FfnGate) {
    layer_of(m, st.i_ffn_gate, st.n_ffn_gate, t.name);
    ++st.i_ffn_gate;
  } else if (cat == Category::FfnUp) {
    layer_of(m, st.i_ffn_up, st.n_ffn_up, t.name);
    ++st.i_ffn_up;
  }
  return out;
}

// Replaces a type whose block does not fit the row length by llama.cpp's fallback.
void apply_fallback(const MixTensor& t, MixChoice& c) {
  const int64_t ncols = t.shape[0];
  const GGMLType fb = block_fallback(c.type, ncols);
  if (fb == c.type) return;
  c.fell_back = true;
  c.warning = t.name + ": row length " + std::to_string(ncols) + " is not a multiple of " +
              std::to_string(type_traits(c.type).block_size) + " (required by " +
              type_name(c.type) + "); falling back to " + type_name(fb);
  c.type = fb;
}

}  // namespace

GGMLType block_fallback(GGMLType t, int64_t ncols) {
  if (ncols % type_traits(t).block_size == 0) return t;
  GGMLType fb;
  switch (t) {
    case GGMLType::Q2_K: case GGMLType::Q3_K: case GGMLType::TQ1_0: case GGMLType::TQ2_0:
      fb = GGMLType::Q4_0;
      break;
    case GGMLType::Q4_K: fb = GGMLType::Q5_0; break;
    case GGMLType::Q5_K: fb = GGMLType::Q5_1; break;
    case GGMLType::Q6_K: fb = GGMLType::Q8_0; break;
    case GGMLType::IQ4_XS: fb = GGMLType::IQ4_NL; break;
    default: fb = GGMLType::F16; break;
  }
  return ncols % type_traits(fb).block_size == 0 ? fb : GGMLType::F16;
}

bool tensor_is_quantizable(const std::string& name, size_t dims, bool leave_output_tensor) {
  if (dims < 2) return false;
  if (name.size() < 6 || name.compare(name.size() - 6, 6, "weight") != 0) return false;
  if (leave_output_tensor && name == "output.weight") return false;
  if (name == "position_embd.weight" || name == "token_types.weight") return false;
  static const char* const kNever[] = {
      "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
      "per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
      "indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
      "time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight",
      "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
      "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
      "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd",
      "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook",
      "mm.a.code_embd"};
  for (const char* part : kNever)
    if (contains(name, part)) return false;
  return true;
}

std::vector<size_t> llama_tensor_order(const std::vector<MixTensor>& tensors) {
  std::vector<size_t> idx(tensors.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    const int la = block_index(tensors[a].name), lb = block_index(tensors[b].name);
    if (la != lb) return la < lb;
    return tensors[a].name < tensors[b].name;
  });
  return idx;
}

std::vector<MixChoice> choose_tensor_types(const MixModelInfo& model,
                                           const std::vector<MixTensor>& tensors,
                                           const MixOptions& options) {
  MixState st;
  for (const auto& t : tensors) {
    const Category c = categorize(t.name);
    if (is_attn_v_like(c)) ++st.n_attention_wv;
    if (c == Category::Output) st.tied_embeddings = false;
  }
  st.n_ffn_down = st.n_ffn_gate = st.n_ffn_up = model.n_layer;

  const GGMLType base = default_tensor_type(options.ftype);
  std::vector<MixChoice> out(tensors.size());
  for (size_t i : llama_tensor_order(tensors)) {
    const MixTensor& t = tensors[i];
    MixChoice& c = out[i];
    c.type = t.type;
    c.quantizable = tensor_is_quantizable(t.name, n_dims(t.shape), options.leave_output_tensor);
    if (!c.quantizable) continue;
    c.type = base;
    if (!is_quantized_type(base)) continue;  // F32 / F16 / BF16: every quantizable tensor
    if (!options.pure)
      c.type = rule_type(model, st, t, categorize(t.name), options.ftype, base, options.has_imatrix);
    apply_fallback(t, c);
  }
  return out;
}

}  // namespace squish
