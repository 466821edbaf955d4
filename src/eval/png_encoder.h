// A minimal PNG encoder: 8-bit RGB, zlib stream of stored (uncompressed) deflate blocks.
#pragma once
#include <cstdint>
#include <vector>

namespace squish::detail {

// PNG file bytes of a width × height image given as row-major RGB triplets.
std::vector<uint8_t> encode_png_rgb(const std::vector<uint8_t>& rgb, int width, int height);

}  // namespace squish::detail
