// config.json and generation_config.json of HF model directories.
//
// ModelConfig is filled the way llama.cpp sees a GGUF written by convert_hf_to_gguf.py:
// llama: rope dims = head_dim (or n_embd/n_head), interleaved RoPE (q/k rows are permuted);
// qwen2: NEOX RoPE, QKV biases; qwen3: NEOX RoPE, QK-norm; mistral: read as llama; gemma3: NEOX RoPE, head_dim default 256, rope_theta default 1e6
// for global layers, rope_local_base_freq (10000) for sliding layers, sliding window pattern from
// layer_types or sliding_window_pattern (default 6), final logit softcap when given; gemma2: as
// gemma3 without QK-norm and with one RoPE base, every other layer sliding, attention logit
// softcap, q scaled by 1/sqrt(query_pre_attn_scalar); phi3: NEOX RoPE over partial_rotary_factor of
// the head, its sliding_window ignored (llama.cpp disables Phi-3's), longrope refused.
#include "squish/io/hf_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "squish/arch/tensor_registry.h"
#include "squish/common/error.h"

namespace squish {

namespace {

using json = nlohmann::json;

constexpr uintmax_t kMaxConfigBytes = 64ull << 20;

json read_json_file(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw Error(path, "cannot open: " + ec.message());
  if (size > kMaxConfigBytes) throw Error(path, "file is absurdly large for a JSON config");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    json j = json::parse(ss.str());
    if (!j.is_object()) throw Error(path, "not a JSON object");
    return j;
  } catch (const json::exception& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    throw Error(path, "not valid JSON: " + what);
  }
}

// Typed look-ups that treat null as absent and name the key on type errors.
struct Reader {
  const json& j;
  const std::string& path;

  const json* get(const char* key) const {
    const auto it = j.find(key);
    return (it == j.end() || it->is_null()) ? nullptr : &*it;
  }
  std::optional<int64_t> opt_int(const char* key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (v->is_number_integer()) return v->get<int64_t>();
    if (v->is_number_float()) {  // 64.0 is an integer; 1e300 (beyond int64) and 1.5 are not
      const double d = v->get<double>();
      if (d >= -0x1p63 && d < 0x1p63 && d == std::trunc(d)) return static_cast<int64_t>(d);
    }
    throw Error(path, std::string("\"") + key + "\" is not an integer");
  }
  int64_t req_int(const char* key) const {
    const auto v = opt_int(key);
    if (!v) throw Error(path, std::string("missing \"") + key + "\"");
    return *v;
  }
  std::optional<double> opt_num(const char* key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_number()) throw Error(path, std::string("\"") + key + "\" is not a number");
    return v->get<double>();
  }
  std::optional<bool> opt_bool(const char* key) const {
    const json* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_boolean()) throw Error(path, std::string("\"") + key + "\" is not a boolean");
    return v->get<bool>();
  }
  std::string str(const char* key) const {
    const json* v = get(key);
    if (!v) return "";
    if (!v->is_string()) throw Error(path, std::string("\"") + key + "\" is not a string");
    return v->get<std::string>();
  }
  // An id that may be a single integer or a list of integers.
  std::vector<int32_t> ids(const char* key) const {
    std::vector<int32_t> out;
    const json* v = get(key);
    if (!v) return out;
    auto one = [&](const json& x) {
      if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() > INT32_MAX)
        throw Error(path, std::string("\"") + key + "\" holds a value that is not a token id");
      out.push_back(static_cast<int32_t>(x.get<int64_t>()));
    };
    if (v->is_array()) {
      for (const auto& x : *v) one(x);
    } else {
      one(*v);
    }
    return out;
  }
};

void check_range(int64_t v, int64_t lo, int64_t hi, const char* what, const std::string& path) {
  if (v < lo || v > hi)
    throw Error(path, std::string(what) + " = " + std::to_string(v) + " is out of range [" +
                          std::to_string(lo) + ", " + std::to_string(hi) + "]");
}

