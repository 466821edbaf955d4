// ScaledMatrix: building the INT8 / FP8 / NF4 runtime layouts and multiplying with them (W8A8
// integer dots, LLM.int8() outlier split, decoded F32 tiles).
#include "squish/kernels/scaled_matrix.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "scaled_kernels.h"
#include "squish/common/parallel.h"
#include "squish/formats/activation_quant.h"
#include "squish/formats/minifloat.h"
#include "squish/formats/number_formats.h"
#include "squish/kernels/gemm.h"
#include "squish/kernels/quant_dot.h"

namespace squish::kernels {

namespace {

constexpr int64_t kNf4Block = 64;
constexpr int64_t kTileRows = 16;  // rows decoded per F32 tile

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

scaled::Int8Panel int8_panel() {
  switch (active_isa()) {
    case Isa::Avx512: return scaled::int8_panel_avx512;
    case Isa::Avx2: return scaled::int8_panel_avx2;
    default: return scaled::int8_panel_scalar;
  }
}

// Where code t of INT8 row r lives in the panel layout (scaled_kernels.h).
size_t panel_index(int64_t kp, int64_t r, int64_t t) {
  return static_cast<size_t>((r / scaled::kPanelRows) * scaled::kPanelRows * kp + (t / 4) * 64 +
                             (r % scaled::kPanelRows) * 4 + t % 4);
}

// Decodes FP8 / NF4 row r of W into dst[W.cols] with the best kernel the CPU has.
void decode_row(const ScaledMatrix& W, int64_t r, float* dst) {
  const uint8_t* q = W.codes.data() + r * W.stride;
  const Isa isa = active_isa();
  if (W.format == ScaledFormat::Nf4) {
    const int64_t padded = round_up(W.cols, kNf4Block);
    const float* s = W.scales.data() + r * (padded / kNf4Block);
    thread_local std::vector<float> tail;
    float* out = dst;
    if (padded != W.cols) {  // the row's last block is partial: decode it whole, then copy
      tail.resize(static_cast<size_t>(padded));
      out = tail.data();
    }
    (isa == Isa::Avx512 ? scaled::decode_nf4_avx512
     : isa == Isa::Avx2 ? scaled::decode_nf4_avx2
                        : scaled::decode_nf4_scalar)(q, s, out, padded);
    if (out != dst) std::copy_n(out, W.cols, dst);
    return;
  }
  const float s = W.scales[static_cast<size_t>(r)];
  const int64_t simd = W.cols / 32 * 32;
  (isa == Isa::Avx512 ? scaled::decode_fp8_avx512
   : isa == Isa::Avx2 ? scaled::decode_fp8_avx2
                      : scaled::decode_fp8_scalar)(q, s, dst, simd);
  scaled::decode_fp8_scalar(q + simd, s, dst + simd, W.cols - simd);
}

void matmul_tiles(const ScaledMatrix& W, int64_t m, const float* A, float* C, const float* bias) {
  const int64_t n = W.rows, k = W.cols;
  const int64_t tiles = (n + kTileRows - 1) / kTileRows;
  parallel_for(tiles, [&](int64_t b, int64_t e) {
    std::vector<float> tile(static_cast<size_t>(kTileRows * k));
    for (int64_t ti = b; ti < e; ++ti) {
      const int64_t j0 = ti * kTileRows, nr = std::min(kTileRows, n - j0);
      for (int64_t r = 0; r < nr; ++r) decode_row(W, j0 + r, tile.data() + r * k);
      gemm_nt(m, nr, k, A, k, tile.data(), k, C + j0, n, bias ? bias + j0 : nullptr);
    }
  });
}

// Input columns with any |x| above the threshold (LLM.int8()'s outlier features).
std::vector<int64_t> outlier_columns(const float* A, int64_t m, int64_t k, float threshold) {
  std::vector<float> amax(static_cast<size_t>(k), 0.0f);
  for (int64_t i = 0; i < m; ++i)
    for (int64_t t = 0; t < k; ++t) amax[t] = std::max(amax[t], std::fabs(A[i * k + t]));
  std::vector<int64_t> cols;
  for (int64_t t = 0; t < k; ++t)
    if (amax[t] > threshold) cols.push_back(t);
  return cols;
}

void matmul_int8(const ScaledMatrix& W, int64_t m, const float* A, float* C, const float* bias,
                 float input_scale) {
  const int64_t n = W.rows, k = W.cols, kp = W.stride;
  const std::vector<int64_t> outliers =
      W.outlier_threshold > 0.0f ? outlier_columns(A, m, k, W.outlier_threshold) : std::vector<int64_t>{};
  std::vector<int8_t> aq(static_cast<size_t>(m * kp), 0);
  std::vector<float> as(static_cast<size_t>(m));
  const bool offset = active_isa() == Isa::Avx512;  // vpdpbusd takes unsigned activations
  parallel_for(m, [&](int64_t i0, int64_t i1) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t i = i0; i < i1; ++i) {
      const float* x = A + i * k;
      if (!outliers.empty()) {  // the outlier columns go through F32 below, not INT8
        std::copy_n(x, k, row.data());
        for (int64_t c : outliers) row[static_cast<size_t>(c)] = 0.0f;
        x = row.data();
      }
      int8_t* q = aq.data() + i * kp;
      if (offset) {  // unsigned codes for vpdpbusd; the zero padding too (0 xor 0x80)
        as[static_cast<size_t>(i)] =
            scaled::quantize_row_int8_offset_avx512(x, reinterpret_cast<uint8_t*>(q), k, input_scale);
        std::fill(q + k, q + kp, static_cast<int8_t>(-128));
      } else {
        as[static_cast<size_t>(i)] = quantize_row_int8(x, q, k, input_scale);
      }
    }
  }, 4);
  const scaled::Int8Panel panel = int8_panel();
  const auto* codes = reinterpret_cast<const int8_t*>(W.codes.data());
  const int64_t P = scaled::kPanelRows;
  parallel_for((n + P - 1) / P, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t j0 = p * P;
      const int nr = static_cast<int>(std::min(P, n - j0));
      for (int64_t i0 = 0; i0 < m; i0 += scaled::kPanelTokens) {
        const int na = static_cast<int>(std::min<int64_t>(scaled::kPanelTokens, m - i0));
        const uint8_t* a[scaled::kPanelTokens];
        for (int i = 0; i < na; ++i) a[i] = reinterpret_cast<const uint8_t*>(aq.data() + (i0 + i) * kp);
        panel(a, na, codes + j0 * kp, kp, W.row_sums.data() + j0, W.scales.data() + j0, as.data() + i0,
              bias ? bias + j0 : nullptr, nr, C + i0 * n + j0, n);
      }
    }
  });
  if (outliers.empty()) return;
  // LLM.int8(): the outlier columns in F32 against the dequantized weight columns, added on.
  const int64_t no = static_cast<int64_t>(outliers.size());
  std::vector<float> ao(static_cast<size_t>(m * no)), wo(static_cast<size_t>(n * no)), co(static_cast<size_t>(m * n));
  for (int64_t i = 0; i < m; ++i)
    for (int64_t c = 0; c < no; ++c) ao[i * no + c] = A[i * k + outliers[c]];
  for (int64_t j = 0; j < n; ++j)
    for (int64_t c = 0; c < no; ++c)
      wo[j * no + c] = W.scales[static_cast<size_t>(j)] * static_cast<float>(codes[panel_index(kp, j, outliers[c])]);
  matmul(m, n, no, ao.data(), wo.data(), co.data());
  for (int64_t i = 0; i < m * n; ++i) C[i] += co[static_cast<size_t>(i)];
}

}  // namespace

