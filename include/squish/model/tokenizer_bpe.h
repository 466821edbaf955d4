// Byte-level BPE (GPT-2 style): pre-tokenizer stages, GPT-2 byte encoding, merges by rank.
#pragma once
#include <string>
#include <utility>
#include <vector>

#include "squish/model/tokenizer_pretokenize.h"
#include "squish/model/tokenizer_vocab.h"

namespace squish {

// Byte-level BPE over a vocabulary whose tokens are GPT-2-encoded byte strings.
class BpeTokenizer : public VocabTokenizer {
 public:
  // merges: "left right" strings in rank order (rank = index; the first of duplicates wins).
  BpeTokenizer(Vocab vocab, const std::vector<std::string>& merges, std::vector<PreSplit> stages,
               bool ignore_merges = false);

  std::string token_to_piece(int32_t id) const override;
  // Rank of merging left and right, or -1.
  int rank(std::string_view left, std::string_view right) const;

 protected:
  void encode_fragment(std::string_view text, bool prev_special, std::vector<int32_t>& out) const override;

 private:
  // Appends the ids of one pre-tokenized, byte-encoded word.
  void encode_word(const std::string& word, std::vector<int32_t>& out) const;

  TextMap<int> ranks_;
  std::vector<PreSplit> stages_;
  bool ignore_merges_;
};

}  // namespace squish
