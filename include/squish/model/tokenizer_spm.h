// SentencePiece-style BPE as llama.cpp runs it for tokenizer.ggml.model = "llama": spaces become
// U+2581, characters merge pairwise by token score, unknown characters fall back to <0xXX> bytes.
#pragma once
#include "squish/model/tokenizer_vocab.h"

namespace squish {

// Score-driven bigram merging over UTF-8 characters with byte fallback.
class SpmTokenizer : public VocabTokenizer {
 public:
  // add_space_prefix: prepend a space to raw text that starts the input or follows a special token.
  SpmTokenizer(Vocab vocab, bool add_space_prefix);

  std::string token_to_piece(int32_t id) const override;

 protected:
  void encode_fragment(std::string_view text, bool prev_special, std::vector<int32_t>& out) const override;

 private:
  int32_t byte_token(uint8_t b) const { return byte_ids_[b]; }

  bool add_space_prefix_;
  int32_t byte_ids_[256];
};

}  // namespace squish
