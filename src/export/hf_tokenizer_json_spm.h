// Internal: tokenizer.json for a SentencePiece-style ("llama") GGUF tokenizer, laid out like HF's
// own Gemma/Llama tokenizer.json (a byte-fallback BPE whose merges come from the piece scores).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "squish/export/model_source.h"

namespace squish {

// Merges of a SentencePiece vocabulary as transformers' SentencePieceExtractor derives them: every
// split of a piece into two vocabulary pieces, ordered by the piece's score (highest first), then
// by the longer left part, then the longer right part, then by id. Returns (left id, right id).
std::vector<std::pair<int32_t, int32_t>> spm_merges(const std::vector<std::string>& tokens,
                                                    const std::vector<float>& scores);

// The tokenizer.json text for src's "llama" tokenizer, or nullopt when src has none (or its
// tokens are not valid UTF-8, which JSON cannot hold).
std::optional<std::string> spm_tokenizer_json(const ModelSource& src);

}  // namespace squish
