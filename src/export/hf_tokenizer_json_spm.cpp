// tokenizer.json for a GGUF whose tokenizer is SentencePiece-style (tokenizer.ggml.model "llama",
// e.g. Gemma 3): a `tokenizers` BPE with byte fallback whose merges are derived from the piece
// scores (transformers' SentencePieceExtractor), spaces normalized to U+2581, no pre-tokenizer, and
// the Replace/ByteFallback/Fuse decoder, as in HF's own Gemma and Llama tokenizer.json files.
#include "hf_tokenizer_json_spm.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string_view>
#include <unordered_map>

#include "squish/model/unicode.h"

namespace squish {

using ojson = nlohmann::ordered_json;

namespace {

const std::string kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's visible space

// A token id from metadata, or def when the key is absent; -1 when out of range.
int64_t meta_id(const ModelSource& src, const char* key, int64_t def, size_t n) {
  const GGUFValue* v = src.find(key);
  const int64_t id = v ? v->as_int() : def;
  return id >= 0 && static_cast<size_t>(id) < n ? id : -1;
}

bool meta_bool(const ModelSource& src, const char* key, bool def) {
  const GGUFValue* v = src.find(key);
  return v ? v->as_bool() : def;
}

// JSON string literal of s; throws nlohmann's type_error on invalid UTF-8.
std::string json_literal(const std::string& s) { return nlohmann::json(s).dump(); }

// TemplateProcessing that adds BOS before and/or EOS after each sequence, or null for neither.
ojson post_processor(const std::string* bos, int64_t bos_id, const std::string* eos, int64_t eos_id) {
  if (!bos && !eos) return nullptr;
  auto special = [](const std::string& t, int type_id) {
    return ojson{{"SpecialToken", {{"id", t}, {"type_id", type_id}}}};
  };
  auto seq = [](const char* id, int type_id) { return ojson{{"Sequence", {{"id", id}, {"type_id", type_id}}}}; };
  ojson single = ojson::array(), pair = ojson::array(), specials = ojson::object();
  for (int part = 0; part < 2; ++part) {
    if (bos) pair.push_back(special(*bos, part));
    pair.push_back(seq(part == 0 ? "A" : "B", part));
    if (eos) pair.push_back(special(*eos, part));
  }
  if (bos) single.push_back(special(*bos, 0));
  single.push_back(seq("A", 0));
  if (eos) single.push_back(special(*eos, 0));
  if (bos) specials[*bos] = {{"id", *bos}, {"ids", {bos_id}}, {"tokens", {*bos}}};
  if (eos) specials[*eos] = {{"id", *eos}, {"ids", {eos_id}}, {"tokens", {*eos}}};
  return {{"type", "TemplateProcessing"}, {"single", single}, {"pair", pair}, {"special_tokens", specials}};
}

}  // namespace

std::vector<std::pair<int32_t, int32_t>> spm_merges(const std::vector<std::string>& tokens,
                                                    const std::vector<float>& scores) {
  std::unordered_map<std::string_view, int32_t> id;
  id.reserve(tokens.size() * 2);
  for (size_t i = 0; i < tokens.size(); ++i) id[tokens[i]] = static_cast<int32_t>(i);
  struct Merge {
    int32_t left, right;
    float score;
    uint32_t left_chars, right_chars;
  };
  std::vector<Merge> all, local;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string_view t = tokens[i];
    uint32_t chars = 0;
    for (size_t k = 0; k < t.size(); k += unicode::utf8_len(static_cast<uint8_t>(t[k]))) ++chars;
    local.clear();
    uint32_t left_chars = 0;
    for (size_t k = 0; k < t.size();) {
      k += unicode::utf8_len(static_cast<uint8_t>(t[k]));
      ++left_chars;
      if (k >= t.size()) break;
      const auto l = id.find(t.substr(0, k));
      if (l == id.end()) continue;
      const auto r = id.find(t.substr(k));
      if (r == id.end()) continue;
      local.push_back({l->second, r->second, scores[i], left_chars, chars - left_chars});
    }
    std::sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) {
      return a.left != b.left ? a.left < b.left : a.right < b.right;
    });
    all.insert(all.end(), local.begin(), local.end());
  }
  // Descending by (score, left length, right length); equal keys keep their order (Python's
  // stable sorted(..., reverse=True)).
  std::stable_sort(all.begin(), all.end(), [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.left_chars != b.left_chars) return a.left_chars > b.left_chars;
    return a.right_chars > b.right_chars;
  });
  std::vector<std::pair<int32_t, int32_t>> out;
  out.reserve(all.size());
  for (const Merge& m : all) out.emplace_back(m.left, m.right);
  return out;
}

