// tokenizer.json + tokenizer_config.json for an HF checkpoint written from a GGUF source: the GGUF's
// byte-level BPE vocabulary and merges (tokenizer.ggml.model "gpt2") as a `tokenizers` BPE model
// with the pre-tokenizer of the GGUF's pre-type (gpt-2 style; smollm/starcoder also split digits),
// or a SentencePiece-style vocabulary ("llama") as hf_tokenizer_json_spm.cpp lays it out, with
// its tokenizer.model beside it.
#include "hf_tokenizer_json.h"

#include <nlohmann/json.hpp>

#include "hf_tokenizer_json_spm.h"
#include "hf_tokenizer_model_spm.h"
#include "squish/common/atomic_file.h"

namespace squish {

using ojson = nlohmann::ordered_json;

namespace {

const std::string* meta_string(const ModelSource& src, const std::string& key) {
  const GGUFValue* v = src.find(key);
  return v ? &v->as_string() : nullptr;
}

// tokenizer_config.json naming the GGUF's special tokens (ids from metadata, else def_*) and its
// chat template, plus the entries of extra.
void write_tokenizer_config(const ModelSource& src, const std::string& dir, int64_t def_bos, int64_t def_eos,
                            int64_t def_unk, const ojson& extra) {
  const auto& toks = src.find("tokenizer.ggml.tokens")->as_array().items;
  ojson tc;
  tc["tokenizer_class"] = "PreTrainedTokenizerFast";
  auto tok_of = [&](const char* key, int64_t def) -> ojson {
    const GGUFValue* v = src.find(key);
    const int64_t id = v ? v->as_int() : def;
    if (id < 0 || static_cast<size_t>(id) >= toks.size()) return nullptr;
    return toks[static_cast<size_t>(id)].as_string();
  };
  tc["bos_token"] = tok_of("tokenizer.ggml.bos_token_id", def_bos);
  tc["eos_token"] = tok_of("tokenizer.ggml.eos_token_id", def_eos);
  tc["unk_token"] = tok_of("tokenizer.ggml.unknown_token_id", def_unk);
  tc["pad_token"] = tok_of("tokenizer.ggml.padding_token_id", -1);
  if (const std::string* ct = meta_string(src, "tokenizer.chat_template")) tc["chat_template"] = *ct;
  tc["model_max_length"] = 8192;
  for (auto it = extra.begin(); it != extra.end(); ++it) tc[it.key()] = it.value();
  write_file_atomic(dir + "/tokenizer_config.json", tc.dump(2), true);
}

}  // namespace

bool write_hf_tokenizer_from_gguf(const ModelSource& src, const std::string& dir) {
  const std::string* model = meta_string(src, "tokenizer.ggml.model");
  if (model && *model == "llama") {
    const std::optional<std::string> text = spm_tokenizer_json(src);
    if (!text) return false;
    write_file_atomic(dir + "/tokenizer.json", *text, true);
    if (const std::optional<std::string> proto = spm_model_proto(src))
      write_file_atomic(dir + "/tokenizer.model", *proto, true);
    auto flag = [&](const char* key, bool def) {
      const GGUFValue* v = src.find(key);
      return v ? v->as_bool() : def;
    };
    // llama.cpp's SPM defaults: BOS 1, EOS 2, UNK 0, BOS added.
    write_tokenizer_config(src, dir, 1, 2, 0,
                           {{"add_bos_token", flag("tokenizer.ggml.add_bos_token", true)},
                            {"add_eos_token", flag("tokenizer.ggml.add_eos_token", false)},
                            {"clean_up_tokenization_spaces", false}});
    return true;
  }
  const std::string* pre = meta_string(src, "tokenizer.ggml.pre");
  const GGUFValue* tokens = src.find("tokenizer.ggml.tokens");
  const GGUFValue* merges = src.find("tokenizer.ggml.merges");
  if (!model || *model != "gpt2" || !tokens || !merges) return false;
  const std::string p = pre ? *pre : "default";
  const bool digits = p == "smollm" || p == "starcoder" || p == "refact";
  if (!digits && p != "gpt-2" && p != "default") return false;  // other regexes: not mapped yet
  const GGUFValue* types = src.find("tokenizer.ggml.token_type");
  const auto& toks = tokens->as_array().items;
  ojson vocab = ojson::object();
  ojson added = ojson::array();
  for (size_t i = 0; i < toks.size(); ++i) {
    const std::string& t = toks[i].as_string();
    vocab[t] = i;
    const int64_t type = types ? types->as_array().items[i].as_int() : 1;
    if (type == 3 || type == 4)  // control / user-defined
      added.push_back({{"id", i}, {"content", t}, {"single_word", false}, {"lstrip", false},
                       {"rstrip", false}, {"normalized", type == 4}, {"special", type == 3}});
  }
  ojson merge_list = ojson::array();
  for (const auto& m : merges->as_array().items) merge_list.push_back(m.as_string());
  ojson byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                      {"use_regex", true}};
  ojson pre_tok = byte_level;
  if (digits)
    pre_tok = {{"type", "Sequence"},
               {"pretokenizers", {{{"type", "Digits"}, {"individual_digits", true}}, byte_level}}};
  ojson tj;
  tj["version"] = "1.0";
  tj["truncation"] = nullptr;
  tj["padding"] = nullptr;
  tj["added_tokens"] = added;
  tj["normalizer"] = nullptr;
  tj["pre_tokenizer"] = pre_tok;
  tj["post_processor"] = byte_level;
  tj["decoder"] = byte_level;
  tj["model"] = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                 {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                 {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
                 {"vocab", vocab}, {"merges", merge_list}};
  write_file_atomic(dir + "/tokenizer.json", tj.dump(), true);
  write_tokenizer_config(src, dir, -1, -1, -1, ojson::object());
  return true;
}

}  // namespace squish
