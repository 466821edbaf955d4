#include "squish/plan/model_shape.h"

#include "squish/common/shape.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "squish/common/error.h"
#include "squish/io/gguf_reader.h"

namespace squish::plan {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

struct Builtin {
  const char* name;
  const char* source;
  const char* arch;
  int64_t hidden, ff, layers, heads, kv_heads, head_dim, vocab, ctx;
  bool tied, qkv_bias, qk_norm;
  int64_t sliding_window, n_swa_layers;
};

// Numbers copied from each model's published config.json (the `source` repository).
const Builtin kBuiltins[] = {
    {"llama-2-7b", "meta-llama/Llama-2-7b-hf config.json", "llama", 4096, 11008, 32, 32, 32, 128, 32000, 4096, false, false, false, 0, 0},
    {"llama-2-13b", "meta-llama/Llama-2-13b-hf config.json", "llama", 5120, 13824, 40, 40, 40, 128, 32000, 4096, false, false, false, 0, 0},
    {"llama-2-70b", "meta-llama/Llama-2-70b-hf config.json", "llama", 8192, 28672, 80, 64, 8, 128, 32000, 4096, false, false, false, 0, 0},
    {"llama-3-8b", "meta-llama/Meta-Llama-3-8B config.json", "llama", 4096, 14336, 32, 32, 8, 128, 128256, 8192, false, false, false, 0, 0},
    {"llama-3-70b", "meta-llama/Meta-Llama-3-70B config.json", "llama", 8192, 28672, 80, 64, 8, 128, 128256, 8192, false, false, false, 0, 0},
    {"llama-3.1-405b", "meta-llama/Llama-3.1-405B config.json", "llama", 16384, 53248, 126, 128, 8, 128, 128256, 131072, false, false, false, 0, 0},
    {"mistral-7b", "mistralai/Mistral-7B-v0.1 config.json", "llama", 4096, 14336, 32, 32, 8, 128, 32000, 32768, false, false, false, 0, 0},
    {"qwen2-7b", "Qwen/Qwen2-7B config.json", "qwen2", 3584, 18944, 28, 28, 4, 128, 152064, 32768, false, true, false, 0, 0},
    {"gemma-3-270m", "google/gemma-3-270m config.json", "gemma3", 640, 2048, 18, 4, 1, 256, 262144, 32768, true, false, true, 512, 15},
    {"smollm2-135m", "HuggingFaceTB/SmolLM2-135M config.json", "llama", 576, 1536, 30, 9, 3, 64, 49152, 8192, true, false, false, 0, 0},
};

TensorRole role_of(const std::string& name, size_t n_dims) {
  if (name == "token_embd.weight") return TensorRole::Embedding;
  if (name == "output.weight") return TensorRole::Output;
  if (n_dims >= 2 && name.rfind("blk.", 0) == 0 && name.size() > 7 &&
      name.compare(name.size() - 7, 7, ".weight") == 0 &&
      (name.find(".attn_") != std::string::npos || name.find(".ffn_") != std::string::npos) &&
      name.find("norm") == std::string::npos)
    return TensorRole::Linear;
  return TensorRole::Other;
}

void check_range(const std::string& file, const char* what, int64_t v, int64_t lo, int64_t hi) {
  if (v < lo || v > hi)
    throw Error(file, fmt::format("{} = {} is out of range [{}, {}]", what, v, lo, hi));
}

void validate(const ModelShape& m, const std::string& file) {
  check_range(file, "layers", m.n_layer, 1, 10000);
  check_range(file, "kv heads", m.n_head_kv, 1, 100000);
  check_range(file, "head dim", m.head_dim, 1, 100000);
  if (m.n_embd) check_range(file, "hidden size", m.n_embd, 1, 10000000);
  if (m.n_ff) check_range(file, "ffn size", m.n_ff, 1, 100000000);
  if (m.n_vocab) check_range(file, "vocabulary", m.n_vocab, 1, 100000000);
  if (m.n_head) check_range(file, "heads", m.n_head, 1, 100000);
  if (!(m.n_params >= 1 && m.n_params <= 1e15))
    throw Error(file, fmt::format("parameter count {:g} out of range", m.n_params));
}

}  // namespace

