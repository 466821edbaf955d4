// GGUF tokenizer metadata from an HF model directory, the way llama.cpp's convert_hf_to_gguf.py
// writes it (_set_vocab_sentencepiece / _set_vocab_gpt2 + gguf.SpecialVocab):
//   tokenizer.model (SentencePiece, gemma3 / llama-2 style) -> tokenizer.ggml.model "llama": its
//     pieces, scores and types, tokenizer_config.json's added_tokens_decoder on top (score -1000);
//   else a byte-level BPE tokenizer.json -> "gpt2" with the pre-type of its pre-tokenizer regexes,
//     added tokens as control (special, or looking special) / user-defined, merges "a b".
// Both padded to the embedding's rows with [PADi] (unused), then bos/eos/unk/pad ids from
// tokenizer_config.json (else config.json), add_bos/eos_token, and the chat template.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "../io/hf_quantized_internal.h"
#include "hf_gguf.h"
#include "squish/arch/tensor_registry.h"
#include "squish/common/error.h"
#include "squish/model/tokenizer_pretokenize.h"

namespace squish {

namespace {

using json = nlohmann::json;

constexpr uintmax_t kMaxTokenizerBytes = 512ull << 20;

// llama.cpp's gguf.TokenType.
enum TokenType : int32_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };

// Collects the pre-tokenizer's splitting stages; false when it is no byte-level BPE squish knows
// (`why` says what).
bool collect_stages(const json& p, std::vector<PreSplit>& stages, bool& byte_level, std::string& why) {
  if (!p.is_object()) return true;
  const std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const json& q : p.value("pretokenizers", json::array()))
      if (!collect_stages(q, stages, byte_level, why)) return false;
    return true;
  }
  if (type == "ByteLevel") {
    byte_level = true;
    if (p.value("add_prefix_space", false)) return why = "ByteLevel add_prefix_space is not supported", false;
    if (p.value("use_regex", true)) stages.push_back(PreSplit::kGpt2);
    return true;
  }
  if (type == "Digits") {
    if (!p.value("individual_digits", false)) return why = "Digits without individual_digits", false;
    stages.push_back(PreSplit::kEachNumber);
    return true;
  }
  if (type == "Split") {
    const json pat = p.value("pattern", json::object());
    PreSplit s;
    if (!pat.contains("Regex") || !pat["Regex"].is_string() || !pre_split_from_regex(pat["Regex"], s))
      return why = "unsupported Split pattern " + pat.dump(), false;
    stages.push_back(s);
    return true;
  }
  return why = "unsupported pre_tokenizer type '" + type + "'", false;
}

// llama.cpp's name (tokenizer.ggml.pre) for a sequence of splitting stages, or "".
std::string pre_name(const std::vector<PreSplit>& s) {
  using P = PreSplit;
  if (s == std::vector<P>{P::kGpt2}) return "gpt-2";
  if (s == std::vector<P>{P::kEachNumber, P::kGpt2}) return "smollm";
  if (s == std::vector<P>{P::kLlama3} || s == std::vector<P>{P::kLlama3, P::kGpt2}) return "llama-bpe";
  if (s == std::vector<P>{P::kQwen2} || s == std::vector<P>{P::kQwen2, P::kGpt2}) return "qwen2";
  return "";
}

// llama.cpp's TextModel.does_token_look_special.
bool looks_special(const std::string& t) {
  auto wrapped = [&](const std::string& a, const std::string& b) {
    return t.size() >= a.size() + b.size() && t.rfind(a, 0) == 0 &&
           t.compare(t.size() - b.size(), b.size(), b) == 0;
  };
  return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wrapped("<|", "|>") ||
         wrapped("<\xef\xbd\x9c", "\xef\xbd\x9c>");
}

// Text of a tokenizer_config.json token entry: "<s>" or {"content": "<s>", …}.
std::string token_content(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return "";
}


// A tokenizer in GGUF's terms, before the special ids.
struct GGUFVocab {
  std::string model, pre;               // tokenizer.ggml.model / .pre ("" when not written)
  std::vector<std::string> tokens;
  std::vector<float> scores;            // SentencePiece only
  std::vector<int32_t> types;
  std::vector<std::string> merges;      // BPE only
  std::optional<bool> add_space_prefix;  // SentencePiece only
};

