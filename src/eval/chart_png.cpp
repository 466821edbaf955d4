// PNG rendering of a chart on the RGB canvas.
#include <algorithm>
#include <cmath>

#include "canvas.h"
#include "png_encoder.h"
#include "squish/eval/chart.h"

namespace squish {

std::vector<uint8_t> render_png(const Chart& chart, int width, int height) {
  const ChartLayout l = layout_chart(chart, width, height);
  detail::Canvas cv(width, height);
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
