// RGB canvas drawing.
#include "canvas.h"

#include <algorithm>
#include <cmath>

#include "bitmap_font.h"

namespace squish::detail {

Canvas::Canvas(int w, int h) : w_(w), h_(h), rgb_(static_cast<size_t>(w) * h * 3, 255) {}

void Canvas::pixel(int x, int y, uint32_t c) {
  if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
  uint8_t* p = &rgb_[(static_cast<size_t>(y) * w_ + x) * 3];
  p[0] = static_cast<uint8_t>(c >> 16);
  p[1] = static_cast<uint8_t>(c >> 8);
  p[2] = static_cast<uint8_t>(c);
}

void Canvas::line(double x0, double y0, double x1, double y1, uint32_t c, int thick) {
  const int steps = static_cast<int>(std::max(std::fabs(x1 - x0), std::fabs(y1 - y0))) + 1;
  for (int i = 0; i <= steps; ++i) {
    const double t = static_cast<double>(i) / steps;
    const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0)));
    const int y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
    for (int dy = 0; dy < thick; ++dy)
      for (int dx = 0; dx < thick; ++dx) pixel(x + dx - thick / 2, y + dy - thick / 2, c);
  }
}

void Canvas::disc(double cx, double cy, double r, uint32_t c) {
  for (int y = static_cast<int>(cy - r); y <= static_cast<int>(cy + r); ++y)
    for (int x = static_cast<int>(cx - r); x <= static_cast<int>(cx + r); ++x)
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) pixel(x, y, c);
}

void Canvas::fill(int x0, int y0, int x1, int y1, uint32_t c) {
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) pixel(x, y, c);
}

void Canvas::text(int x, int y, const std::string& s, int scale, uint32_t c, int align) {
  const int advance = (kGlyphWidth + 1) * scale;
  x -= align * static_cast<int>(s.size()) * advance / 2;
  for (char ch : s) {
    const auto& rows = glyph(ch);
    for (int r = 0; r < kGlyphHeight; ++r)
      for (int col = 0; col < kGlyphWidth; ++col)
        if (rows[r] & (0x10 >> col)) fill(x + col * scale, y + r * scale, x + (col + 1) * scale, y + (r + 1) * scale, c);
    x += advance;
  }
}

}  // namespace squish::detail