// Reads a varint at p (advancing it); throws on truncation.
uint64_t varint(const std::string& path, const uint8_t*& p, const uint8_t* end) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= end) throw Error(path, "truncated protobuf");
    const uint8_t b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  throw Error(path, "bad protobuf varint");
}

// Calls f(field, wire_type, value, bytes, n) for each field of a protobuf message.
template <class F>
void for_each_field(const std::string& path, const uint8_t* p, const uint8_t* end, F&& f) {
  while (p < end) {
    const uint64_t key = varint(path, p, end);
    const uint32_t field = static_cast<uint32_t>(key >> 3), wire = key & 7;
    uint64_t value = 0;
    const uint8_t* bytes = nullptr;
    size_t n = 0;
    if (wire == 0) {
      value = varint(path, p, end);
    } else if (wire == 1 || wire == 5) {
      n = wire == 1 ? 8 : 4;
      if (static_cast<size_t>(end - p) < n) throw Error(path, "truncated protobuf");
      bytes = p;
      p += n;
    } else if (wire == 2) {
      n = static_cast<size_t>(varint(path, p, end));
      if (static_cast<size_t>(end - p) < n) throw Error(path, "truncated protobuf");
      bytes = p;
      p += n;
    } else {
      throw Error(path, "unsupported protobuf wire type " + std::to_string(wire));
    }
    f(field, wire, value, bytes, n);
  }
}

// tokenizer.model: ModelProto.pieces (1) = {piece (1), score (2), type (3)} and
// normalizer_spec (3).add_dummy_prefix (3). SentencePiece's piece types are GGUF's token types.
GGUFVocab read_sentencepiece(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) > kMaxTokenizerBytes || ec)
    throw Error(path, ec ? "cannot read: " + ec.message() : "file is absurdly large for a tokenizer");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string buf = ss.str();
  const auto* b = reinterpret_cast<const uint8_t*>(buf.data());
  GGUFVocab v;
  v.model = "llama";
  v.add_space_prefix = true;
  for_each_field(path, b, b + buf.size(), [&](uint32_t field, uint32_t wire, uint64_t, const uint8_t* p, size_t n) {
    if (field == 1 && wire == 2) {
      std::string piece;
      float score = 0.f;
      int32_t type = kNormal;
      for_each_field(path, p, p + n, [&](uint32_t f, uint32_t w, uint64_t val, const uint8_t* q, size_t m) {
        if (f == 1 && w == 2) piece.assign(reinterpret_cast<const char*>(q), m);
        else if (f == 2 && w == 5) std::memcpy(&score, q, 4);
        else if (f == 3 && w == 0) type = static_cast<int32_t>(val);
      });
      if (type < kNormal || type > kByte) throw Error(path, "piece '" + piece + "' has unknown type " + std::to_string(type));
      v.tokens.push_back(std::move(piece));
      v.scores.push_back(score);
      v.types.push_back(type);
    } else if (field == 3 && wire == 2) {
      for_each_field(path, p, p + n, [&](uint32_t f, uint32_t w, uint64_t val, const uint8_t*, size_t) {
        if (f == 3 && w == 0) v.add_space_prefix = val != 0;
      });
    }
  });
  if (v.tokens.empty()) throw Error(path, "no pieces (not a SentencePiece model)");
  return v;
}

