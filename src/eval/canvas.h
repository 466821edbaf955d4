// A small RGB raster canvas: pixels, thick lines, discs, filled rectangles and 5×7 bitmap text.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace squish::detail {

// An RGB image, white when created; colours are 0xRRGGBB. Drawing outside is clipped.
class Canvas {
 public:
  Canvas(int width, int height);
  // Sets one pixel.
  void pixel(int x, int y, uint32_t color);
  // A line `thick` pixels wide (square pen).
  void line(double x0, double y0, double x1, double y1, uint32_t color, int thick = 1);
  // A filled disc.
  void disc(double cx, double cy, double r, uint32_t color);
  // A filled rectangle [x0, x1) × [y0, y1).
  void fill(int x0, int y0, int x1, int y1, uint32_t color);
  // Text whose top-left corner is (x, y), glyphs scaled by `scale`; align: 0 left, 1 centred
  // on x, 2 ending at x.
  void text(int x, int y, const std::string& s, int scale, uint32_t color, int align = 0);
  // Row-major RGB bytes.
  const std::vector<uint8_t>& rgb() const { return rgb_; }
  int width() const { return w_; }
  int height() const { return h_; }

 private:
  int w_, h_;
  std::vector<uint8_t> rgb_;
};

}  // namespace squish::detail
