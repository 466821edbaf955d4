// Vocabulary bookkeeping, special-token partition, and the encode/decode plumbing shared by the
// BPE and SentencePiece tokenizers.
#include "squish/model/tokenizer_vocab.h"

#include <algorithm>
#include <cctype>

#include "squish/common/error.h"

namespace squish {

uint32_t attr_from_gguf_token_type(int64_t type) {
  switch (type) {
    case 1: return kAttrNormal;
    case 2: return kAttrUnknown;
    case 3: return kAttrControl;
    case 4: return kAttrUserDefined;
    case 5: return kAttrUnused;
    case 6: return kAttrByte;
    default: return kAttrUndefined;
  }
}

void Vocab::index(const std::string& source) {
  to_id.clear();
  to_id.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i].empty()) text[i] = "[EMPTY_" + std::to_string(i) + "]";
    if (!to_id.emplace(text[i], static_cast<int32_t>(i)).second)
      throw Error(source, "duplicate token in vocabulary: '" + text[i] + "' (id " +
                              std::to_string(i) + ")");
  }
  if (score.size() != text.size()) score.resize(text.size(), 0.0f);
  if (attr.size() != text.size()) attr.resize(text.size(), kAttrNormal);
}

void Vocab::finish_specials(int32_t fim_pad, int32_t fim_rep, int32_t fim_sep) {
  const int32_t n = size();
  auto valid = [n](int32_t id) { return id >= 0 && id < n; };
  auto by_text = [this](std::initializer_list<const char*> names) {
    for (const char* s : names)
      if (int32_t id = find(s); id >= 0) return id;
    return -1;
  };
  // Texts llama.cpp recognises (src/llama-vocab.cpp, special token auto-detection).
  if (!valid(eot))
    eot = by_text({"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                   "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<end_of_utterance>"});
  if (!valid(eom)) eom = by_text({"<|eom_id|>"});
  if (!valid(fim_pad)) fim_pad = by_text({"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"});
  if (!valid(fim_rep))
    fim_rep = by_text({"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"});
  if (!valid(fim_sep)) fim_sep = by_text({"<|file_sep|>"});
  for (const char* s : {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "\xe2\x96\x81<PRE>",
                        "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<SUF>", "\xe2\x96\x81<SUF>",
                        "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<MID>", "\xe2\x96\x81<MID>"})
    if (int32_t id = find(s); id >= 0) attr[id] |= kAttrControl;

  eog.assign(n, 0);
  auto mark = [&](int32_t id) {
    if (valid(id)) {
      eog[id] = 1;
      attr[id] |= kAttrControl;
    }
  };
  mark(fim_pad);
  mark(fim_rep);
  mark(fim_sep);
  mark(eot);
  mark(eom);
  for (const char* s : {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
                        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
                        "<|end_of_text|>", "<end_of_utterance>", "<eos>"})
    mark(find(s));
  if (valid(eos)) eog[eos] = 1;
  for (int32_t id = 0; id < n; ++id)
    if ((attr[id] & kAttrControl) && text[id].find("unused") != std::string::npos) attr[id] |= kAttrUnused;

  special_by_length_.clear();
  for (int32_t id = 0; id < n; ++id)
    if (attr[id] & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_by_length_.push_back(id);
  std::stable_sort(special_by_length_.begin(), special_by_length_.end(),
                   [this](int32_t a, int32_t b) { return text[a].size() > text[b].size(); });
}

namespace {

// A byte trie over special-token texts, to learn which of them occur in a text in one pass.
class SpecialTrie {
 public:
  void insert(std::string_view s, int32_t id) {
    int32_t node = 0;
    for (unsigned char c : s) node = child(node, c, true);
    nodes_[node].id = id;
  }
  // Calls found(id) for every inserted text occurring in s (possibly several times).
  template <typename F>
  void scan(std::string_view s, F&& found) const {
    for (size_t i = 0; i < s.size(); ++i) {
      int32_t node = 0;
      for (size_t j = i; j < s.size(); ++j) {
        node = child_const(node, static_cast<unsigned char>(s[j]));
        if (node < 0) break;
        if (nodes_[node].id >= 0) found(nodes_[node].id);
      }
    }
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> next;
    int32_t id = -1;
  };
  std::vector<Node> nodes_{Node{}};
  int32_t child(int32_t node, unsigned char c, bool create) {
    for (auto& [k, v] : nodes_[node].next)
      if (k == c) return v;
    if (!create) return -1;
    nodes_.push_back(Node{});
    const int32_t id = static_cast<int32_t>(nodes_.size() - 1);
    nodes_[node].next.emplace_back(c, id);
    return id;
  }
  int32_t child_const(int32_t node, unsigned char c) const {
    for (const auto& [k, v] : nodes_[node].next)
      if (k == c) return v;
    return -1;
  }
};

}  // namespace

std::vector<TextFragment> Vocab::partition(std::string_view text, bool parse_special) const {
  std::vector<TextFragment> frags;
  if (text.empty()) return frags;
  frags.push_back({-1, 0, text.size()});

  // Candidates in llama.cpp's order (longest first); keep only those present in the text.
  std::vector<int32_t> candidates;
  for (int32_t id : special_by_length_)
    if (parse_special || !(attr[id] & (kAttrControl | kAttrUnknown))) candidates.push_back(id);
  if (candidates.empty()) return frags;
  SpecialTrie trie;
  for (int32_t id : candidates) trie.insert(this->text[id], id);
  std::vector<uint8_t> present(size(), 0);
  trie.scan(text, [&](int32_t id) { present[id] = 1; });

  for (int32_t id : candidates) {
    if (!present[id]) continue;
    const std::string& tok = this->text[id];
    std::vector<TextFragment> next;
    next.reserve(frags.size() + 8);
    for (const TextFragment& f : frags) {
      if (f.token >= 0) {
        next.push_back(f);
        continue;
      }
      size_t off = f.offset, len = f.length;
      while (len > 0) {
        const size_t m = text.substr(0, off + len).find(tok, off);
        if (m == std::string_view::npos) {
          next.push_back({-1, off, len});
          break;
        }
        size_t left_len = m - off;
        if (attr[id] & kAttrLstrip)
          while (left_len > 0 && std::isspace(static_cast<unsigned char>(text[off + left_len - 1]))) --left_len;
        if (left_len > 0) next.push_back({-1, off, left_len});
        next.push_back({id, 0, 0});
        size_t right_off = m + tok.size();
        size_t right_len = off + len - right_off;
        if (attr[id] & kAttrRstrip)
          while (right_len > 0 && std::isspace(static_cast<unsigned char>(text[right_off]))) {
            ++right_off;
            --right_len;
          }
        off = right_off;
        len = right_len;
      }
    }
    frags.swap(next);
  }
  return frags;
}

std::vector<int32_t> VocabTokenizer::encode(const std::string& text, bool add_special,
                                            bool parse_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && vocab_.add_bos && vocab_.bos >= 0) out.push_back(vocab_.bos);
  bool prev_special = true;
  for (const TextFragment& f : vocab_.partition(text, parse_special)) {
    if (f.token >= 0) {
      out.push_back(f.token);
      prev_special = true;
    } else {
      encode_fragment(std::string_view(text).substr(f.offset, f.length), prev_special, out);
      prev_special = false;
    }
  }
  if (add_special && vocab_.add_eos && vocab_.eos >= 0) out.push_back(vocab_.eos);
  return out;
}

bool VocabTokenizer::is_special(int32_t id) const {
  return id >= 0 && id < vocab_.size() && (vocab_.attr[id] & (kAttrControl | kAttrUnknown));
}

bool VocabTokenizer::is_end_of_generation(int32_t id) const {
  return id >= 0 && id < vocab_.size() && vocab_.eog[id];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special) const {
  std::string out;
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab_size()) continue;
    if (skip_special && is_special(id)) continue;
    out += token_to_piece(id);
  }
  return out;
}

}  // namespace squish
