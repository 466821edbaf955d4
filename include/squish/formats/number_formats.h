// Number formats for weight/activation quantization research: INTk (k = 2..8, symmetric or
// asymmetric), NF4, FP4 E2M1, FP8 E4M3/E5M2, ternary b1.58; granularity per tensor, per channel
// (row), per group (a group size dividing the row) or per token (row of an activation matrix);
// scales by absmax / min-max or by an MSE-optimal clipping search; optional double quantization
// of the scales (bitsandbytes style); and the bits per weight each choice costs.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace squish {

// Element format of the quantized values.
enum class ElementFormat { Int, NF4, FP4_E2M1, FP8_E4M3, FP8_E5M2, Ternary };
// Which elements share one scale (and zero point).
enum class Granularity { PerTensor, PerChannel, PerGroup, PerToken };
// How each group's scale is chosen.
enum class ScaleMethod { AbsMax, MinMax, MseClip };

// A complete quantization recipe.
struct QuantSpec {
  ElementFormat format = ElementFormat::Int;
  int bits = 8;                   // INTk width (2..8); ignored by the other formats
  bool symmetric = true;          // INTk: q = round(x/s) in [-(2^(k-1)-1), 2^(k-1)-1]; else
                                  // q = round(x/s) + z in [0, 2^k-1]
  Granularity granularity = Granularity::PerGroup;
  int64_t group_size = 128;       // PerGroup only; must divide the row length
  ScaleMethod method = ScaleMethod::AbsMax;  // MinMax implies an asymmetric INTk range
  int scale_bits = 32;            // 32 (FP32 scales) or 16 (FP16-rounded scales)
  bool double_quant = false;      // quantize the scales to 8 bits in blocks of 256
};

// A quantized matrix: one code per element plus per-group scales and zero points.
struct QuantizedMatrix {
  QuantSpec spec;
  int64_t rows = 0, cols = 0;
  int64_t group = 0;              // elements per group (contiguous within a row)
  std::vector<int16_t> codes;     // INT: the integer q; NF4: level index; FP: format bits;
                                  // ternary: -1/0/1
  std::vector<float> scales;      // per group (after double quantization, the decoded value)
  std::vector<float> zeros;       // per group, asymmetric INT only (integer-valued)
  // Optional (GPTQ act-order): the group of each column, so the scale of (r, c) is
  // scales[r * (cols / group) + g_idx[c]]. Empty: groups are contiguous (c / group).
  std::vector<int32_t> g_idx;
  // Double quantization: 8-bit codes of the scales, their per-256 FP32 scales and the offset.
  std::vector<int8_t> scale_codes;
  std::vector<float> scale_block_scales;
  float scale_offset = 0.0f;
};

// "int4-sym/g128/absmax" style description of a spec.
std::string describe(const QuantSpec& spec);
// Throws std::invalid_argument when spec cannot apply to a rows x cols matrix.
void validate(const QuantSpec& spec, int64_t rows, int64_t cols);
// Elements sharing one scale for a rows x cols matrix.
int64_t group_extent(const QuantSpec& spec, int64_t rows, int64_t cols);

// The 16 NF4 levels in [-1, 1] (QLoRA): normal quantiles, computed from the inverse normal CDF.
const std::array<float, 16>& nf4_levels();
// Index of the NF4 level nearest to x (x already divided by the scale).
int nf4_index(float x);

// Integer code range of an INTk format.
struct IntRange {
  int qmin, qmax;
};
// Range of INTk: symmetric [-(2^(k-1)-1), 2^(k-1)-1], asymmetric [0, 2^k-1].
IntRange int_range(int bits, bool symmetric);

// Quantizes a row-major rows x cols matrix.
QuantizedMatrix quantize_matrix(const float* x, int64_t rows, int64_t cols, const QuantSpec& spec);
// Reconstructs the matrix (rows*cols floats) from its codes and scales.
void dequantize_matrix(const QuantizedMatrix& q, float* out);
// Quantize then dequantize ("fake quantization"); returns the mean squared error.
double fake_quantize(const float* x, int64_t rows, int64_t cols, const QuantSpec& spec,
                     float* out);

// Bits of storage per weight including scales, zero points and double-quantization overhead.
double bits_per_weight(const QuantSpec& spec, int64_t rows, int64_t cols);

}  // namespace squish
