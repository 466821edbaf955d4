// ScaledMatrix: building the INT8 / FP8 / NF4 runtime layouts and multiplying with them (W8A8
// integer dots, LLM.int8() outlier split, decoded F32 tiles).
#include "squish/kernels/scaled_matrix.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "scaled_kernels.h"
#include "squish/common/error.h"
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

scaled::Int8Tile int8_tile() {
  switch (active_isa()) {
    case Isa::Avx512: return scaled::int8_tile_avx512;
    case Isa::Avx2: return scaled::int8_tile_avx2;
    default: return scaled::int8_tile_scalar;
  }
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
  parallel_for(m, [&](int64_t i0, int64_t i1) {
    std::vector<float> row(static_cast<size_t>(k));
    for (int64_t i = i0; i < i1; ++i) {
      const float* x = A + i * k;
      if (!outliers.empty()) {  // the outlier columns go through F32 below, not INT8
        std::copy_n(x, k, row.data());
        for (int64_t c : outliers) row[static_cast<size_t>(c)] = 0.0f;
        x = row.data();
      }
      as[static_cast<size_t>(i)] = quantize_row_int8(x, aq.data() + i * kp, k, input_scale);
    }
  }, 4);
  const scaled::Int8Tile tile = int8_tile();
  const auto* codes = reinterpret_cast<const int8_t*>(W.codes.data());
  parallel_for((n + 3) / 4, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t j0 = g * 4, nr = std::min<int64_t>(4, n - j0);
      const int8_t* w[4];
      int32_t rs[4];
      for (int r = 0; r < 4; ++r) {
        const int64_t j = j0 + std::min<int64_t>(r, nr - 1);  // repeat the last row at the edge
        w[r] = codes + j * kp;
        rs[r] = W.row_sums[static_cast<size_t>(j)];
      }
      for (int64_t i0 = 0; i0 < m; i0 += 4) {
        const int64_t ni = std::min<int64_t>(4, m - i0);
        const int8_t* a[4];
        for (int i = 0; i < 4; ++i) a[i] = aq.data() + (i0 + std::min<int64_t>(i, ni - 1)) * kp;
        int32_t dot[16];
        tile(a, w, kp, rs, dot);
        for (int64_t i = 0; i < ni; ++i)
          for (int64_t r = 0; r < nr; ++r) {
            const int64_t j = j0 + r;
            C[(i0 + i) * n + j] = as[static_cast<size_t>(i0 + i)] * W.scales[static_cast<size_t>(j)] *
                                      static_cast<float>(dot[i * 4 + r]) + (bias ? bias[j] : 0.0f);
          }
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
      wo[j * no + c] = W.scales[static_cast<size_t>(j)] * static_cast<float>(codes[j * kp + outliers[c]]);
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
  const auto* q = reinterpret_cast<const int8_t*>(codes.data()) + r * stride;
  const float s = scales[static_cast<size_t>(r)];
  for (int64_t t = 0; t < cols; ++t) dst[t] = s * static_cast<float>(q[t]);
}

ScaledMatrix make_scaled_matrix(ScaledFormat format, const float* w, int64_t rows, int64_t cols,
                                float outlier_threshold) {
  ScaledMatrix M;
  M.format = format;
  M.rows = rows;
  M.cols = cols;
  M.group = format == ScaledFormat::Nf4 ? kNf4Block : cols;
  // INT8 rows are zero padded to 64 codes (the dot kernels' step), NF4 rows to whole blocks.
  const int64_t padded = round_up(cols, 64);
  M.stride = format == ScaledFormat::Int8 ? padded : format == ScaledFormat::Nf4 ? padded / 2 : cols;
  M.codes.assign(static_cast<size_t>(rows * M.stride), 0);
  M.scales.assign(static_cast<size_t>(rows * (format == ScaledFormat::Nf4 ? padded / kNf4Block : 1)), 0.0f);
  if (format == ScaledFormat::Int8) {
    M.row_sums.assign(static_cast<size_t>(rows), 0);
    M.outlier_threshold = outlier_threshold;
  }
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* x = w + r * cols;
      uint8_t* q = M.codes.data() + r * M.stride;
      if (format == ScaledFormat::Int8) {
        auto* qi = reinterpret_cast<int8_t*>(q);
        M.scales[static_cast<size_t>(r)] = quantize_row_int8(x, qi, cols);
        int32_t sum = 0;
        for (int64_t t = 0; t < cols; ++t) sum += qi[t];
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
