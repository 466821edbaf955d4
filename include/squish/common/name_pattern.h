// Regular expressions for module-name targets ("re:..." in recipes and compressed-tensors configs),
// in Python `re` syntax, matched in time linear in pattern × name (no backtracking).
#pragma once
#include <bitset>
#include <cstdint>
#include <string>
#include <vector>

namespace squish {

// A compiled pattern. Supports literals and escapes, `.`, classes `[...]` (ranges, negation, \d \w
// \s and their negations), groups `(...)` / `(?:...)` / `(?P<name>...)`, `|`, `* + ? {m} {m,}
// {,n} {m,n}` (lazy forms too) and the anchors `^ $ \A \Z`. Anything else (back-references,
// look-around, word boundaries, inline flags) is refused, as are patterns over 4096 bytes, 100
// levels of nesting or 65536 compiled steps. Bytes are matched one by one (`.` is one byte).
class NamePattern {
 public:
  // Compiles `pattern`; throws squish::Error("", "<why>") when it is invalid or unsupported.
  explicit NamePattern(const std::string& pattern);

  // Python's re.match: true when the pattern matches a prefix of `s` (anchored at the start only).
  bool match_prefix(const std::string& s) const;

  // One step of the compiled program.
  struct Step {
    enum Op : uint8_t { Byte, Set, Split, Jump, Begin, End, Accept } op;
    int32_t x = 0, y = 0;  // Byte: the byte; Set: index of the set; Split: both targets; Jump: x;
                           // End: y = 1 for `$` (also before a final newline), 0 for `\Z`
  };

 private:
  std::vector<Step> prog_;
  std::vector<std::bitset<256>> sets_;
};

}  // namespace squish
