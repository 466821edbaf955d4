// Element and row counts of a tensor shape in ggml order (shape[0] is the row length).
#pragma once
#include <cstdint>
#include <span>

namespace squish {

// Product of every dimension (1 for a scalar shape).
inline int64_t shape_elements(std::span<const int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

// Number of rows: the product of every dimension but the first.
inline int64_t shape_rows(std::span<const int64_t> shape) {
  return shape.empty() ? 1 : shape_elements(shape.subspan(1));
}

}  // namespace squish
