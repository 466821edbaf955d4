// GPTQ (Frantar et al. 2022): quantize a weight matrix column by column, spreading each column's
// rounding error over the columns not yet quantized through the inverse Hessian of the layer
// input (Cholesky form), with lazy block updates. The grid is supplied by a ColumnQuantizer, so
// the same solver serves INTk groups and llama.cpp's block formats.
#pragma once
#include <cstdint>
#include <vector>

namespace squish {

// A quantization grid chosen per group of columns, applied one column at a time.
class ColumnQuantizer {
 public:
  virtual ~ColumnQuantizer() = default;
  // Columns sharing one scale per row (a divisor of the block size, e.g. 32 or 128).
  virtual int64_t group_size() const = 0;
  // Chooses each row's scale for columns [c0, c0 + group_size()) from their current values;
  // wt is column-major (wt[c * rows + r]).
  virtual void begin_group(int64_t c0, const float* wt, int64_t rows) = 0;
  // Quantizes column c (w[rows]) on the current group's grid: writes the dequantized values to
  // out and keeps the codes.
  virtual void quantize_column(int64_t c, const float* w, float* out, int64_t rows) = 0;
};

// Settings of the solver.
struct GptqOptions {
  double damp = 0.01;    // added to the diagonal: damp × mean(diag H)
  int64_t block = 128;   // columns per lazy update block (a multiple of the group size)
  bool measure = true;   // compute rel_error (a rows × cols² product: costly on big matrices)
};

// Error figures of one matrix: tr(ΔW H ΔWᵀ) relative to tr(W H Wᵀ), for GPTQ and for plain
// rounding on the same grid (computed when asked).
struct GptqReport {
  double loss = 0;           // GPTQ's own proxy: Σ (w - q)² / [H⁻¹]ᵢᵢ
  double rel_error = 0;      // output error of the GPTQ result on the calibration inputs
  double rel_error_rtn = 0;  // the same for round-to-nearest (0 unless compare_rtn)
};

// Runs GPTQ on W (rows × cols row-major, replaced by its quantized values) with H = Σ xᵀx
// (cols × cols, row-major). Columns whose diagonal is 0 (never active) are zeroed. When
// compare_rtn, also measures round-to-nearest on the same grid (needs a second quantizer).
GptqReport gptq_quantize(float* W, int64_t rows, int64_t cols, const std::vector<double>& H,
                         ColumnQuantizer& quantizer, const GptqOptions& options,
                         ColumnQuantizer* rtn_quantizer = nullptr);

// tr(ΔW H ΔWᵀ) / tr(W H Wᵀ) for a reconstruction Wq of W (both rows × cols row-major).
double relative_output_error(const float* W, const float* Wq, int64_t rows, int64_t cols,
                             const std::vector<double>& H);

}  // namespace squish