int64_t PlanTensor::n_elements() const { return shape_elements(shape); }

double ModelShape::tensor_params() const {
  double s = 0;
  for (const PlanTensor& t : tensors) s += static_cast<double>(t.n_elements());
  return s;
}

void synthesize_tensors(ModelShape& m) {
  m.tensors.clear();
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    const TensorRole r = role_of(name, shape.size());
    m.tensors.push_back({std::move(name), std::move(shape), r});
  };
  const int64_t q = m.n_head * m.head_dim, kv = m.n_head_kv * m.head_dim;
  add("token_embd.weight", {m.n_embd, m.n_vocab});
  for (int64_t i = 0; i < m.n_layer; ++i) {
    const std::string b = fmt::format("blk.{}.", i);
    add(b + "attn_norm.weight", {m.n_embd});
    add(b + "attn_q.weight", {m.n_embd, q});
    add(b + "attn_k.weight", {m.n_embd, kv});
    add(b + "attn_v.weight", {m.n_embd, kv});
    add(b + "attn_output.weight", {q, m.n_embd});
    if (m.qkv_bias) {
      add(b + "attn_q.bias", {q});
      add(b + "attn_k.bias", {kv});
      add(b + "attn_v.bias", {kv});
    }
    if (m.qk_norm) {
      add(b + "attn_q_norm.weight", {m.head_dim});
      add(b + "attn_k_norm.weight", {m.head_dim});
    }
    if (m.post_norms) {
      add(b + "post_attention_norm.weight", {m.n_embd});
      add(b + "post_ffw_norm.weight", {m.n_embd});
    }
    add(b + "ffn_norm.weight", {m.n_embd});
    add(b + "ffn_gate.weight", {m.n_embd, m.n_ff});
    add(b + "ffn_up.weight", {m.n_embd, m.n_ff});
    add(b + "ffn_down.weight", {m.n_ff, m.n_embd});
  }
  add("output_norm.weight", {m.n_embd});
  if (!m.tied_embeddings) add("output.weight", {m.n_embd, m.n_vocab});
  if (!m.shape_estimated) m.n_params = m.tensor_params();
}

std::vector<std::string> builtin_model_names() {
  std::vector<std::string> r;
  for (const Builtin& b : kBuiltins) r.push_back(b.name);
  return r;
}

bool is_builtin_model(const std::string& name) {
  for (const Builtin& b : kBuiltins)
    if (lower(name) == b.name) return true;
  return false;
}

ModelShape builtin_model(const std::string& name) {
  for (const Builtin& b : kBuiltins) {
    if (lower(name) != b.name) continue;
    ModelShape m;
    m.name = b.name;
    m.source = b.source;
    m.arch = b.arch;
    m.n_embd = b.hidden;
    m.n_ff = b.ff;
    m.n_layer = b.layers;
    m.n_head = b.heads;
    m.n_head_kv = b.kv_heads;
    m.head_dim = b.head_dim;
    m.n_vocab = b.vocab;
    m.n_ctx_train = b.ctx;
    m.tied_embeddings = b.tied;
    m.qkv_bias = b.qkv_bias;
    m.qk_norm = b.qk_norm;
    m.post_norms = std::string(b.arch) == "gemma3";
    m.sliding_window = b.sliding_window;
    m.n_swa_layers = b.n_swa_layers;
    synthesize_tensors(m);
    return m;
  }
  std::string names;
  for (const Builtin& b : kBuiltins) names += (names.empty() ? "" : ", ") + std::string(b.name);
  throw Error("model", "unknown model '" + name + "' (not a file; built-in models: " + names + ")");
}

