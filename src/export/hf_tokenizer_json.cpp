// tokenizer.json + tokenizer_config.json for an HF checkpoint written from a GGUF source: the GGUF's
// byte-level BPE vocabulary and merges (tokenizer.ggml.model "gpt2") as a `tokenizers` BPE model
// with the pre-tokenizer of the GGUF's pre-type (gpt-2 style; smollm/starcoder also split digits).
#include "hf_tokenizer_json.h"

#include <nlohmann/json.hpp>

#include "squish/common/atomic_file.h"

namespace squish {

using ojson = nlohmann::ordered_json;

namespace {

const std::string* meta_string(const ModelSource& src, const std::string& key) {
  const GGUFValue* v = src.find(key);
  return v ? &v->as_string() : nullptr;
}

}  // namespace

bool write_hf_tokenizer_from_gguf(const ModelSource& src, const std::string& dir) {
  const std::string* model = meta_string(src, "tokenizer.ggml.model");
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
  ojson tc;
  tc["tokenizer_class"] = "PreTrainedTokenizerFast";
  auto tok_of = [&](const char* key) -> ojson {
    const GGUFValue* v = src.find(key);
    if (!v || v->as_int() < 0 || static_cast<size_t>(v->as_int()) >= toks.size()) return nullptr;
    return toks[static_cast<size_t>(v->as_int())].as_string();
  };
  tc["bos_token"] = tok_of("tokenizer.ggml.bos_token_id");
  tc["eos_token"] = tok_of("tokenizer.ggml.eos_token_id");
  tc["unk_token"] = tok_of("tokenizer.ggml.unknown_token_id");
  tc["pad_token"] = tok_of("tokenizer.ggml.padding_token_id");
  if (const std::string* ct = meta_string(src, "tokenizer.chat_template")) tc["chat_template"] = *ct;
  tc["model_max_length"] = 8192;
  write_file_atomic(dir + "/tokenizer_config.json", tc.dump(2), true);
  return true;
}

}  // namespace squish
