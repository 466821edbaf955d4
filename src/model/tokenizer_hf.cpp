// Tokenizer::from_hf_json: an HF tokenizer.json byte-level BPE (model.type "BPE" with a ByteLevel
// pre-tokenizer, optionally after Digits or a regex Split) or SentencePiece-style BPE (byte_fallback,
// see tokenizer_hf_spm.cpp), its added tokens, and BOS/EOS from tokenizer_config.json beside it.
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "squish/common/error.h"
#include "squish/model/tokenizer_bpe.h"
#include "squish/model/tokenizer_spm.h"
#include "tokenizer_hf_spm.h"

namespace squish {

namespace {

using nlohmann::json;

// tokenizer.json / tokenizer_config.json: read whole and parsed into a JSON tree (~10-20x the
// text), so a file over the readers' common cap (512 MiB; Gemma 3's is 33 MB) is refused first.
constexpr uintmax_t kMaxTokenizerJsonBytes = 512ull << 20;

json read_json(const std::string& path) {
  std::error_code ec;
  const uintmax_t bytes = std::filesystem::file_size(path, ec);
  if (!ec && bytes > kMaxTokenizerJsonBytes)
    throw Error(path, "larger than " + std::to_string(kMaxTokenizerJsonBytes >> 20) + " MiB (" +
                          std::to_string(bytes >> 20) + " MiB); not a tokenizer file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path, "cannot open");
  std::ostringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    throw Error(path, std::string("invalid JSON: ") + e.what());
  }
}

// Text of a token entry of tokenizer_config.json: "<s>" or {"content": "<s>", ...}.
std::string token_content(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return {};
}

// Appends the stages of one pre-tokenizer; sets byte_level when it is ByteLevel.
void add_pre_tokenizer(const std::string& path, const json& p, bool top_level, std::vector<PreSplit>& stages,
                       bool& byte_level, bool& prefix_space) {
  const std::string type = p.value("type", "");
  if (type == "Sequence") {
    for (const json& q : p.at("pretokenizers")) add_pre_tokenizer(path, q, false, stages, byte_level, prefix_space);
  } else if (type == "ByteLevel") {
    byte_level = true;
    if (p.value("add_prefix_space", false)) {
      if (!top_level) throw Error(path, "ByteLevel add_prefix_space inside a Sequence is not supported");
      prefix_space = true;
    }
    if (p.value("use_regex", true)) stages.push_back(PreSplit::kGpt2);
  } else if (type == "Digits") {
    if (!p.value("individual_digits", false)) throw Error(path, "Digits without individual_digits is not supported");
    stages.push_back(PreSplit::kEachNumber);
  } else if (type == "Split") {
    const json& pat = p.at("pattern");
    PreSplit s;
    if (!pat.contains("Regex") || !pat["Regex"].is_string() || !pre_split_from_regex(pat["Regex"], s))
      throw Error(path, "unsupported Split pattern " + pat.dump());
    if (p.value("behavior", "") != "Isolated" || p.value("invert", false))
      throw Error(path, "only Split with behavior Isolated is supported");
    stages.push_back(s);
  } else {
    throw Error(path, "unsupported pre_tokenizer type '" + type + "'");
  }
}

// BPE with an optional leading space added to every raw fragment (ByteLevel add_prefix_space).
class HfBpeTokenizer : public BpeTokenizer {
 public:
  HfBpeTokenizer(Vocab v, const std::vector<std::string>& merges, std::vector<PreSplit> stages, bool ignore_merges,
                 bool prefix_space)
      : BpeTokenizer(std::move(v), merges, std::move(stages), ignore_merges), prefix_space_(prefix_space) {}

 protected:
  void encode_fragment(std::string_view text, bool prev_special, std::vector<int32_t>& out) const override {
    if (prefix_space_ && (text.empty() || text[0] != ' ')) {
      BpeTokenizer::encode_fragment(" " + std::string(text), prev_special, out);
    } else {
      BpeTokenizer::encode_fragment(text, prev_special, out);
    }
  }

