// Scatter/line charts for reports, rendered as SVG (vector) and PNG (raster, no dependencies):
// one layout computation (axes, nice ticks, data-to-pixel mapping) shared by both renderers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace squish {

// One set of points, drawn as markers (and joined by a line when `line`).
struct ChartSeries {
  std::string name;
  std::vector<double> x, y;
  std::vector<std::string> labels;  // optional text beside each point
  bool line = false;
  bool markers = true;
  uint32_t color = 0x1f77b4;        // 0xRRGGBB
};

// A chart: title, axis labels, series.
struct Chart {
  std::string title, x_label, y_label;
  bool log_y = false;  // logarithmic y axis (positive values only)
  std::vector<ChartSeries> series;
};

// Pixel geometry of a chart: plot area and axis mapping, shared by the renderers.
struct ChartLayout {
  int width = 0, height = 0;
  int left = 0, right = 0, top = 0, bottom = 0;  // plot area in pixels
  double x0 = 0, x1 = 1, y0 = 0, y1 = 1;         // axis ranges (log10 values when log_y)
  std::vector<double> x_ticks, y_ticks;          // tick values in data units
  bool log_y = false;
  // Pixel x of a data x.
  double px(double x) const;
  // Pixel y of a data y.
  double py(double y) const;
};

// Lays a chart out on a width × height canvas.
ChartLayout layout_chart(const Chart& chart, int width, int height);
// Short text of a tick value ("0.25", "1e-03", "40").
std::string tick_label(double v);

// The chart as a standalone SVG document.
std::string render_svg(const Chart& chart, int width = 800, int height = 500);
// The chart as PNG file bytes (8-bit RGB).
std::vector<uint8_t> render_png(const Chart& chart, int width = 800, int height = 500);

// Indices of the points not dominated by another (smaller-or-equal x and y, one strictly):
// the Pareto front, ordered by x.
std::vector<size_t> pareto_front(const std::vector<double>& x, const std::vector<double>& y);

}  // namespace squish
