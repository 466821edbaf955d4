// Linear-layer weights held as codes with F32 scales, in squish's own runtime layouts (what
// `--convert w8a8|llm-int8|fp8|nf4` converts a model's linears into at load):
//   Int8     per-row symmetric INT8; the input is quantized per token to INT8 too and the product
//            is an integer dot (W8A8, as vLLM's int8 GEMM), or, with an outlier threshold,
//            LLM.int8(): input columns holding any |x| > threshold are multiplied in F32 against
//            the dequantized weight columns, the rest in INT8 (bitsandbytes' Linear8bitLt).
//   Fp8E4M3  per-row scaled FP8 E4M3 weights, F32 input (weight-only FP8).
//   Nf4      NF4 level indices in blocks of 64 with an absmax F32 scale per block (bitsandbytes'
//            4-bit NormalFloat), decoded through the 16-entry table; F32 input.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace squish::kernels {

// Element layout of a ScaledMatrix.
enum class ScaledFormat { Int8, Fp8E4M3, Nf4 };

// "int8", "fp8-e4m3", "nf4".
const char* scaled_format_name(ScaledFormat f);

// A rows x cols weight matrix (ggml order: one row per output) as codes plus scales.
struct ScaledMatrix {
  ScaledFormat format = ScaledFormat::Int8;
  int64_t rows = 0, cols = 0;
  int64_t stride = 0;       // bytes per row of codes (Int8: cols rounded up to 4; Nf4: to 64 / 2)
  std::vector<uint8_t> codes;      // Int8: int8 codes in panels of 16 rows; Fp8E4M3: E4M3 bits;
                                   // Nf4: level indices (layouts: src/kernels/scaled_kernels.h)
  std::vector<float> scales;       // per row (Int8, Fp8E4M3) or per row and 64-block (Nf4)
  std::vector<int32_t> row_sums;   // Int8: sum of each row's codes (the unsigned-offset dot);
                                   // Int8 scales and row sums are padded to whole panels
  float outlier_threshold = 0.0f;  // Int8: LLM.int8() threshold (0: plain W8A8)

  // Bytes held (codes, scales and row sums).
  size_t bytes() const;
  // Row r dequantized into dst[cols].
  void row_f32(int64_t r, float* dst) const;
};

// Quantizes a row-major rows x cols F32 matrix: Int8 with scale max|row| / 127 and round half to
// even, Fp8E4M3 with scale max|row| / 448 (round to nearest even), Nf4 with scale max|block| per
// 64 elements (nearest level; a row's last block may be partial). Multi-threaded over rows.
ScaledMatrix make_scaled_matrix(ScaledFormat format, const float* w, int64_t rows, int64_t cols,
                                float outlier_threshold = 0.0f);

// Multi-threaded C[i, j] = Σ_t A[i, t] · W[j, t] (+ bias[j]) for i < m: Int8 quantizes each row of
// A to INT8 (input_scale > 0: that static scale for every row, else per token) and runs integer
// dots (with the LLM.int8() split when W has a threshold); Fp8E4M3 / Nf4 decode tiles of rows to
// F32 and run the F32 GEMM.
void scaled_matmul(const ScaledMatrix& W, int64_t m, const float* A, float* C,
                   const float* bias = nullptr, float input_scale = 0.0f);

}  // namespace squish::kernels
