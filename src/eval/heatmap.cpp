// Heat-map rendering: one cell geometry shared by the SVG and PNG outputs.
#include "squish/eval/heatmap.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "canvas.h"
#include "png_encoder.h"
#include "squish/eval/chart.h"

namespace squish {

namespace {

constexpr int kCellW = 70, kCellH = 16, kLeft = 70, kTop = 60;

struct Range {
  double lo = 1, hi = 1;
};

Range value_range(const HeatMap& m) {
  Range r{std::numeric_limits<double>::infinity(), 0};
  for (double v : m.values)
    if (std::isfinite(v) && v > 0) r.lo = std::min(r.lo, v), r.hi = std::max(r.hi, v);
  if (!std::isfinite(r.lo)) r = {1, 1};
  return r;
}

int map_width(const HeatMap& m) { return kLeft + kCellW * static_cast<int>(m.cols.size()) + 20; }
int map_height(const HeatMap& m) { return kTop + kCellH * static_cast<int>(m.rows.size()) + 50; }

}  // namespace

uint32_t heat_color(double v, double lo, double hi) {
  if (!std::isfinite(v)) return 0xbbbbbb;
  double t = hi > lo ? (std::log(std::max(v, lo)) - std::log(lo)) / (std::log(hi) - std::log(lo)) : 0.5;
  t = std::clamp(t, 0.0, 1.0);
  // pale yellow (255,255,204) → orange-red (240,59,32) → dark red (128,0,38)
  auto mix = [](double a, double b, double f) { return static_cast<uint32_t>(std::lround(a + (b - a) * f)); };
  const double f = t < 0.6 ? t / 0.6 : (t - 0.6) / 0.4;
  const double r0 = t < 0.6 ? 255 : 240, g0 = t < 0.6 ? 255 : 59, b0 = t < 0.6 ? 204 : 32;
  const double r1 = t < 0.6 ? 240 : 128, g1 = t < 0.6 ? 59 : 0, b1 = t < 0.6 ? 32 : 38;
  return (mix(r0, r1, f) << 16) | (mix(g0, g1, f) << 8) | mix(b0, b1, f);
}

std::string render_heatmap_svg(const HeatMap& m) {
  const Range r = value_range(m);
  const int w = map_width(m), h = map_height(m);
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n",
      w, h);
  s += fmt::format("<text x=\"{}\" y=\"22\" font-size=\"15\">{}</text>\n", kLeft, m.title);
  for (size_t c = 0; c < m.cols.size(); ++c)
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n",
                     kLeft + kCellW * c + kCellW / 2, kTop - 6, m.cols[c]);
  for (size_t i = 0; i < m.rows.size(); ++i) {
    const int y = kTop + kCellH * static_cast<int>(i);
    s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n", kLeft - 6, y + 12, m.rows[i]);
    for (size_t c = 0; c < m.cols.size(); ++c) {
      const double v = m.values[i * m.cols.size() + c];
      s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#{:06x}\"><title>{} {}: {}</title></rect>\n",
                       kLeft + kCellW * c, y, kCellW - 1, kCellH - 1, heat_color(v, r.lo, r.hi), m.rows[i],
                       m.cols[c], std::isfinite(v) ? tick_label(v) : "not measured");
    }
  }
  s += fmt::format("<text x=\"{}\" y=\"{}\">{} (colour: log scale {} … {})</text>\n</svg>\n", kLeft,
                   h - 20, m.legend, tick_label(r.lo), tick_label(r.hi));
  return s;
}

std::vector<uint8_t> render_heatmap_png(const HeatMap& m) {
  const Range r = value_range(m);
  detail::Canvas cv(map_width(m), map_height(m));
  cv.text(kLeft, 14, m.title, 2, 0);
  for (size_t c = 0; c < m.cols.size(); ++c)
    cv.text(kLeft + kCellW * static_cast<int>(c) + kCellW / 2, kTop - 12, m.cols[c], 1, 0, 1);
  for (size_t i = 0; i < m.rows.size(); ++i) {
    const int y = kTop + kCellH * static_cast<int>(i);
    cv.text(kLeft - 6, y + 4, m.rows[i], 1, 0, 2);
    for (size_t c = 0; c < m.cols.size(); ++c) {
      const int x = kLeft + kCellW * static_cast<int>(c);
      cv.fill(x, y, x + kCellW - 1, y + kCellH - 1, heat_color(m.values[i * m.cols.size() + c], r.lo, r.hi));
    }
  }
  cv.text(kLeft, cv.height() - 30, m.legend + " (log colour scale " + tick_label(r.lo) + " - " + tick_label(r.hi) + ")", 1, 0);
  return detail::encode_png_rgb(cv.rgb(), cv.width(), cv.height());
}

}  // namespace squish