// The rope parameters object for global attention (transformers v5 "rope_parameters" or the older
// "rope_scaling"), or nullptr.
const json* rope_params(const Reader& r, const char* layer_type) {
  if (const json* rp = r.get("rope_parameters"); rp && rp->is_object()) {
    if (const auto it = rp->find(layer_type); it != rp->end() && it->is_object()) return &*it;
    if (rp->contains("rope_theta") || rp->contains("rope_type")) return rp;
  }
  return nullptr;
}

// llama3 RoPE scaling: its parameters (the converter's defaults) and the rope_freqs divisors.
void read_llama3_rope(const Reader& r, const json& rs, double theta, ModelConfig& c, HFConfigExtras& ex) {
  if (!arch_spec(c.arch).features.rope_freqs)
    throw Error(r.path, std::string("rope_scaling type 'llama3' is not supported for ") + arch_name(c.arch));
  auto num = [&](const char* key, double def) {
    if (const auto it = rs.find(key); it != rs.end() && it->is_number()) return it->get<double>();
    return def;
  };
  Llama3RopeScaling& s = ex.llama3_rope;
  s.factor = num("factor", 8.0);
  s.low_freq_factor = num("low_freq_factor", 1.0);
  s.high_freq_factor = num("high_freq_factor", 4.0);
  s.original_context = num("original_max_position_embeddings",
                           r.opt_num("original_max_position_embeddings").value_or(8192.0));
  if (!(s.factor > 0) || !(s.original_context > 0) || !(s.high_freq_factor > s.low_freq_factor) ||
      !(s.low_freq_factor > 0))
    throw Error(r.path, "bad llama3 rope_scaling parameters");
  c.rope_freq_factors = llama3_rope_factors(s, theta, c.head_dim_k);
}

// Mixture of experts: expert count, top-k, expert width (Mixtral's intermediate_size, Qwen3-MoE's
// moe_intermediate_size), renormalisation (Qwen3-MoE's norm_topk_prob; Mixtral always). Qwen3-MoE
// layers with a dense feed-forward (mlp_only_layers, decoder_sparse_step) are refused, as llama.cpp
// has none.
void read_moe(const Reader& r, ModelConfig& c) {
  const auto n = r.opt_int("num_local_experts");
  c.n_expert = n ? *n : r.req_int("num_experts");
  c.n_expert_used = r.req_int("num_experts_per_tok");
  check_range(c.n_expert, 1, 4096, "num_local_experts", r.path);
  check_range(c.n_expert_used, 1, c.n_expert, "num_experts_per_tok", r.path);
  c.n_ff_exp = c.n_ff;
  if (c.arch == Arch::Qwen3Moe) {
    c.n_ff_exp = r.req_int("moe_intermediate_size");
    check_range(c.n_ff_exp, 1, 1 << 22, "moe_intermediate_size", r.path);
    c.expert_weights_norm = r.opt_bool("norm_topk_prob").value_or(false);
    const json* dense = r.get("mlp_only_layers");
    if ((dense && dense->is_array() && !dense->empty()) || r.opt_int("decoder_sparse_step").value_or(1) != 1)
      throw Error(r.path, "Qwen3-MoE layers with a dense feed-forward (mlp_only_layers, decoder_sparse_step) are not supported");
  }
}

}  // namespace

