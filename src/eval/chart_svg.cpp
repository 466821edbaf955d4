// SVG rendering of a chart.
#include <fmt/format.h>

#include "squish/eval/chart.h"

namespace squish {

namespace {

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o.push_back(c);
    }
  }
  return o;
}

std::string color(uint32_t c) { return fmt::format("#{:06x}", c & 0xffffff); }

}  // namespace

std::string render_svg(const Chart& chart, int width, int height) {
  const ChartLayout l = layout_chart(chart, width, height);
  std::string s = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n",
      width, height);
  s += fmt::format("<text x=\"{}\" y=\"25\" font-size=\"16\" text-anchor=\"middle\">{}</text>\n",
                   (l.left + l.right) / 2, escape(chart.title));
  for (double t : l.x_ticks) {
    const double x = l.px(t);
    s += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" stroke=\"#e0e0e0\"/>\n", x, l.top, l.bottom);
    s += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x, l.bottom + 18, tick_label(t));
  }
  for (double t : l.y_ticks) {
    const double y = l.py(t);
    s += fmt::format("<line x1=\"{1}\" y1=\"{0:.1f}\" x2=\"{2}\" y2=\"{0:.1f}\" stroke=\"#e0e0e0\"/>\n", y, l.left, l.right);
    s += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", l.left - 6, y + 4, tick_label(t));
  }
  s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"black\"/>\n",
                   l.left, l.top, l.right - l.left, l.bottom - l.top);
  s += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", (l.left + l.right) / 2,
                   height - 20, escape(chart.x_label));
  s += fmt::format("<text x=\"18\" y=\"{0}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {0})\">{1}</text>\n",
                   (l.top + l.bottom) / 2, escape(chart.y_label));
  int legend_y = l.top + 10;
  for (const ChartSeries& se : chart.series) {
    const std::string c = color(se.color);
    if (se.line && se.x.size() > 1) {
      std::string pts;
      for (size_t i = 0; i < se.x.size(); ++i) pts += fmt::format("{:.1f},{:.1f} ", l.px(se.x[i]), l.py(se.y[i]));
      s += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"/>\n", pts, c);
    }
    for (size_t i = 0; i < se.x.size() && se.markers; ++i) {
      s += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"><title>{}</title></circle>\n",
                       l.px(se.x[i]), l.py(se.y[i]), c, escape(i < se.labels.size() ? se.labels[i] : se.name));
      if (i < se.labels.size())
        s += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\">{}</text>\n", l.px(se.x[i]) + 6,
                         l.py(se.y[i]) - 6, escape(se.labels[i]));
    }
    s += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>\n", l.right + 15, legend_y - 10, c);
    s += fmt::format("<text x=\"{}\" y=\"{}\">{}</text>\n", l.right + 32, legend_y, escape(se.name));
    legend_y += 20;
  }
  s += "</svg>\n";
  return s;
}

}  // namespace squish