// A byte-level BPE tokenizer.json as "gpt2" tokens, types and merges.
GGUFVocab read_bpe(const std::string& path, const json& tj) {
  if (!tj.is_object() || !tj.contains("model") || !tj["model"].is_object())
    throw Error(path, "not a tokenizer.json (no \"model\")");
  const json& model = tj["model"];
  const std::string type = model.value("type", "BPE");
  std::vector<PreSplit> stages;
  bool byte_level = false;
  std::string why;
  if (type != "BPE") why = "model.type '" + type + "'";
  else if (model.value("byte_fallback", false))
    why = "a SentencePiece-style BPE (byte_fallback) needs tokenizer.model for its scores";
  else if (tj.contains("normalizer") && !tj["normalizer"].is_null() &&
           tj["normalizer"].value("type", "") != "NFC")  // Qwen2's NFC: llama.cpp ignores it too
    why = "a normalizer";
  else if (tj.contains("pre_tokenizer") && collect_stages(tj["pre_tokenizer"], stages, byte_level, why) &&
           !byte_level)
    why = "no ByteLevel pre-tokenizer";
  GGUFVocab v;
  v.model = "gpt2";
  v.pre = why.empty() ? pre_name(stages) : "";
  if (why.empty() && v.pre.empty()) why = "a pre-tokenizer regex sequence llama.cpp has no name for";
  if (!why.empty())
    throw Error(path, "cannot convert this tokenizer to GGUF: " + why + " (squish converts byte-level BPE or tokenizer.model)");
  const json& vocab = model.at("vocab");
  if (!vocab.is_object()) throw Error(path, "model.vocab is not an object");
  auto slot = [&](int64_t id) -> size_t {
    if (id < 0 || id >= (1 << 24)) throw Error(path, "token id " + std::to_string(id) + " out of range");
    if (static_cast<size_t>(id) >= v.tokens.size()) {
      v.tokens.resize(static_cast<size_t>(id) + 1);
      v.types.resize(static_cast<size_t>(id) + 1, 0);  // 0: a gap, padded later
    }
    return static_cast<size_t>(id);
  };
  for (auto it = vocab.begin(); it != vocab.end(); ++it) {
    const size_t id = slot(it.value().get<int64_t>());
    v.tokens[id] = it.key();
    v.types[id] = kNormal;
  }
  for (const json& a : tj.value("added_tokens", json::array())) {
    const size_t id = slot(a.at("id").get<int64_t>());
    v.tokens[id] = a.at("content").get<std::string>();
    v.types[id] = a.value("special", false) || looks_special(v.tokens[id]) ? kControl : kUserDefined;
  }
  for (const json& m : model.at("merges")) {
    if (m.is_string()) v.merges.push_back(m.get<std::string>());
    else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string())
      v.merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
    else throw Error(path, "malformed entry in model.merges");
  }
  return v;
}

// tokenizer_config.json's added_tokens_decoder over a SentencePiece vocabulary (llama.cpp's
// _create_vocab_sentencepiece): content replaced, score -1000, control when special.
void apply_added_tokens_decoder(const std::string& path, const json& cfg, GGUFVocab& v) {
  if (!cfg.contains("added_tokens_decoder") || !cfg["added_tokens_decoder"].is_object()) return;
  for (auto it = cfg["added_tokens_decoder"].begin(); it != cfg["added_tokens_decoder"].end(); ++it) {
    size_t id = 0;
    try {
      id = static_cast<size_t>(std::stoul(it.key()));
    } catch (const std::exception&) {
      throw Error(path, "added_tokens_decoder key '" + it.key() + "' is not a token id");
    }
    if (id >= (1u << 24)) throw Error(path, "added_tokens_decoder id " + it.key() + " out of range");
    if (id >= v.tokens.size()) {
      v.tokens.resize(id + 1);
      v.types.resize(id + 1, 0);
      v.scores.resize(id + 1, -1000.f);
    }
    v.tokens[id] = it.value().value("content", v.tokens[id]);
    v.scores[id] = -1000.f;
    v.types[id] = it.value().value("special", false) ? kControl : kUserDefined;
  }
}

}  // namespace

