// Internal: HF tokenizer files from a GGUF source's tokenizer metadata.
#pragma once
#include <string>

#include "squish/export/model_source.h"

namespace squish {

// Writes tokenizer.json and tokenizer_config.json into dir for a byte-level BPE GGUF tokenizer of a
// known pre-type or a SentencePiece-style ("llama") one (plus its tokenizer.model); returns false
// (writing nothing) for tokenizers it cannot express.
bool write_hf_tokenizer_from_gguf(const ModelSource& src, const std::string& dir);

}  // namespace squish