ModelShape shape_from_gguf(const std::string& path) {
  GGUFFile f(path);
  ModelShape m;
  m.name = std::filesystem::path(path).filename().string();
  m.source = path + " (GGUF metadata and tensor list)";
  m.arch = f.architecture();
  const std::string a = m.arch + ".";
  auto get = [&](const std::string& key, int64_t fallback) {
    const GGUFValue* v = f.find(a + key);
    return v && v->is_integer() ? v->as_int() : fallback;
  };
  m.n_layer = get("block_count", 0);
  m.n_embd = get("embedding_length", 0);
  m.n_ff = get("feed_forward_length", 0);
  m.n_head = get("attention.head_count", 0);
  m.n_head_kv = get("attention.head_count_kv", m.n_head);
  m.head_dim = get("attention.key_length", m.n_head ? m.n_embd / m.n_head : 0);
  m.n_ctx_train = get("context_length", 0);
  m.sliding_window = get("attention.sliding_window", 0);
  if (m.n_layer <= 0 || m.n_head_kv <= 0 || m.head_dim <= 0)
    throw Error(path, "GGUF metadata lacks block_count / attention.head_count(_kv) for '" + m.arch + "'");
  check_range(path, "layers", m.n_layer, 1, 10000);  // before the per-layer loop below
  if (m.arch == "gemma3" && m.sliding_window > 0)  // llama.cpp: every 6th layer is global
    for (int64_t i = 0; i < m.n_layer; ++i) m.n_swa_layers += (i + 1) % 6 != 0;
  for (const GGUFTensor& t : f.tensors())
    m.tensors.push_back({t.name, t.shape, role_of(t.name, t.shape.size())});
  if (const GGUFTensor* e = f.find_tensor("token_embd.weight"); e && e->shape.size() == 2)
    m.n_vocab = e->shape[1];
  m.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  m.n_params = m.tensor_params();
  validate(m, path);
  return m;
}

ModelShape shape_from_hf_config(const std::string& path_in) {
  namespace fs = std::filesystem;
  std::string path = path_in;
  if (fs::is_directory(path)) path = (fs::path(path) / "config.json").string();
  std::error_code ec;
  if (const uintmax_t bytes = fs::file_size(path, ec); !ec && bytes > (64ull << 20))
    throw Error(path, "file is absurdly large for a JSON config (" + std::to_string(bytes >> 20) + " MiB)");
  std::ifstream in(path);
  if (!in) throw Error(path, "cannot open config.json");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const std::exception& e) {
    throw Error(path, std::string("not valid JSON: ") + e.what());
  }
  if (!j.is_object()) throw Error(path, "config.json is not a JSON object");
  if (j.contains("text_config") && j["text_config"].is_object())
    for (auto& [k, v] : j["text_config"].items()) j[k] = v;
  auto num = [&](const char* key, int64_t fallback) -> int64_t {
    if (!j.contains(key) || j[key].is_null()) return fallback;
    if (!j[key].is_number()) throw Error(path, std::string(key) + " is not a number");
    const double d = j[key].get<double>();
    if (!(d >= 0 && d < 1e15)) throw Error(path, std::string(key) + " is out of range");
    return static_cast<int64_t>(d);
  };
  if (num("num_local_experts", 0) > 1 || num("num_experts", 0) > 1)
    throw Error(path, "mixture-of-experts configs are not supported by the planner");
  ModelShape m;
  const std::string type = j.value("model_type", std::string("llama"));
  m.name = type;
  m.source = path;
  m.arch = type == "qwen2" ? "qwen2" : (type.rfind("gemma3", 0) == 0 ? "gemma3" : "llama");
  m.n_embd = num("hidden_size", 0);
  m.n_layer = num("num_hidden_layers", 0);
  m.n_head = num("num_attention_heads", 0);
  m.n_head_kv = num("num_key_value_heads", m.n_head);
  m.head_dim = num("head_dim", m.n_head ? m.n_embd / m.n_head : 0);
  m.n_ff = num("intermediate_size", 0);
  m.n_vocab = num("vocab_size", 0);
  m.n_ctx_train = num("max_position_embeddings", 0);
  if (!m.n_embd || !m.n_layer || !m.n_head || !m.n_ff || !m.n_vocab)
    throw Error(path, "config.json lacks hidden_size, num_hidden_layers, num_attention_heads, "
                      "intermediate_size or vocab_size");
  const bool gemma = m.arch == "gemma3";
  m.tied_embeddings = j.contains("tie_word_embeddings") && j["tie_word_embeddings"].is_boolean()
                          ? j["tie_word_embeddings"].get<bool>()
                          : gemma;
  m.qkv_bias = type == "qwen2" || (j.contains("attention_bias") && j["attention_bias"] == true);
  m.qk_norm = gemma;
  m.post_norms = gemma;
  if (gemma) {
    m.sliding_window = num("sliding_window", 0);
    if (j.contains("layer_types") && j["layer_types"].is_array()) {
      for (const auto& t : j["layer_types"]) m.n_swa_layers += t == "sliding_attention";
    } else if (m.sliding_window > 0) {
      check_range(path, "layers", m.n_layer, 1, 10000);  // before the per-layer loop
      const int64_t pattern = std::max<int64_t>(1, num("sliding_window_pattern", 6));
      for (int64_t i = 0; i < m.n_layer; ++i) m.n_swa_layers += (i + 1) % pattern != 0;
    }
  }
  m.n_params = 1;  // set from the tensors below
  validate(m, path);
  synthesize_tensors(m);
  return m;
}