void add_hf_tokenizer_metadata(const HFModelDir& dir, GGUFMetadata& out) {
  const std::string spm_path = (std::filesystem::path(dir.path()) / "tokenizer.model").string();
  const bool spm = std::filesystem::exists(spm_path);
  const std::string& path = spm ? spm_path : dir.tokenizer_json_path();
  if (path.empty()) throw Error(dir.path(), "missing tokenizer.json");
  auto set = [&](const std::string& k, GGUFValue v) { out.emplace_back(k, std::move(v)); };
  try {
    json tj = json::object();
    if (!dir.tokenizer_json_path().empty() && !spm)
      tj = hfq::read_json_limited(dir.tokenizer_json_path(), kMaxTokenizerBytes);
    json cfg = json::object();
    if (!dir.tokenizer_config_path().empty()) cfg = hfq::read_json_limited(dir.tokenizer_config_path(), 64ull << 20);
    if (!cfg.is_object()) cfg = json::object();
    GGUFVocab v = spm ? read_sentencepiece(path) : read_bpe(path, tj);
    if (spm) apply_added_tokens_decoder(dir.tokenizer_config_path(), cfg, v);

    // Pad to the embedding's rows (gaps and the tail become unused [PADi]).
    const size_t rows = static_cast<size_t>(dir.config().n_vocab);
    if (v.tokens.size() > rows)
      throw Error(path, "the tokenizer has " + std::to_string(v.tokens.size()) + " tokens but token_embd has " +
                            std::to_string(rows) + " rows");
    v.tokens.resize(rows);
    v.types.resize(rows, 0);
    if (spm) v.scores.resize(rows, -1000.f);
    std::vector<GGUFValue> tokens, scores, types, merges;
    for (size_t i = 0; i < rows; ++i) {
      if (v.types[i] == 0) {
        v.tokens[i] = "[PAD" + std::to_string(i) + "]";
        v.types[i] = kUnused;
      }
      tokens.push_back(gguf_str(v.tokens[i]));
      types.push_back(gguf_i32(v.types[i]));
      if (spm) scores.push_back(gguf_f32(v.scores[i]));
    }
    for (auto& m : v.merges) merges.push_back(gguf_str(std::move(m)));
    set("tokenizer.ggml.model", gguf_str(v.model));
    set("tokenizer.ggml.pre", gguf_str(spm ? "default" : v.pre));
    set("tokenizer.ggml.tokens", gguf_array(GGUFValueType::STRING, std::move(tokens)));
    if (spm) set("tokenizer.ggml.scores", gguf_array(GGUFValueType::FLOAT32, std::move(scores)));
    set("tokenizer.ggml.token_type", gguf_array(GGUFValueType::INT32, std::move(types)));
    if (!spm) set("tokenizer.ggml.merges", gguf_array(GGUFValueType::STRING, std::move(merges)));

    // Special ids: tokenizer_config.json's <kind>_token, else config.json's <kind>_token_id.
    auto id_of = [&](const std::string& t) -> int64_t {
      if (t.empty()) return -1;
      for (size_t i = 0; i < v.tokens.size(); ++i)
        if (v.tokens[i] == t) return static_cast<int64_t>(i);
      return -1;
    };
    const HFConfigExtras& ex = dir.extras();
    const std::vector<int32_t> none;
    const struct { const char* hf; const char* gguf; const std::vector<int32_t>& config_ids; } kSpecials[] = {
        {"bos_token", "tokenizer.ggml.bos_token_id", ex.bos_token_ids},
        {"eos_token", "tokenizer.ggml.eos_token_id", ex.eos_token_ids},
        {"unk_token", "tokenizer.ggml.unknown_token_id", none},
        {"pad_token", "tokenizer.ggml.padding_token_id", none},
    };
    for (const auto& s : kSpecials) {
      int64_t id = cfg.contains(s.hf) ? id_of(token_content(cfg[s.hf])) : -1;
      if (id < 0 && !s.config_ids.empty()) id = s.config_ids[0];
      if (id >= 0 && static_cast<size_t>(id) < rows) set(s.gguf, gguf_u32(static_cast<uint32_t>(id)));
    }
    // add_bos_token: tokenizer_config.json, else a TemplateProcessing post-processor that starts
    // with a special token; written false for BPE when neither says.
    std::optional<bool> add_bos;
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) {
      add_bos = cfg["add_bos_token"].get<bool>();
    } else if (tj.contains("post_processor") && tj["post_processor"].is_object() &&
               tj["post_processor"].value("type", "") == "TemplateProcessing") {
      const json single = tj["post_processor"].value("single", json::array());
      add_bos = !single.empty() && single[0].contains("SpecialToken");
    } else if (!spm) {
      add_bos = false;
    }
    if (add_bos) set("tokenizer.ggml.add_bos_token", gguf_bool(*add_bos));
    if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean())
      set("tokenizer.ggml.add_eos_token", gguf_bool(cfg["add_eos_token"].get<bool>()));
    // gemma2/3: llama.cpp's converter writes add_space_prefix false whatever the model says.
    if (spm) set("tokenizer.ggml.add_space_prefix",
                 gguf_bool(arch_spec(dir.config().arch).features.spm_no_space_prefix ? false : *v.add_space_prefix));
  } catch (const json::exception& e) {
    throw Error(path, std::string("malformed tokenizer files: ") + e.what());
  }
  if (!dir.chat_template().empty()) set("tokenizer.chat_template", gguf_str(dir.chat_template()));
}

}  // namespace squish
