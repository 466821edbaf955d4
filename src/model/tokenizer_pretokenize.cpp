// Hand-written matchers for the BPE pre-tokenizer regexes (leftmost alternative wins, greedy
// quantifiers), over Unicode category flags.
#include "squish/model/tokenizer_pretokenize.h"

#include "squish/model/unicode.h"

namespace squish {

namespace {

constexpr uint32_t kNone = 0xFFFFFFFFu;  // "past the end of the word"

// View of one word being split: code points [begin, end) of the whole text.
class Word {
 public:
  Word(const std::vector<uint32_t>& cps, size_t begin, size_t end) : cps_(cps), begin_(begin), end_(end) {}
  uint32_t cp(size_t i) const { return i >= begin_ && i < end_ ? cps_[i] : kNone; }
  // Flags; 0 outside the word, so no class test matches there.
  uint16_t fl(size_t i) const { return i >= begin_ && i < end_ ? unicode::flags(cps_[i]) : 0; }
  bool letter(size_t i) const { return fl(i) & unicode::LETTER; }
  bool number(size_t i) const { return fl(i) & unicode::NUMBER; }
  bool space(size_t i) const { return fl(i) & unicode::WHITESPACE; }
  // [^\s\p{L}\p{N}]: a code point of the word that is neither whitespace, letter nor number.
  bool other(size_t i) const {
    const uint16_t f = fl(i);
    return f != 0 && !(f & (unicode::WHITESPACE | unicode::LETTER | unicode::NUMBER));
  }
  size_t begin() const { return begin_; }
  size_t end() const { return end_; }

 private:
  const std::vector<uint32_t>& cps_;
  size_t begin_, end_;
};

uint32_t ascii_lower(uint32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// Length of a contraction ('s 't 're 've 'm 'll 'd) at pos, or 0. any_case: (?i:...).
size_t contraction(const Word& w, size_t pos, bool any_case) {
  if (w.cp(pos) != '\'') return 0;
  auto low = [&](size_t i) { return any_case ? ascii_lower(w.cp(i)) : w.cp(i); };
  const uint32_t a = low(pos + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
  const uint32_t b = low(pos + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
  return 0;
}

// \s+(?!\S) then \s+ : whitespace run at pos, leaving the last one to prefix a following word.
size_t whitespace_run(const Word& w, size_t pos) {
  size_t n = 0;
  while (w.space(pos + n)) ++n;
  if (n > 1 && w.cp(pos + n) != kNone) return n - 1;
  return n;
}

// Length of the GPT-2 match at pos (always >= 1).
size_t match_gpt2(const Word& w, size_t pos) {
  if (size_t n = contraction(w, pos, false)) return n;
  const size_t q = pos + (w.cp(pos) == ' ' ? 1 : 0);  // optional leading space
  size_t e = q;
  if (w.letter(q)) {
    while (w.letter(e)) ++e;
    return e - pos;
  }
  if (w.number(q)) {
    while (w.number(e)) ++e;
    return e - pos;
  }
  if (w.other(q)) {
    while (w.other(e)) ++e;
    return e - pos;
  }
  if (size_t n = whitespace_run(w, pos)) return n;
  return 1;
}

// Length of the Llama 3 / Qwen2 match at pos (always >= 1). max_digits: 3 or 1.
size_t match_llama3(const Word& w, size_t pos, size_t max_digits) {
  if (size_t n = contraction(w, pos, true)) return n;
  const uint32_t c = w.cp(pos);
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (c != '\r' && c != '\n' && !w.number(pos) && (w.letter(pos) || w.letter(pos + 1))) {
    size_t e = pos + 1;
    while (w.letter(e)) ++e;
    return e - pos;
  }
  // \p{N}{1,max}
  if (w.number(pos)) {
    size_t e = pos;
    while (e - pos < max_digits && w.number(e)) ++e;
    return e - pos;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  const size_t q = pos + (c == ' ' ? 1 : 0);
  if (w.other(q)) {
    size_t e = q;
    while (w.other(e)) ++e;
    while (w.cp(e) == '\r' || w.cp(e) == '\n') ++e;
    return e - pos;
  }
  // \s*[\r\n]+ : the longest whitespace run ending in \r or \n
  size_t n = 0, last_nl = 0;
  while (w.space(pos + n)) {
    if (w.cp(pos + n) == '\r' || w.cp(pos + n) == '\n') last_nl = n + 1;
    ++n;
  }
  if (last_nl > 0) return last_nl;
  if (size_t m = whitespace_run(w, pos)) return m;
  return 1;
}

void split_stage(const std::vector<uint32_t>& cps, PreSplit stage, const std::vector<size_t>& in,
                 std::vector<size_t>& out) {
  out.clear();
  out.reserve(in.size() * 2);
  size_t start = 0;
  for (size_t len : in) {
    const Word w(cps, start, start + len);
    if (stage == PreSplit::kEachNumber) {
      size_t run = start;  // start of the pending non-number run
      for (size_t i = start; i < w.end(); ++i) {
        if (!w.number(i)) continue;
        if (i > run) out.push_back(i - run);
        out.push_back(1);
        run = i + 1;
      }
      if (w.end() > run) out.push_back(w.end() - run);
    } else {
      for (size_t pos = start; pos < w.end();) {
        size_t n = stage == PreSplit::kGpt2     ? match_gpt2(w, pos)
                   : stage == PreSplit::kLlama3 ? match_llama3(w, pos, 3)
                                                : match_llama3(w, pos, 1);
        out.push_back(n);
        pos += n;
      }
    }
    start += len;
  }
}

}  // namespace

std::vector<size_t> pre_split(const std::vector<uint32_t>& cps, const std::vector<PreSplit>& stages) {
  std::vector<size_t> words, next;
  if (cps.empty()) return words;
  words.push_back(cps.size());
  for (PreSplit s : stages) {
    split_stage(cps, s, words, next);
    words.swap(next);
  }
  return words;
}

bool pre_split_from_regex(const std::string& regex, PreSplit& stage) {
  static const char* kGpt2a = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
  static const char* kGpt2b =
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
  static const char* kLlama3a =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
      "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  static const char* kLlama3b =
      "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
      "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  static const char* kQwen2a =
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
      "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  if (regex == kGpt2a || regex == kGpt2b) {
    stage = PreSplit::kGpt2;
  } else if (regex == kLlama3a || regex == kLlama3b) {
    stage = PreSplit::kLlama3;
  } else if (regex == kQwen2a) {
    stage = PreSplit::kQwen2;
  } else if (regex == "\\p{N}") {
    stage = PreSplit::kEachNumber;
  } else {
    return false;
  }
  return true;
}

}  // namespace squish
