// Unicode helpers for the tokenizers: UTF-8 decoding with llama.cpp's error handling, code point
// category flags (from a generated table), and GPT-2's byte <-> printable-character mapping.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace squish::unicode {

// Category flags of a code point (one class bit, plus WHITESPACE where it applies).
enum Flag : uint16_t {
  UNDEFINED = 0x0001,    // unassigned (Cn) or out of range
  NUMBER = 0x0002,       // \p{N}
  LETTER = 0x0004,       // \p{L}
  SEPARATOR = 0x0008,    // \p{Z}
  MARK = 0x0010,         // \p{M}
  PUNCTUATION = 0x0020,  // \p{P}
  SYMBOL = 0x0040,       // \p{S}
  CONTROL = 0x0080,      // \p{C} other than Cn
  WHITESPACE = 0x0100,   // \s (White_Space)
};

// One run of the generated table: code points from `first` up to the next run share `flags`.
struct FlagRange {
  uint32_t first;
  uint16_t flags;
};
extern const FlagRange kFlagRanges[];
extern const size_t kFlagRangeCount;
// Unicode version the table was generated from.
extern const char* const kUnicodeVersion;

// Flags of a code point (UNDEFINED above U+10FFFF).
uint16_t flags(uint32_t cp);

// Byte length of the UTF-8 sequence a lead byte announces (1 for stray continuation bytes).
inline size_t utf8_len(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Decodes UTF-8 to code points; each malformed byte becomes U+FFFD (llama.cpp's rule).
std::vector<uint32_t> decode_utf8(std::string_view s);
// Appends the UTF-8 encoding of cp.
void append_utf8(std::string& out, uint32_t cp);

// GPT-2 byte-level encoding: the UTF-8 text of the printable character standing for byte b.
const std::string& byte_to_char(uint8_t b);
// Inverse of byte_to_char for one code point: the byte, or -1 when cp stands for no byte.
int char_to_byte(uint32_t cp);
// Maps every byte of raw to its GPT-2 character (UTF-8).
std::string bytes_to_chars(std::string_view raw);

}  // namespace squish::unicode