ModelConfig read_hf_config(const std::string& path, HFConfigExtras* extras_out) {
  json top = read_json_file(path);
  // Multimodal checkpoints keep the language model's hyper-parameters in text_config.
  json merged = top;
  if (const auto tc = top.find("text_config"); tc != top.end() && tc->is_object())
    for (auto it = tc->begin(); it != tc->end(); ++it) merged[it.key()] = it.value();
  const Reader r{merged, path};
  const Reader rtop{top, path};

  HFConfigExtras ex;
  if (const json* a = rtop.get("architectures"); a && a->is_array() && !a->empty() &&
                                                  (*a)[0].is_string())
    ex.architecture = (*a)[0].get<std::string>();
  ex.model_type = rtop.str("model_type");
  if (ex.model_type.empty()) ex.model_type = r.str("model_type");

  ModelConfig c;
  std::string mt = ex.model_type;
  if (mt.empty())
    for (const ArchSpec* a : all_archs())
      if (ex.architecture == a->hf_architecture) mt = a->hf_model_types.front();
  if (const ArchSpec* a = find_arch_by_hf_model_type(mt)) {
    c.arch = a->arch;
  } else {
    throw Error(path, "unsupported model_type '" + (mt.empty() ? ex.architecture : mt) +
                          "' (supported: " + supported_hf_model_types() + ")");
  }
  const bool gemma3 = c.arch == Arch::Gemma3, gemma2 = c.arch == Arch::Gemma2, gemma = gemma3 || gemma2;
  const ArchFeatures& features = arch_spec(c.arch).features;

  c.n_embd = r.req_int("hidden_size");
  c.n_layer = r.req_int("num_hidden_layers");
  c.n_ff = r.req_int("intermediate_size");
  c.n_head = gemma ? r.opt_int("num_attention_heads").value_or(8) : r.req_int("num_attention_heads");
  check_range(c.n_embd, 1, 1 << 20, "hidden_size", path);
  check_range(c.n_layer, 1, 100000, "num_hidden_layers", path);
  check_range(c.n_ff, 1, 1 << 22, "intermediate_size", path);
  check_range(c.n_head, 1, 1 << 16, "num_attention_heads", path);
  c.n_head_kv = r.opt_int("num_key_value_heads").value_or(gemma ? 4 : c.n_head);
  check_range(c.n_head_kv, 1, c.n_head, "num_key_value_heads", path);
  if (c.n_head % c.n_head_kv != 0)
    throw Error(path, "num_attention_heads " + std::to_string(c.n_head) +
                          " is not a multiple of num_key_value_heads " + std::to_string(c.n_head_kv));
  if (const auto hd = r.opt_int("head_dim")) {
    c.head_dim_k = *hd;
  } else if (gemma) {
    c.head_dim_k = 256;
  } else {
    if (c.n_embd % c.n_head != 0)
      throw Error(path, "hidden_size is not a multiple of num_attention_heads");
    c.head_dim_k = c.n_embd / c.n_head;
  }
  check_range(c.head_dim_k, 2, 1 << 16, "head_dim", path);
  c.head_dim_v = c.head_dim_k;
  c.n_rot = c.head_dim_k;
  const TensorSpec* q_spec = find_layer_tensor(arch_spec(c.arch), LayerTensor::AttnQ);  // none when fused
  if (q_spec && q_spec->transform == LoadTransform::RopePermuteQ && c.head_dim_k % 2 != 0)
    throw Error(path, "head_dim must be even for RoPE");
  c.rope_neox = arch_spec(c.arch).features.rope_neox;
  if (features.moe) read_moe(r, c);

  ex.vocab_size = r.opt_int("vocab_size").value_or(gemma3 ? 262208 : gemma2 ? 256000 : 0);
  if (ex.vocab_size == 0) throw Error(path, "missing \"vocab_size\"");
  check_range(ex.vocab_size, 1, 1 << 24, "vocab_size", path);
  c.n_vocab = ex.vocab_size;
  c.n_ctx_train = r.opt_int("max_position_embeddings")
                      .value_or(gemma3 ? 131072 : gemma2 ? 8192 : c.arch == Arch::Qwen2 ? 32768 : 2048);
  c.rms_eps = static_cast<float>(r.opt_num("rms_norm_eps").value_or(1e-6));

  // RoPE bases: global layers, then gemma3's sliding-window layers.
  const json* rp_full = rope_params(r, "full_attention");
  double theta = gemma3 ? 1e6 : 1e4;
  if (rp_full && rp_full->contains("rope_theta") && (*rp_full)["rope_theta"].is_number())
    theta = (*rp_full)["rope_theta"].get<double>();
  else if (const auto t = r.opt_num("rope_theta"))
    theta = *t;
  c.rope_freq_base = static_cast<float>(theta);
  c.rope_freq_base_local = c.rope_freq_base;
  if (gemma3) {
    double local = r.opt_num("rope_local_base_freq").value_or(10000.0);
    if (const json* rp_swa = rope_params(r, "sliding_attention");
        rp_swa && rp_swa != rp_full && rp_swa->contains("rope_theta") &&
        (*rp_swa)["rope_theta"].is_number())
      local = (*rp_swa)["rope_theta"].get<double>();
    c.rope_freq_base_local = static_cast<float>(local);
  }
  // RoPE scaling: the converter passes linear scaling on as rope_freq_scale = 1/factor.
  const json* rs = r.get("rope_scaling");
  if (!rs || !rs->is_object()) rs = rp_full;
  if (rs && rs->is_object()) {
    std::string type;
    if (rs->contains("rope_type") && (*rs)["rope_type"].is_string()) type = (*rs)["rope_type"];
    else if (rs->contains("type") && (*rs)["type"].is_string()) type = (*rs)["type"];
    if (type != "default") ex.rope_scaling_type = type;
    if (rs->contains("factor") && (*rs)["factor"].is_number())
      ex.rope_scaling_factor = (*rs)["factor"].get<float>();
    if (type == "linear" && ex.rope_scaling_factor > 0) c.rope_freq_scale = 1.f / ex.rope_scaling_factor;
    if (type == "llama3") read_llama3_rope(r, *rs, theta, c, ex);
    if (type == "longrope" || type == "su")  // rope_factors_long / short and an attention factor
      throw Error(path, "rope_scaling type '" + type + "' (Phi-3 long context) is not supported");
  }
  // Partial rotary embeddings (phi3's converter: rope dims = int(factor * n_embd) / n_head).
  std::optional<double> rotary = r.opt_num("partial_rotary_factor");
  if (rp_full && rp_full->contains("partial_rotary_factor") && (*rp_full)["partial_rotary_factor"].is_number())
    rotary = (*rp_full)["partial_rotary_factor"].get<double>();
  if (rotary) {
    if (!(*rotary > 0.0 && *rotary <= 1.0)) throw Error(path, "partial_rotary_factor must be in (0, 1]");
    c.n_rot = static_cast<int64_t>(*rotary * static_cast<double>(c.n_embd)) / c.n_head;
    if (c.n_rot % 2 != 0 || c.n_rot > c.head_dim_k)
      throw Error(path, "partial_rotary_factor gives " + std::to_string(c.n_rot) + " rotary dims for head_dim " +
                            std::to_string(c.head_dim_k));
  }

  // Sliding-window attention (gemma2, gemma3; llama.cpp ignores Qwen2's use_sliding_window).
  c.layer_is_swa.assign(static_cast<size_t>(c.n_layer), false);
  if (features.sliding_window) {
    ex.sliding_window_pattern = r.opt_int("sliding_window_pattern").value_or(0);
    const json* lt = r.get("layer_types");
    const int64_t pattern = ex.sliding_window_pattern ? ex.sliding_window_pattern : features.swa_pattern;
    if (pattern != 1) {
      c.sliding_window = r.opt_int("sliding_window").value_or(4096);
      check_range(c.sliding_window, 1, INT32_MAX, "sliding_window", path);
      if (lt && lt->is_array()) {
        if (static_cast<int64_t>(lt->size()) != c.n_layer)
          throw Error(path, "layer_types has " + std::to_string(lt->size()) + " entries for " +
                                std::to_string(c.n_layer) + " layers");
        for (size_t i = 0; i < lt->size(); ++i) {
          if (!(*lt)[i].is_string()) throw Error(path, "layer_types holds a non-string");
          c.layer_is_swa[i] = (*lt)[i].get<std::string>() == "sliding_attention";
        }
      } else {
        check_range(pattern, 1, 1 << 20, "sliding_window_pattern", path);
        for (int64_t i = 0; i < c.n_layer; ++i) c.layer_is_swa[static_cast<size_t>(i)] = (i + 1) % pattern != 0;
      }
    }
  }
  if (gemma) {
    ex.query_pre_attn_scalar = static_cast<float>(r.opt_num("query_pre_attn_scalar").value_or(256.0));
    if (!(ex.query_pre_attn_scalar > 0)) throw Error(path, "query_pre_attn_scalar must be positive");
    if (const auto cap = r.opt_num("attn_logit_softcapping")) {
      if (!features.attn_logit_softcap)
        throw Error(path, std::string(arch_name(c.arch)) + " does not use attn_logit_softcapping");
      c.attn_logit_softcap = static_cast<float>(*cap);
    }
    c.final_logit_softcap = static_cast<float>(r.opt_num("final_logit_softcapping").value_or(0.0));
    // gemma2: q scaled by 1/sqrt(query_pre_attn_scalar), as transformers does. gemma3: llama.cpp's
    // loader, 1/sqrt(head_dim) except the 27B: 1/sqrt(n_embd/n_head) (which is what
    // query_pre_attn_scalar says for the released models).
    if (gemma2)
      c.attention_scale = 1.f / std::sqrt(ex.query_pre_attn_scalar);
    else
      c.attention_scale = c.n_layer == features.wide_scale_layers
                              ? 1.f / std::sqrt(static_cast<float>(c.n_embd / c.n_head))
                              : 1.f / std::sqrt(static_cast<float>(c.head_dim_k));
  }

  // Tied output: transformers' default is true for gemma2/3, false for llama/qwen2; the top-level
  // flag of multimodal configs applies to the text model.
  std::optional<bool> tie = rtop.opt_bool("tie_word_embeddings");
  if (!tie) tie = r.opt_bool("tie_word_embeddings");
  ex.tie_word_embeddings = tie.value_or(gemma);
  c.tied_embeddings = ex.tie_word_embeddings;

  ex.torch_dtype = r.str("torch_dtype");
  if (ex.torch_dtype.empty()) ex.torch_dtype = r.str("dtype");
  ex.bos_token_ids = rtop.ids("bos_token_id");
  if (ex.bos_token_ids.empty()) ex.bos_token_ids = r.ids("bos_token_id");
  ex.eos_token_ids = rtop.ids("eos_token_id");
  if (ex.eos_token_ids.empty()) ex.eos_token_ids = r.ids("eos_token_id");
  if (extras_out) *extras_out = std::move(ex);
  return c;
}

HFGenerationConfig read_hf_generation_config(const std::string& path) {
  const json j = read_json_file(path);
  const Reader r{j, path};
  HFGenerationConfig g;
  g.eos_token_ids = r.ids("eos_token_id");
  if (const auto v = r.ids("bos_token_id"); !v.empty()) g.bos_token_id = v[0];
  if (const auto v = r.ids("pad_token_id"); !v.empty()) g.pad_token_id = v[0];
  g.do_sample = r.opt_bool("do_sample");
  if (const auto v = r.opt_num("temperature")) g.temperature = static_cast<float>(*v);
  if (const auto v = r.opt_int("top_k")) g.top_k = static_cast<int32_t>(std::clamp<int64_t>(*v, 0, INT32_MAX));
  if (const auto v = r.opt_num("top_p")) g.top_p = static_cast<float>(*v);
  if (const auto v = r.opt_num("min_p")) g.min_p = static_cast<float>(*v);
  if (const auto v = r.opt_num("repetition_penalty")) g.repetition_penalty = static_cast<float>(*v);
  g.max_new_tokens = r.opt_int("max_new_tokens");
  g.max_length = r.opt_int("max_length");
  return g;
}

}  // namespace squish
