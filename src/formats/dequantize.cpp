// squish::can_dequantize / dequantize_row: dispatch to the per-type dequantizers.
#include <cstring>
#include <stdexcept>

#include "dequantize_internal.h"
#include "squish/formats/ggml_type.h"

namespace squish {

bool can_dequantize(GGMLType t) {
  switch (t) {
    case GGMLType::F32: case GGMLType::F16: case GGMLType::BF16:
    case GGMLType::Q4_0: case GGMLType::Q4_1: case GGMLType::Q5_0: case GGMLType::Q5_1:
    case GGMLType::Q8_0: case GGMLType::Q2_K: case GGMLType::Q3_K: case GGMLType::Q4_K:
    case GGMLType::Q5_K: case GGMLType::Q6_K: case GGMLType::Q8_K:
    case GGMLType::IQ4_NL: case GGMLType::IQ4_XS: case GGMLType::TQ1_0: case GGMLType::TQ2_0:
      return true;
    default:
      return false;
  }
}

void dequantize_row(GGMLType t, const void* src, float* dst, int64_t n) {
  if (n <= 0) return;
  const auto& tr = type_traits(t);
  if (n % tr.block_size != 0)
    throw std::invalid_argument("dequantize_row: " + std::to_string(n) +
                                " elements is not a multiple of the " + tr.name + " block size");
  const int64_t nb = n / tr.block_size;
  switch (t) {
    case GGMLType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case GGMLType::F16: detail::dequantize_f16(src, dst, n); return;
    case GGMLType::BF16: detail::dequantize_bf16(src, dst, n); return;
    case GGMLType::Q4_0: detail::dequantize_q4_0(src, dst, nb); return;
    case GGMLType::Q4_1: detail::dequantize_q4_1(src, dst, nb); return;
    case GGMLType::Q5_0: detail::dequantize_q5_0(src, dst, nb); return;
    case GGMLType::Q5_1: detail::dequantize_q5_1(src, dst, nb); return;
    case GGMLType::Q8_0: detail::dequantize_q8_0(src, dst, nb); return;
    case GGMLType::Q2_K: detail::dequantize_q2_k(src, dst, nb); return;
    case GGMLType::Q3_K: detail::dequantize_q3_k(src, dst, nb); return;
    case GGMLType::Q4_K: detail::dequantize_q4_k(src, dst, nb); return;
    case GGMLType::Q5_K: detail::dequantize_q5_k(src, dst, nb); return;
    case GGMLType::Q6_K: detail::dequantize_q6_k(src, dst, nb); return;
    case GGMLType::Q8_K: detail::dequantize_q8_k(src, dst, nb); return;
    case GGMLType::IQ4_NL: detail::dequantize_iq4_nl(src, dst, nb); return;
    case GGMLType::IQ4_XS: detail::dequantize_iq4_xs(src, dst, nb); return;
    case GGMLType::TQ1_0: detail::dequantize_tq1_0(src, dst, nb); return;
    case GGMLType::TQ2_0: detail::dequantize_tq2_0(src, dst, nb); return;
    default:
      throw std::invalid_argument("dequantize_row: cannot dequantize type " + type_name(t));
  }
}

}  // namespace squish
