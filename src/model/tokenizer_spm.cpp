// SentencePiece-style tokenization (llama.cpp's SPM algorithm): split the text into UTF-8
// characters, repeatedly merge the adjacent pair whose concatenation is the highest-scoring token
// (leftmost on ties), then emit each symbol's token or its bytes.
#include "squish/model/tokenizer_spm.h"

#include <cstdio>
#include <cstdlib>

#include "squish/model/unicode.h"
#include "symbol_merge.h"

namespace squish {

namespace {

const std::string kSpace = "\xe2\x96\x81";  // U+2581, SentencePiece's visible space

}  // namespace

SpmTokenizer::SpmTokenizer(Vocab vocab, bool add_space_prefix)
    : VocabTokenizer(std::move(vocab)), add_space_prefix_(add_space_prefix) {
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    int32_t id = vocab_.find(hex);
    if (id < 0) id = vocab_.find(std::string(1, static_cast<char>(b)));
    byte_ids_[b] = id >= 0 ? id : vocab_.unk;
  }
}

void SpmTokenizer::encode_fragment(std::string_view raw, bool prev_special, std::vector<int32_t>& out) const {
  std::string text;
  text.reserve(raw.size() * 2 + 3);
  if (add_space_prefix_ && prev_special) text = kSpace;
  for (char c : raw) {
    if (c == ' ') {
      text += kSpace;
    } else {
      text.push_back(c);
    }
  }
  const auto pieces = detail::merge_symbols(
      text, [&](std::string_view, std::string_view, std::string_view joined) -> std::optional<double> {
        const int32_t id = vocab_.find(joined);  // highest-scoring token merges first
        if (id < 0) return std::nullopt;
        return static_cast<double>(vocab_.score[id]);
      });
  // Every merged symbol is a token; a single character without one falls back to its bytes.
  for (const std::string_view piece : pieces) {
    if (int32_t id = vocab_.find(piece); id >= 0) {
      out.push_back(id);
    } else {
      for (char c : piece)
        if (int32_t id = byte_token(static_cast<uint8_t>(c)); id >= 0) out.push_back(id);
    }
  }
}

std::string SpmTokenizer::token_to_piece(int32_t id) const {
  if (id < 0 || id >= vocab_.size()) return {};
  const uint32_t a = vocab_.attr[id];
  const std::string& t = vocab_.text[id];
  if (a & (kAttrControl | kAttrUnknown | kAttrUserDefined)) return t;
  if (a & kAttrNormal) {
    std::string out;
    out.reserve(t.size());
    for (size_t i = 0; i < t.size();) {
      if (t.compare(i, kSpace.size(), kSpace) == 0) {
        out.push_back(' ');
        i += kSpace.size();
      } else {
        out.push_back(t[i++]);
      }
    }
    return out;
  }
  if ((a & kAttrByte) && t.size() == 6 && t.compare(0, 3, "<0x") == 0)
    return std::string(1, static_cast<char>(std::strtol(t.substr(3, 2).c_str(), nullptr, 16)));
  return {};
}

}  // namespace squish
