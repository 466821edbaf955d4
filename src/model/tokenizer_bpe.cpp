// Byte-level BPE: split into words, map bytes to GPT-2 characters, then repeatedly merge the
// adjacent pair of lowest rank (leftmost first on ties) until no pair has a rank.
#include "squish/model/tokenizer_bpe.h"

#include <cstdlib>

#include "squish/model/unicode.h"
#include "symbol_merge.h"

namespace squish {

BpeTokenizer::BpeTokenizer(Vocab vocab, const std::vector<std::string>& merges, std::vector<PreSplit> stages,
                           bool ignore_merges)
    : VocabTokenizer(std::move(vocab)), stages_(std::move(stages)), ignore_merges_(ignore_merges) {
  ranks_.reserve(merges.size());
  for (size_t i = 0; i < merges.size(); ++i) {
    const std::string& m = merges[i];
    const size_t sp = m.find(' ', 1);
    if (sp == std::string::npos) continue;
    ranks_.emplace(m, static_cast<int>(i));
  }
}

int BpeTokenizer::rank(std::string_view left, std::string_view right) const {
  thread_local std::string key;
  key.assign(left);
  key.push_back(' ');
  key.append(right);
  auto it = ranks_.find(std::string_view(key));
  return it == ranks_.end() ? -1 : it->second;
}

void BpeTokenizer::encode_word(const std::string& word, std::vector<int32_t>& out) const {
  if (ignore_merges_) {
    if (int32_t id = vocab_.find(word); id >= 0) {
      out.push_back(id);
      return;
    }
  }
  const auto pieces = detail::merge_symbols(
      word, [&](std::string_view l, std::string_view r, std::string_view) -> std::optional<double> {
        const int rk = rank(l, r);  // lower rank merges first
        if (rk < 0) return std::nullopt;
        return -static_cast<double>(rk);
      });
  for (const std::string_view piece : pieces) {
    if (int32_t id = vocab_.find(piece); id >= 0) {
      out.push_back(id);
    } else {
      // llama.cpp's fallback: look each byte up as a one-byte token (ASCII characters only exist).
      for (char c : piece)
        if (int32_t bid = vocab_.find(std::string_view(&c, 1)); bid >= 0) out.push_back(bid);
    }
  }
}

void BpeTokenizer::encode_fragment(std::string_view text, bool /*prev_special*/,
                                   std::vector<int32_t>& out) const {
  const std::vector<uint32_t> cps = unicode::decode_utf8(text);
  const std::vector<size_t> words = pre_split(cps, stages_);
  TextMap<std::vector<int32_t>> cache;  // words repeat a lot in running text
  std::string raw, word;
  size_t start = 0;
  for (size_t len : words) {
    raw.clear();
    for (size_t i = start; i < start + len; ++i) unicode::append_utf8(raw, cps[i]);
    start += len;
    word = unicode::bytes_to_chars(raw);
    auto it = cache.find(std::string_view(word));
    if (it == cache.end()) {
      std::vector<int32_t> ids;
      encode_word(word, ids);
      it = cache.emplace(word, std::move(ids)).first;
    }
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
}

std::string BpeTokenizer::token_to_piece(int32_t id) const {
  if (id < 0 || id >= vocab_.size()) return {};
  const uint32_t a = vocab_.attr[id];
  const std::string& t = vocab_.text[id];
  if (a & (kAttrControl | kAttrUnknown | kAttrUserDefined)) return t;
  if (a & kAttrNormal) {
    std::string out;
    for (uint32_t cp : unicode::decode_utf8(t)) {
      const int b = unicode::char_to_byte(cp);
      if (b >= 0) {
        out.push_back(static_cast<char>(b));
      } else {
        unicode::append_utf8(out, cp);  // not a byte character: keep it as text
      }
    }
    return out;
  }
  if ((a & kAttrByte) && t.size() == 6 && t.compare(0, 3, "<0x") == 0)
    return std::string(1, static_cast<char>(std::strtol(t.substr(3, 2).c_str(), nullptr, 16)));
  return {};
}

}  // namespace squish
