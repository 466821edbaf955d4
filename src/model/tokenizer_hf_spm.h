// Internal: the SentencePiece-style tokenizer.json (a `tokenizers` BPE with byte_fallback, spaces
// normalized to U+2581, as HF writes for Gemma and Llama 2) read into squish's SpmTokenizer.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "squish/model/tokenizer_vocab.h"

namespace squish {

// Checks that tokenizer.json j's normalizer and pre-tokenizer are the SentencePiece ones squish
// runs (Replace " " -> U+2581, optionally after Prepend U+2581; no pre-tokenizer, or a Split on " "
// which the normalizer leaves nothing to do for); throws Error(path, ...) otherwise. Returns
// whether the normalizer prepends U+2581 (SentencePiece's add_dummy_prefix).
bool check_hf_spm_pipeline(const std::string& path, const nlohmann::json& j);

// Completes v for SpmTokenizer from the BPE model object: scores from the merge order (a token's
// score is minus the rank of the first merge that makes it, so higher-ranked merges win), byte
// tokens <0xXX> marked as bytes, and the unknown token.
void set_hf_spm_vocab(const std::string& path, const nlohmann::json& model, Vocab& v);

}  // namespace squish
