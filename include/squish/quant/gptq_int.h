// GPTQ onto INTk grids (2..8 bits, symmetric or min-max asymmetric, per group or per channel),
// laid out exactly as quantize_matrix() lays the same spec out, with AutoGPTQ's act-order
// (desc_act: columns in descending Hessian-diagonal order, g_idx map) and static groups.
#pragma once
#include <cstdint>
#include <vector>

#include "squish/formats/number_formats.h"
#include "squish/quant/gptq.h"

namespace squish {

// Settings of INTk GPTQ.
struct GptqIntOptions {
  GptqOptions solver;          // damping, lazy block (rounded to a multiple of the group), measure
  bool act_order = false;      // quantize columns in descending diag(H) order (AutoGPTQ desc_act)
  bool static_groups = false;  // choose every group's scale up front from the original weights
  bool compare_rtn = false;    // also measure quantize_matrix()'s plain rounding (rel_error_rtn)
};

// GPTQ of W (rows × cols row-major, replaced by its dequantized values) onto spec's INT grid
// with H = Σ xᵀx (cols × cols row-major). Returns the QuantizedMatrix as quantize_matrix() would
// lay it out (codes, scales, zeros; g_idx when act_order && !static_groups), so that
// dequantize_matrix(result) equals W afterwards bit for bit. Throws std::invalid_argument for
// specs GPTQ cannot carry out (non-INT formats, per-tensor or per-token scales, double quantization).
QuantizedMatrix gptq_quantize_int(float* W, int64_t rows, int64_t cols, const std::vector<double>& H,
                                  const QuantSpec& spec, const GptqIntOptions& opt,
                                  GptqReport* report = nullptr);

}  // namespace squish
