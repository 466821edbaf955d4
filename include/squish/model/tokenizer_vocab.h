// The vocabulary shared by squish's tokenizers: token texts, scores, attributes, special ids, the
// special-token partition of raw text (llama.cpp's rules) and the common Tokenizer plumbing.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "squish/model/tokenizer.h"

namespace squish {

// Token attributes (llama.cpp's llama_token_attr bits).
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,
  kAttrRstrip = 1u << 8,
};

// Attribute of a GGUF tokenizer.ggml.token_type value (1 normal, 2 unknown, 3 control, 4 user
// defined, 5 unused, 6 byte).
uint32_t attr_from_gguf_token_type(int64_t type);

// Hash accepting std::string and std::string_view alike (heterogeneous lookup).
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
// Map from text to a value, searchable by string_view.
template <typename V>
using TextMap = std::unordered_map<std::string, V, StringHash, std::equal_to<>>;

// One piece of partitioned input: a special token, or a byte range of raw text.
struct TextFragment {
  int32_t token = -1;  // >= 0 for a special token
  size_t offset = 0, length = 0;
};

// Token table and special-token bookkeeping.
struct Vocab {
  std::vector<std::string> text;
  std::vector<float> score;
  std::vector<uint32_t> attr;
  TextMap<int32_t> to_id;

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, pad = -1;
  bool add_bos = false, add_eos = false;
  std::vector<uint8_t> eog;  // per id: ends generation

  // Number of tokens.
  int32_t size() const { return static_cast<int32_t>(text.size()); }
  // Id of exactly this text, or -1.
  int32_t find(std::string_view s) const {
    auto it = to_id.find(s);
    return it == to_id.end() ? -1 : it->second;
  }
  // Fills to_id from text; throws Error(source, ...) on duplicates.
  void index(const std::string& source);
  // Marks end-of-generation tokens and control-looking ones as llama.cpp does (eos/eot/eom ids,
  // FIM pad/repo/sep and the known end-of-turn texts); call after the ids are set.
  void finish_specials(int32_t fim_pad = -1, int32_t fim_rep = -1, int32_t fim_sep = -1);
  // Splits text into raw fragments and special tokens. Control/unknown tokens are recognised only
  // when parse_special; user-defined tokens always (llama.cpp's tokenizer_st_partition).
  std::vector<TextFragment> partition(std::string_view text, bool parse_special) const;

 private:
  std::vector<int32_t> special_by_length_;  // special ids, longest text first
};

// A tokenizer over a Vocab: special-token partition, BOS/EOS and the id queries; subclasses
// encode raw text fragments.
class VocabTokenizer : public Tokenizer {
 public:
  explicit VocabTokenizer(Vocab vocab) : vocab_(std::move(vocab)) {}

  std::vector<int32_t> encode(const std::string& text, bool add_special,
                              bool parse_special) const override;
  int32_t vocab_size() const override { return vocab_.size(); }
  int32_t bos_id() const override { return vocab_.bos; }
  int32_t eos_id() const override { return vocab_.eos; }
  bool add_bos() const override { return vocab_.add_bos; }
  bool is_special(int32_t id) const override;
  bool is_end_of_generation(int32_t id) const override;
  // The vocabulary.
  const Vocab& vocab() const { return vocab_; }

 protected:
  // Appends the ids of one raw-text fragment. prev_special: the fragment follows BOS, a special
  // token or starts the text.
  virtual void encode_fragment(std::string_view text, bool prev_special,
                               std::vector<int32_t>& out) const = 0;
  Vocab vocab_;
};

}  // namespace squish
