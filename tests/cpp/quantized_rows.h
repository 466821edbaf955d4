// Test inputs shared by the panel suites: seeded random values, rows quantized to a GGUF type, and
// the panel product's distance to the F32 product.
#pragma once
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/formats/quantize.h"
#include "squish/kernels/block_panels.h"
#include "squish/kernels/gemm.h"

namespace squish::test {

// n seeded normal values with magnitudes varying along the row.
inline std::vector<float> random_values(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (size_t i = 0; i < x.size(); ++i) x[i] = d(rng) * (0.05f + static_cast<float>(i % 11) / 7.f);
  return x;
}

// n rows of k random weights quantized to type t.
inline std::vector<uint8_t> quantized_rows(GGMLType t, int64_t n, int64_t k, uint32_t seed) {
  const std::vector<float> w = random_values(n * k, seed);
  const size_t rb = row_bytes(t, k);
  std::vector<uint8_t> rows(rb * static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) quantize_row(t, w.data() + r * k, rows.data() + r * rb, k);
  return rows;
}

// Relative RMS difference of the panel product (one- or two-level activations) to the F32 product
// of the dequantized weights.
inline double panel_error(GGMLType t, bool two_level, kernels::Isa isa) {
  const int64_t n = 40, k = 256, m = 9;
  const auto rows = quantized_rows(t, n, k, 6);
  const auto A = random_values(m * k, 7);
  std::vector<float> W(static_cast<size_t>(n * k));
  for (int64_t r = 0; r < n; ++r) dequantize_row(t, rows.data() + r * row_bytes(t, k), W.data() + r * k, k);
  std::vector<float> want(static_cast<size_t>(m * n)), got(want.size());
  kernels::matmul(m, n, k, A.data(), W.data(), want.data(), nullptr);
  kernels::block_panel_matmul(kernels::make_block_panels(t, rows.data(), n, k), m, A.data(), got.data(), nullptr, isa, two_level);
  double err = 0, norm = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    err += (got[i] - want[i]) * (got[i] - want[i]);
    norm += want[i] * want[i];
  }
  return std::sqrt(err / norm);
}

// Whether every panel row equals the GGUF dequantization of n random rows of type t, bit for bit
// (the first difference is reported through *where).
inline bool panels_hold_source_values(GGMLType t, int64_t n, int64_t k, std::string* where) {
  const auto rows = quantized_rows(t, n, k, 1);
  const kernels::BlockPanels P = kernels::make_block_panels(t, rows.data(), n, k);
  if (P.rows != n) return *where = "row count", false;
  std::vector<float> want(static_cast<size_t>(k)), got(want.size());
  for (int64_t r = 0; r < n; ++r) {
    dequantize_row(t, rows.data() + r * row_bytes(t, k), want.data(), k);
    kernels::block_panel_row_f32(P, r, got.data());
    for (int64_t c = 0; c < k; ++c)
      if (got[static_cast<size_t>(c)] != want[static_cast<size_t>(c)])
        return *where = type_name(t) + " " + std::to_string(r) + "," + std::to_string(c), false;
  }
  return true;
}

}  // namespace squish::test
