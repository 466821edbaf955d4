// Heat maps (rows × columns of values, coloured on a log scale) as SVG and PNG.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace squish {

// A grid of values with row and column labels; NaN cells are drawn grey (not measured).
struct HeatMap {
  std::string title, legend;  // legend: what the colour means
  std::vector<std::string> rows, cols;
  std::vector<double> values;  // rows × cols, row-major
};

// Colour (0xRRGGBB) of v on a log scale between lo and hi: pale yellow → red → dark red.
uint32_t heat_color(double v, double lo, double hi);
// The heat map as a standalone SVG document.
std::string render_heatmap_svg(const HeatMap& map);
// The heat map as PNG file bytes.
std::vector<uint8_t> render_heatmap_png(const HeatMap& map);

}  // namespace squish