 private:
  bool prefix_space_;
};

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_hf_json(const std::string& path) {
  const json j = read_json(path);
  try {
    if (!j.is_object() || !j.contains("model")) throw Error(path, "not a tokenizer.json (no \"model\")");
    const json& model = j["model"];
    const std::string type = model.value("type", "BPE");
    if (type != "BPE") throw Error(path, "unsupported model.type '" + type + "' (only BPE)");
    const bool spm = model.value("byte_fallback", false);
    for (const char* k : {"continuing_subword_prefix", "end_of_word_suffix"})
      if (model.contains(k) && !model[k].is_null() && model[k] != "") throw Error(path, std::string(k) + " is not supported");
    std::vector<PreSplit> stages;
    bool byte_level = false, prefix_space = false;
    if (spm) {
      prefix_space = check_hf_spm_pipeline(path, j);
    } else {
      if (j.contains("normalizer") && !j["normalizer"].is_null())
        throw Error(path, "normalizer " + j["normalizer"].value("type", std::string("?")) + " is not supported");
      if (j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null())
        add_pre_tokenizer(path, j["pre_tokenizer"], true, stages, byte_level, prefix_space);
      if (!byte_level) throw Error(path, "not a byte-level BPE (no ByteLevel pre-tokenizer)");
    }

    // Vocabulary: model.vocab plus added tokens (which may extend it).
    const json& vocab = model.at("vocab");
    if (!vocab.is_object()) throw Error(path, "model.vocab is not an object");
    // An id must be a JSON integer (get<int64_t> would cast a float such as 1e21: undefined).
    auto token_id = [&path](const json& x, const char* where) {
      if (!x.is_number_integer()) throw Error(path, std::string("a token id in ") + where + " is not an integer");
      return x.get<int64_t>();
    };
    int64_t max_id = -1;
    for (auto it = vocab.begin(); it != vocab.end(); ++it) max_id = std::max(max_id, token_id(it.value(), "model.vocab"));
    const json added = j.value("added_tokens", json::array());
    for (const json& a : added) max_id = std::max(max_id, token_id(a.at("id"), "added_tokens"));
    // Ids are (nearly) dense: the table is sized by the largest id, so a few bytes claiming id 2^24
    // would otherwise take gigabytes. Gaps of up to 65536 ids (padded vocabularies) are allowed.
    const int64_t entries = static_cast<int64_t>(vocab.size() + added.size());
    if (max_id < 0 || max_id >= (1 << 24) || max_id >= entries + 65536)
      throw Error(path, "vocabulary ids out of range (largest id " + std::to_string(max_id) + " for " +
                            std::to_string(entries) + " tokens)");
    Vocab v;
    const size_t n = static_cast<size_t>(max_id + 1);
    v.text.assign(n, std::string());
    v.attr.assign(n, kAttrNormal);
    for (auto it = vocab.begin(); it != vocab.end(); ++it) {
      const int64_t id = token_id(it.value(), "model.vocab");
      if (id < 0) throw Error(path, "negative id in model.vocab");
      v.text[id] = it.key();
    }
    for (const json& a : added) {
      const int64_t id = token_id(a.at("id"), "added_tokens");
      if (id < 0) throw Error(path, "negative id in added_tokens");
      v.text[id] = a.at("content").get<std::string>();
      uint32_t attr = a.value("special", false) ? kAttrControl : kAttrUserDefined;
      if (a.value("lstrip", false)) attr |= kAttrLstrip;
      if (a.value("rstrip", false)) attr |= kAttrRstrip;
      v.attr[id] = attr;
    }
    for (size_t i = 0; i < n; ++i)
      if (v.text[i].empty()) v.attr[i] = kAttrUnused;  // a gap in the ids
    v.index(path);

    std::vector<std::string> merges;
    if (spm) {
      set_hf_spm_vocab(path, model, v);
    } else {
      for (const json& m : model.at("merges")) {
        if (m.is_string()) {
          merges.push_back(m.get<std::string>());
        } else if (m.is_array() && m.size() == 2) {
          merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
        } else {
          throw Error(path, "malformed entry in model.merges");
        }
      }
    }

    // BOS / EOS: tokenizer_config.json if present, else the post-processor's template.
    const std::filesystem::path cfg_path = std::filesystem::path(path).parent_path() / "tokenizer_config.json";
    json cfg = json::object();
    if (std::filesystem::exists(cfg_path)) cfg = read_json(cfg_path.string());
    if (cfg.contains("bos_token")) v.bos = v.find(token_content(cfg["bos_token"]));
    if (cfg.contains("eos_token")) v.eos = v.find(token_content(cfg["eos_token"]));
    if (cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean()) {
      v.add_bos = cfg["add_bos_token"].get<bool>();
    } else if (j.contains("post_processor") && j["post_processor"].is_object() &&
               j["post_processor"].value("type", "") == "TemplateProcessing") {
      const json& single = j["post_processor"].value("single", json::array());
      if (!single.empty() && single[0].contains("SpecialToken")) {
        v.add_bos = true;
        if (v.bos < 0) v.bos = v.find(single[0]["SpecialToken"].value("id", std::string()));
      }
    }
    if (cfg.contains("add_eos_token") && cfg["add_eos_token"].is_boolean()) v.add_eos = cfg["add_eos_token"].get<bool>();
    if (v.add_bos && v.bos < 0) throw Error(path, "add_bos_token is set but the BOS token is unknown");
    if (v.add_eos && v.eos < 0) throw Error(path, "add_eos_token is set but the EOS token is unknown");
    v.finish_specials();
    if (spm) return std::make_unique<SpmTokenizer>(std::move(v), prefix_space);
    return std::make_unique<HfBpeTokenizer>(std::move(v), merges, std::move(stages), model.value("ignore_merges", false),
                                            prefix_space);
  } catch (const json::exception& e) {
    throw Error(path, std::string("malformed tokenizer.json: ") + e.what());
  }
}

}  // namespace squish
