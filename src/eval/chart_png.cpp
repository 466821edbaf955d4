// PNG rendering of a chart: a small RGB canvas with lines, discs and 5×7 bitmap text.
#include <algorithm>
#include <cmath>

#include "bitmap_font.h"
#include "png_encoder.h"
#include "squish/eval/chart.h"

namespace squish {

namespace {

class Canvas {
 public:
  Canvas(int w, int h) : w_(w), h_(h), rgb_(static_cast<size_t>(w) * h * 3, 255) {}

  void pixel(int x, int y, uint32_t c) {
    if (x < 0 || y < 0 || x >= w_ || y >= h_) return;
    uint8_t* p = &rgb_[(static_cast<size_t>(y) * w_ + x) * 3];
    p[0] = static_cast<uint8_t>(c >> 16);
    p[1] = static_cast<uint8_t>(c >> 8);
    p[2] = static_cast<uint8_t>(c);
  }

  // A line `thick` pixels wide (square pen), stepping along the longer axis.
  void line(double x0, double y0, double x1, double y1, uint32_t c, int thick = 1) {
    const int steps = static_cast<int>(std::max(std::fabs(x1 - x0), std::fabs(y1 - y0))) + 1;
    for (int i = 0; i <= steps; ++i) {
      const double t = static_cast<double>(i) / steps;
      const int x = static_cast<int>(std::lround(x0 + t * (x1 - x0)));
      const int y = static_cast<int>(std::lround(y0 + t * (y1 - y0)));
      for (int dy = 0; dy < thick; ++dy)
        for (int dx = 0; dx < thick; ++dx) pixel(x + dx - thick / 2, y + dy - thick / 2, c);
    }
  }

  void disc(double cx, double cy, double r, uint32_t c) {
    for (int y = static_cast<int>(cy - r); y <= static_cast<int>(cy + r); ++y)
      for (int x = static_cast<int>(cx - r); x <= static_cast<int>(cx + r); ++x)
        if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) pixel(x, y, c);
  }

  // Text whose top-left corner is (x, y); align: 0 left, 1 centre, 2 right of x.
  void text(int x, int y, const std::string& s, int scale, uint32_t c, int align = 0) {
    const int advance = (detail::kGlyphWidth + 1) * scale;
    x -= align * static_cast<int>(s.size()) * advance / 2;
    for (char ch : s) {
      const auto& rows = detail::glyph(ch);
      for (int r = 0; r < detail::kGlyphHeight; ++r)
        for (int col = 0; col < detail::kGlyphWidth; ++col)
          if (rows[r] & (0x10 >> col))
            for (int sy = 0; sy < scale; ++sy)
              for (int sx = 0; sx < scale; ++sx) pixel(x + col * scale + sx, y + r * scale + sy, c);
      x += advance;
    }
  }

  const std::vector<uint8_t>& rgb() const { return rgb_; }

 private:
  int w_, h_;
  std::vector<uint8_t> rgb_;
};

}  // namespace

std::vector<uint8_t> render_png(const Chart& chart, int width, int height) {
  const ChartLayout l = layout_chart(chart, width, height);
  Canvas cv(width, height);
  const uint32_t grid = 0xe0e0e0, ink = 0x000000;
  cv.text((l.left + l.right) / 2, 12, chart.title, 2, ink, 1);
  for (double t : l.x_ticks) {
    const double x = l.px(t);
    cv.line(x, l.top, x, l.bottom, grid);
    cv.text(static_cast<int>(x), l.bottom + 8, tick_label(t), 1, ink, 1);
  }
  for (double t : l.y_ticks) {
    const double y = l.py(t);
    cv.line(l.left, y, l.right, y, grid);
    cv.text(l.left - 6, static_cast<int>(y) - 3, tick_label(t), 1, ink, 2);
  }
  cv.line(l.left, l.top, l.right, l.top, ink);
  cv.line(l.left, l.bottom, l.right, l.bottom, ink);
  cv.line(l.left, l.top, l.left, l.bottom, ink);
  cv.line(l.right, l.top, l.right, l.bottom, ink);
  cv.text((l.left + l.right) / 2, height - 30, chart.x_label, 2, ink, 1);
  cv.text(l.left, l.top - 16, chart.y_label, 1, ink, 0);
  int legend_y = l.top + 4;
  for (const ChartSeries& s : chart.series) {
    if (s.line)
      for (size_t i = 1; i < s.x.size(); ++i)
        cv.line(l.px(s.x[i - 1]), l.py(s.y[i - 1]), l.px(s.x[i]), l.py(s.y[i]), s.color, 2);
    for (size_t i = 0; i < s.x.size() && s.markers; ++i) {
      cv.disc(l.px(s.x[i]), l.py(s.y[i]), 4, s.color);
      if (i < s.labels.size())
        cv.text(static_cast<int>(l.px(s.x[i])) + 6, static_cast<int>(l.py(s.y[i])) - 12, s.labels[i], 1, 0x333333);
    }
    for (int dy = 0; dy < 10; ++dy) cv.line(l.right + 15, legend_y + dy, l.right + 25, legend_y + dy, s.color);
    cv.text(l.right + 32, legend_y + 1, s.name, 1, ink);
    legend_y += 18;
  }
  return detail::encode_png_rgb(cv.rgb(), width, height);
}

}  // namespace squish