std::optional<std::string> spm_tokenizer_json(const ModelSource& src) {
  const GGUFValue* model = src.find("tokenizer.ggml.model");
  const GGUFValue* tokens = src.find("tokenizer.ggml.tokens");
  if (!model || model->as_string() != "llama" || !tokens) return std::nullopt;
  const GGUFValue* scores_v = src.find("tokenizer.ggml.scores");
  const GGUFValue* types_v = src.find("tokenizer.ggml.token_type");
  const auto& items = tokens->as_array().items;
  const size_t n = items.size();
  std::vector<std::string> toks(n);
  std::vector<float> scores(n, 0.0f);
  std::vector<int64_t> types(n, 1);
  for (size_t i = 0; i < n; ++i) toks[i] = items[i].as_string();
  if (scores_v && scores_v->as_array().items.size() >= n)
    for (size_t i = 0; i < n; ++i) scores[i] = static_cast<float>(scores_v->as_array().items[i].as_double());
  if (types_v && types_v->as_array().items.size() >= n)
    for (size_t i = 0; i < n; ++i) types[i] = types_v->as_array().items[i].as_int();

  std::vector<std::string> quoted_toks(n);  // each token as a JSON string literal
  try {
    for (size_t i = 0; i < n; ++i) quoted_toks[i] = json_literal(toks[i]);
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // not UTF-8: tokenizer.json cannot hold this vocabulary
  }

  // llama.cpp's defaults for an SPM vocabulary, then the metadata.
  const int64_t bos = meta_id(src, "tokenizer.ggml.bos_token_id", 1, n);
  const int64_t eos = meta_id(src, "tokenizer.ggml.eos_token_id", 2, n);
  const int64_t unk = meta_id(src, "tokenizer.ggml.unknown_token_id", 0, n);
  const bool add_bos = meta_bool(src, "tokenizer.ggml.add_bos_token", true) && bos >= 0;
  const bool add_eos = meta_bool(src, "tokenizer.ggml.add_eos_token", false) && eos >= 0;
  const bool space_prefix = meta_bool(src, "tokenizer.ggml.add_space_prefix", true);

  ojson added = ojson::array();
  for (size_t i = 0; i < n; ++i)
    if (types[i] == 2 || types[i] == 3 || types[i] == 4)  // unknown / control / user-defined
      added.push_back({{"id", i}, {"content", toks[i]}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", false}, {"special", types[i] != 4}});
  const ojson replace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}};
  ojson normalizer = replace;
  if (space_prefix)
    normalizer = {{"type", "Sequence"}, {"normalizers", {{{"type", "Prepend"}, {"prepend", kSpace}}, replace}}};
  ojson decoders = {{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
                    {{"type", "ByteFallback"}},
                    {{"type", "Fuse"}}};
  if (space_prefix) decoders.push_back({{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}});

  ojson head;
  head["version"] = "1.0";
  head["truncation"] = nullptr;
  head["padding"] = nullptr;
  head["added_tokens"] = added;
  head["normalizer"] = normalizer;
  head["pre_tokenizer"] = nullptr;
  head["post_processor"] = post_processor(add_bos ? &toks[bos] : nullptr, bos, add_eos ? &toks[eos] : nullptr, eos);
  head["decoder"] = {{"type", "Sequence"}, {"decoders", decoders}};
  ojson model_head;
  model_head["type"] = "BPE";
  model_head["dropout"] = nullptr;
  model_head["unk_token"] = unk >= 0 ? ojson(toks[unk]) : ojson(nullptr);
  model_head["continuing_subword_prefix"] = nullptr;
  model_head["end_of_word_suffix"] = nullptr;
  model_head["fuse_unk"] = true;
  model_head["byte_fallback"] = true;
  model_head["ignore_merges"] = false;

  // The vocabulary and merges are written directly: ordered_json's object insert is linear, far
  // too slow for a 262k-token vocabulary.
  std::string out = head.dump();
  out.pop_back();  // the closing brace
  out += ",\"model\":";
  std::string m = model_head.dump();
  m.pop_back();
  out += m;
  out += ",\"vocab\":{";
  for (size_t i = 0; i < n; ++i) {
    if (i) out += ',';
    out += quoted_toks[i];
    out += ':';
    out += std::to_string(i);
  }
  out += "},\"merges\":[";
  bool first = true;
  for (const auto& [l, r] : spm_merges(toks, scores)) {
    if (!first) out += ',';
    first = false;
    out += '[';
    out += quoted_toks[l];
    out += ',';
    out += quoted_toks[r];
    out += ']';
  }
  out += "]}}";
  return out;
}

}  // namespace squish