ModelShape shape_from_numbers(double params, int64_t layers, int64_t kv_heads, int64_t head_dim,
                              int64_t heads, int64_t hidden, int64_t ff, int64_t vocab) {
  if (!layers || !kv_heads || !head_dim)
    throw Error("--params", "give --layers, --kv-heads and --head-dim with --params (they size the KV cache)");
  ModelShape m;
  m.name = "custom";
  m.source = "command-line numbers";
  m.n_params = params;
  m.n_layer = layers;
  m.n_head_kv = kv_heads;
  m.head_dim = head_dim;
  m.n_vocab = vocab ? vocab : 32000;
  validate(m, "--params");
  if (!hidden) {
    // Llama layout: q,o = hidden² each, k,v = hidden·kv·hd each, ffn = 3·hidden·(3.5·hidden),
    // untied embeddings 2·vocab·hidden: solve L·(12.5h² + 2·kv·hd·h) + 2·V·h = params.
    const double a = 12.5 * layers, b = 2.0 * layers * kv_heads * head_dim + 2.0 * m.n_vocab;
    const double h = (-b + std::sqrt(b * b + 4 * a * params)) / (2 * a);
    hidden = std::max<int64_t>(256, static_cast<int64_t>(std::llround(h / 256.0)) * 256);
    m.shape_estimated = true;
  }
  m.n_embd = hidden;
  m.n_head = heads ? heads : std::max<int64_t>(1, hidden / head_dim);
  if (!ff) {
    ff = std::max<int64_t>(256, static_cast<int64_t>(std::llround(3.5 * hidden / 256.0)) * 256);
    m.shape_estimated = true;
  }
  m.n_ff = ff;
  if (!vocab) m.shape_estimated = true;
  validate(m, "--params");
  synthesize_tensors(m);
  if (!m.shape_estimated) m.n_params = params;  // the stated count wins over the synthesized one
  return m;
}

double parse_param_count(const std::string& text) {
  if (text.empty()) throw Error("--params", "empty parameter count");
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    throw Error("--params", "'" + text + "' is not a parameter count (e.g. 70e9, 70B, 135M)");
  }
  const std::string suffix = lower(text.substr(used));
  if (suffix == "k") v *= 1e3;
  else if (suffix == "m") v *= 1e6;
  else if (suffix == "b" || suffix == "g") v *= 1e9;
  else if (suffix == "t") v *= 1e12;
  else if (!suffix.empty())
    throw Error("--params", "'" + text + "' is not a parameter count (e.g. 70e9, 70B, 135M)");
  if (!(v >= 1 && v <= 1e15)) throw Error("--params", "parameter count '" + text + "' out of range");
  return v;
}

}  // namespace squish::plan
