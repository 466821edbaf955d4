// Unicode helpers: flag lookup (flat table for the BMP, binary search above), UTF-8, GPT-2 bytes.
#include "squish/model/unicode.h"

#include <algorithm>
#include <array>

namespace squish::unicode {

namespace {

// Flags of every BMP code point, expanded once from the range table.
const std::vector<uint16_t>& bmp_flags() {
  static const std::vector<uint16_t> table = [] {
    std::vector<uint16_t> t(0x10000, UNDEFINED);
    for (size_t i = 0; i < kFlagRangeCount && kFlagRanges[i].first < 0x10000; ++i) {
      const uint32_t end = i + 1 < kFlagRangeCount ? std::min<uint32_t>(kFlagRanges[i + 1].first, 0x10000)
                                                   : 0x10000;
      std::fill(t.begin() + kFlagRanges[i].first, t.begin() + end, kFlagRanges[i].flags);
    }
    return t;
  }();
  return table;
}

// GPT-2's table: printable bytes stand for themselves, the rest map to U+0100 upwards.
struct ByteMap {
  std::array<std::string, 256> to_char;
  std::array<int16_t, 0x144> to_byte;  // code points up to U+0143 are used
  ByteMap() {
    to_byte.fill(-1);
    int next = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      const uint32_t cp = printable ? b : 256 + next++;
      append_utf8(to_char[b], cp);
      to_byte[cp] = static_cast<int16_t>(b);
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

}  // namespace

uint16_t flags(uint32_t cp) {
  if (cp < 0x10000) return bmp_flags()[cp];
  if (cp >= 0x110000) return UNDEFINED;
  const FlagRange* end = kFlagRanges + kFlagRangeCount;
  const FlagRange* it = std::upper_bound(kFlagRanges, end, cp,
                                         [](uint32_t c, const FlagRange& r) { return c < r.first; });
  return (it - 1)->flags;
}

std::vector<uint32_t> decode_utf8(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  auto cont = [&](size_t k) { return i + k < n && (p[i + k] & 0xC0) == 0x80; };
  while (i < n) {
    const uint8_t c = p[i];
    if (c < 0x80) {
      out.push_back(c);
      i += 1;
    } else if ((c & 0xE0) == 0xC0 && cont(1)) {
      out.push_back(((c & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu));
      i += 2;
    } else if ((c & 0xF0) == 0xE0 && cont(1) && cont(2)) {
      out.push_back(((c & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu));
      i += 3;
    } else if ((c & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
      out.push_back(((c & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) |
                    (p[i + 3] & 0x3Fu));
      i += 4;
    } else {
      out.push_back(0xFFFD);
      i += 1;
    }
  }
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | ((cp >> 18) & 0x07)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

const std::string& byte_to_char(uint8_t b) { return byte_map().to_char[b]; }

int char_to_byte(uint32_t cp) {
  const auto& m = byte_map().to_byte;
  return cp < m.size() ? m[cp] : -1;
}

std::string bytes_to_chars(std::string_view raw) {
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char c : raw) out += byte_to_char(c);
  return out;
}

}  // namespace squish::unicode
