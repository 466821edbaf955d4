// Internal: a SentencePiece tokenizer.model (ModelProto) for a "llama" GGUF tokenizer, which HF
// checkpoints of SentencePiece models ship beside tokenizer.json (slow tokenizers and GGUF
// converters read its scores).
#pragma once
#include <optional>
#include <string>

#include "squish/export/model_source.h"

namespace squish {

// Serialized ModelProto of src's pieces (text, score, GGUF token type = SentencePiece piece type),
// a BPE trainer_spec with byte fallback and the special ids, and a normalizer_spec with the
// GGUF's add_space_prefix; nullopt when src has no "llama" tokenizer.
std::optional<std::string> spm_model_proto(const ModelSource& src);

}  // namespace squish
