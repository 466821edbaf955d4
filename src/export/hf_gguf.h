// Internal: GGUF metadata for an HF model directory, as llama.cpp's convert_hf_to_gguf.py writes it.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "squish/io/gguf_value.h"
#include "squish/io/hf_model_dir.h"

namespace squish {

// GGUF metadata list, in write order.
using GGUFMetadata = std::vector<std::pair<std::string, GGUFValue>>;

// general.* and <arch>.* hyper-parameter keys from config.json (general.file_type = ALL_F32);
// throws Error(dir, …) for settings GGUF cannot express.
void add_hf_model_metadata(const HFModelDir& dir, GGUFMetadata& out);

// tokenizer.ggml.* keys and tokenizer.chat_template from tokenizer.model (SentencePiece → "llama")
// or tokenizer.json (byte-level BPE → "gpt2"), tokenizer_config.json and config.json; throws
// Error(dir, …) when the tokenizer is missing or of a kind squish cannot convert.
void add_hf_tokenizer_metadata(const HFModelDir& dir, GGUFMetadata& out);

}  // namespace squish
