// squish::can_quantize / uses_importance / quantize_row: dispatch to the per-type quantizers.
#include "squish/formats/quantize.h"

#include <cstring>
#include <stdexcept>

#include "quantize_internal.h"
#include "squish/formats/half.h"

namespace squish {
namespace {

using QuantizeFn = void (*)(const float*, void*, int64_t, const float*);

// The block quantizer of t, or nullptr when squish has none.
QuantizeFn block_quantizer(GGMLType t) {
  switch (t) {
    case GGMLType::Q4_0: return detail::quantize_q4_0;
    case GGMLType::Q4_1: return detail::quantize_q4_1;
    case GGMLType::Q5_0: return detail::quantize_q5_0;
    case GGMLType::Q5_1: return detail::quantize_q5_1;
    case GGMLType::Q8_0: return detail::quantize_q8_0;
    case GGMLType::Q2_K: return detail::quantize_q2_k;
    case GGMLType::Q3_K: return detail::quantize_q3_k;
    case GGMLType::Q4_K: return detail::quantize_q4_k;
    case GGMLType::Q5_K: return detail::quantize_q5_k;
    case GGMLType::Q6_K: return detail::quantize_q6_k;
    case GGMLType::Q8_K: return detail::quantize_q8_k;
    case GGMLType::IQ4_NL: return detail::quantize_iq4_nl;
    case GGMLType::IQ4_XS: return detail::quantize_iq4_xs;
    case GGMLType::TQ1_0: return detail::quantize_tq1_0;
    case GGMLType::TQ2_0: return detail::quantize_tq2_0;
    default: return nullptr;
  }
}

}  // namespace

bool can_quantize(GGMLType t) {
  return t == GGMLType::F32 || t == GGMLType::F16 || t == GGMLType::BF16 ||
         block_quantizer(t) != nullptr;
}

bool uses_importance(GGMLType t) {
  // Q8_0, Q8_K and the ternary types ignore importance in ggml as well.
  return block_quantizer(t) != nullptr && t != GGMLType::Q8_0 && t != GGMLType::Q8_K &&
         t != GGMLType::TQ1_0 && t != GGMLType::TQ2_0;
}

void quantize_row(GGMLType t, const float* src, void* dst, int64_t n, const float* importance) {
  if (n <= 0) return;
  const auto& tr = type_traits(t);
  if (n % tr.block_size != 0)
    throw std::invalid_argument("quantize_row: " + std::to_string(n) +
                                " elements is not a multiple of the " + tr.name + " block size");
  auto* out = static_cast<uint8_t*>(dst);
  switch (t) {
    case GGMLType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GGMLType::F16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = fp32_to_fp16(src[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    case GGMLType::BF16:
      for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = fp32_to_bf16(src[i]);
        std::memcpy(out + 2 * i, &h, 2);
      }
      return;
    default:
      break;
  }
  const QuantizeFn fn = block_quantizer(t);
  if (!fn) throw std::invalid_argument("quantize_row: cannot quantize to type " + type_name(t));
  fn(src, dst, n, uses_importance(t) ? importance : nullptr);
}

void encode_legacy_block(GGMLType t, float d, const int32_t* codes, void* dst) {
  detail::encode_legacy_block(t, d, codes, dst);
}

}  // namespace squish
