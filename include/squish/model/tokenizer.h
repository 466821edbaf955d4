// Tokenizers: GGUF-embedded byte-level BPE (gpt2-style) and SentencePiece (llama-style), and HF
// tokenizer.json BPE. One interface for all.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace squish {

class GGUFFile;

// Encodes text to token ids and back, as the model's metadata says.
class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // Builds the tokenizer described by a GGUF file's tokenizer.ggml.* metadata.
  static std::unique_ptr<Tokenizer> from_gguf(const GGUFFile& file);
  // Builds a tokenizer from an HF tokenizer.json (plus tokenizer_config.json beside it if present).
  static std::unique_ptr<Tokenizer> from_hf_json(const std::string& tokenizer_json_path);

  // Text to ids. add_special: add BOS/EOS as the metadata says (add_bos_token ...).
  // parse_special: recognise special-token text such as "<|im_start|>" as single tokens.
  virtual std::vector<int32_t> encode(const std::string& text, bool add_special,
                                      bool parse_special) const = 0;
  // The bytes one token stands for (byte tokens and byte-level BPE decoded to raw bytes).
  virtual std::string token_to_piece(int32_t id) const = 0;
  // Concatenated pieces of ids (special tokens rendered as their text unless skip_special).
  std::string decode(const std::vector<int32_t>& ids, bool skip_special = false) const;

  // Vocabulary size.
  virtual int32_t vocab_size() const = 0;
  // BOS id or -1.
  virtual int32_t bos_id() const = 0;
  // EOS id or -1.
  virtual int32_t eos_id() const = 0;
  // Whether encode(add_special=true) prepends BOS.
  virtual bool add_bos() const = 0;
  // Whether id is a control/special token.
  virtual bool is_special(int32_t id) const = 0;
  // Whether id ends generation (EOS, EOT, <end_of_turn>, <|im_end|> ...).
  virtual bool is_end_of_generation(int32_t id) const = 0;
};

}  // namespace squish
