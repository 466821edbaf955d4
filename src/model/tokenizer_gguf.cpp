// Tokenizer::from_gguf: builds the BPE or SentencePiece tokenizer a GGUF file's tokenizer.ggml.*
// metadata describes, with llama.cpp's defaults for whatever the metadata leaves out.
#include <memory>

#include "squish/common/error.h"
#include "squish/io/gguf_reader.h"
#include "squish/model/tokenizer_bpe.h"
#include "squish/model/tokenizer_spm.h"

namespace squish {

namespace {

// A metadata array of the given element kind, or nullptr when absent; throws on the wrong type.
const GGUFArray* optional_array(const GGUFFile& f, const std::string& key) {
  const GGUFValue* v = f.find(key);
  if (!v) return nullptr;
  if (v->type != GGUFValueType::ARRAY) throw Error(f.path(), key + " is not an array");
  return &v->as_array();
}

// Pre-tokenizer stages llama.cpp uses for a tokenizer.ggml.pre value (the ones squish implements).
std::vector<PreSplit> bpe_stages(const GGUFFile& f, const std::string& pre) {
  if (pre == "smollm" || pre == "starcoder" || pre == "refact" || pre == "command-r" ||
      pre == "codeshell" || pre == "exaone" || pre == "minerva-7b")
    return {PreSplit::kEachNumber, PreSplit::kGpt2};
  if (pre == "gpt-2" || pre == "phi-2" || pre == "mpt" || pre == "olmo" || pre == "jais" ||
      pre == "jina-es" || pre == "jina-de" || pre == "gigachat" || pre == "exaone4")
    return {PreSplit::kGpt2};
  if (pre == "llama3" || pre == "llama-v3" || pre == "llama-bpe" || pre == "falcon3" || pre == "dbrx" ||
      pre == "smaug-bpe" || pre == "chatglm-bpe" || pre == "glm4")
    return {PreSplit::kLlama3};
  if (pre == "qwen2" || pre == "deepseek-r1-qwen" || pre == "stablelm2" || pre == "megrez")
    return {PreSplit::kQwen2};
  throw Error(f.path(), "unsupported tokenizer.ggml.pre '" + pre + "' for a gpt2 tokenizer");
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::from_gguf(const GGUFFile& f) {
  const std::string model = f.get_string("tokenizer.ggml.model", "");
  if (model.empty()) throw Error(f.path(), "no tokenizer (tokenizer.ggml.model missing)");
  if (model != "gpt2" && model != "llama")
    throw Error(f.path(), "unsupported tokenizer.ggml.model '" + model + "'");
  const bool spm = model == "llama";

  const GGUFArray* tokens = optional_array(f, "tokenizer.ggml.tokens");
  if (!tokens || tokens->elem_type != GGUFValueType::STRING)
    throw Error(f.path(), "tokenizer.ggml.tokens missing or not an array of strings");
  const size_t n = tokens->items.size();
  if (n == 0 || n > (1u << 24)) throw Error(f.path(), "tokenizer.ggml.tokens has " + std::to_string(n) + " entries");

  Vocab v;
  v.text.reserve(n);
  for (const GGUFValue& t : tokens->items) v.text.push_back(t.as_string());
  v.score.assign(n, 0.0f);
  if (const GGUFArray* s = optional_array(f, "tokenizer.ggml.scores")) {
    if (s->items.size() < n) throw Error(f.path(), "tokenizer.ggml.scores is shorter than the vocabulary");
    for (size_t i = 0; i < n; ++i) v.score[i] = static_cast<float>(s->items[i].as_double());
  }
  v.attr.assign(n, kAttrNormal);
  if (const GGUFArray* tt = optional_array(f, "tokenizer.ggml.token_type")) {
    if (tt->items.size() < n) throw Error(f.path(), "tokenizer.ggml.token_type is shorter than the vocabulary");
    for (size_t i = 0; i < n; ++i) v.attr[i] = attr_from_gguf_token_type(tt->items[i].as_int());
  }
  v.index(f.path());

  // llama.cpp's defaults per model type, then the metadata.
  v.bos = spm ? 1 : 11;
  v.eos = spm ? 2 : 11;
  v.unk = spm ? 0 : -1;
  const std::string pre = spm ? "" : f.get_string("tokenizer.ggml.pre", "default");
  std::vector<PreSplit> stages;
  if (!spm) stages = bpe_stages(f, pre);
  v.add_bos = spm || stages.front() == PreSplit::kLlama3;
  bool add_space_prefix = spm;
  auto id_key = [&](const char* key, int32_t& id) {
    if (id >= static_cast<int32_t>(n)) id = -1;
    const int64_t x = f.get_int(key, -1);
    if (x >= 0 && x < static_cast<int64_t>(n)) id = static_cast<int32_t>(x);
  };
  id_key("tokenizer.ggml.bos_token_id", v.bos);
  id_key("tokenizer.ggml.eos_token_id", v.eos);
  id_key("tokenizer.ggml.eot_token_id", v.eot);
  id_key("tokenizer.ggml.eom_token_id", v.eom);
  id_key("tokenizer.ggml.unknown_token_id", v.unk);
  id_key("tokenizer.ggml.padding_token_id", v.pad);
  int32_t fim_pad = -1, fim_rep = -1, fim_sep = -1;
  id_key("tokenizer.ggml.fim_pad_token_id", fim_pad);
  id_key("tokenizer.ggml.fim_rep_token_id", fim_rep);
  id_key("tokenizer.ggml.fim_sep_token_id", fim_sep);
  v.add_bos = f.get_bool("tokenizer.ggml.add_bos_token", v.add_bos);
  v.add_eos = f.get_bool("tokenizer.ggml.add_eos_token", false);
  add_space_prefix = f.get_bool("tokenizer.ggml.add_space_prefix", add_space_prefix);
  if (v.add_bos && v.bos < 0) throw Error(f.path(), "tokenizer.ggml.add_bos_token is true but there is no BOS id");
  if (v.add_eos && v.eos < 0) throw Error(f.path(), "tokenizer.ggml.add_eos_token is true but there is no EOS id");
  v.finish_specials(fim_pad, fim_rep, fim_sep);

  if (spm) return std::make_unique<SpmTokenizer>(std::move(v), add_space_prefix);

  const GGUFArray* merges = optional_array(f, "tokenizer.ggml.merges");
  if (!merges || merges->elem_type != GGUFValueType::STRING)
    throw Error(f.path(), "tokenizer.ggml.merges missing or not an array of strings");
  std::vector<std::string> m;
  m.reserve(merges->items.size());
  for (const GGUFValue& x : merges->items) m.push_back(x.as_string());
  const bool ignore_merges = stages.front() == PreSplit::kLlama3;  // llama.cpp sets it for llama3
  return std::make_unique<BpeTokenizer>(std::move(v), m, std::move(stages), ignore_merges);
}

}  // namespace squish