const char* scaled_format_name(ScaledFormat f) {
  switch (f) {
    case ScaledFormat::Int8: return "int8";
    case ScaledFormat::Fp8E4M3: return "fp8-e4m3";
    case ScaledFormat::Nf4: return "nf4";
  }
  return "?";
}

size_t ScaledMatrix::bytes() const {
  return codes.size() + scales.size() * sizeof(float) + row_sums.size() * sizeof(int32_t);
}

void ScaledMatrix::row_f32(int64_t r, float* dst) const {
  if (format != ScaledFormat::Int8) return decode_row(*this, r, dst);
  const auto* q = reinterpret_cast<const int8_t*>(codes.data());
  const float s = scales[static_cast<size_t>(r)];
  for (int64_t t = 0; t < cols; ++t) dst[t] = s * static_cast<float>(q[panel_index(stride, r, t)]);
}

ScaledMatrix make_scaled_matrix(ScaledFormat format, const float* w, int64_t rows, int64_t cols,
                                float outlier_threshold) {
  ScaledMatrix M;
  M.format = format;
  M.rows = rows;
  M.cols = cols;
  // INT8 rows are zero padded to whole 4-code steps and grouped in zero-padded panels of 16
  // rows (scales and row sums padded alike); NF4 rows to whole blocks.
  const int64_t padded = round_up(cols, 64);
  const int64_t prow = round_up(rows, scaled::kPanelRows);
  if (format == ScaledFormat::Int8) {
    M.stride = round_up(cols, 4);
    M.codes.assign(static_cast<size_t>(prow * M.stride), 0);
    M.scales.assign(static_cast<size_t>(prow), 0.0f);
    M.row_sums.assign(static_cast<size_t>(prow), 0);
    M.outlier_threshold = outlier_threshold;
  } else {
    M.stride = format == ScaledFormat::Nf4 ? padded / 2 : cols;
    M.codes.assign(static_cast<size_t>(rows * M.stride), 0);
    M.scales.assign(static_cast<size_t>(rows * (format == ScaledFormat::Nf4 ? padded / kNf4Block : 1)), 0.0f);
  }
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<int8_t> qi(format == ScaledFormat::Int8 ? static_cast<size_t>(cols) : 0);
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = w + r * cols;
      uint8_t* q = M.codes.data() + r * M.stride;
      if (format == ScaledFormat::Int8) {
        M.scales[static_cast<size_t>(r)] = quantize_row_int8(x, qi.data(), cols);
        int32_t sum = 0;
        for (int64_t t = 0; t < cols; ++t) {
          sum += qi[static_cast<size_t>(t)];
          M.codes[panel_index(M.stride, r, t)] = static_cast<uint8_t>(qi[static_cast<size_t>(t)]);
        }
        M.row_sums[static_cast<size_t>(r)] = sum;
      } else if (format == ScaledFormat::Fp8E4M3) {
        float amax = 0.0f;
        for (int64_t t = 0; t < cols; ++t) amax = std::max(amax, std::fabs(x[t]));
        const float s = amax / 448.0f;
        M.scales[static_cast<size_t>(r)] = s;
        if (s > 0.0f)
          for (int64_t t = 0; t < cols; ++t) q[t] = fp32_to_e4m3(x[t] * (1.0f / s));
      } else {
        const int64_t nb = padded / kNf4Block;
        for (int64_t b = 0; b < nb; ++b) {
          const int64_t n = std::min(kNf4Block, cols - b * kNf4Block);  // the last block may be partial
          const float* xb = x + b * kNf4Block;
          float amax = 0.0f;
          for (int64_t t = 0; t < n; ++t) amax = std::max(amax, std::fabs(xb[t]));
          M.scales[static_cast<size_t>(r * nb + b)] = amax;
          const auto index = [&](int64_t t) {
            return t < n && amax > 0.0f ? nf4_index(xb[t] / amax) : nf4_index(0.0f);
          };
          for (int64_t t = 0; t < 32; ++t)
            q[b * 32 + t] = static_cast<uint8_t>(index(t) | index(t + 32) << 4);
        }
      }
    }
  }, 8);
  return M;
}

void scaled_matmul(const ScaledMatrix& W, int64_t m, const float* A, float* C, const float* bias,
                   float input_scale) {
  if (m <= 0 || W.rows <= 0) return;
  if (W.format == ScaledFormat::Int8)
    matmul_int8(W, m, A, C, bias, input_scale);
  else
    matmul_tiles(W, m, A, C, bias);
}

}  // namespace squish::kernels
