// A 5×7 bitmap font (digits, upper-case letters — lower case is drawn upper case — and common
// punctuation) for text in PNG charts.
#pragma once
#include <array>
#include <cstdint>

namespace squish::detail {

// Width and height of a glyph in pixels (plus one column of spacing when drawn).
inline constexpr int kGlyphWidth = 5, kGlyphHeight = 7;

// Rows of the glyph for c, top to bottom; bit 4 is the leftmost column. Unknown characters
// give '?'.
const std::array<uint8_t, kGlyphHeight>& glyph(char c);

}  // namespace squish::detail
