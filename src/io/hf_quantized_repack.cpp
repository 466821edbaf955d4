// Quantized linears repacked into the GGUF blocks the quantized kernels run, only where that is
// exact: every 32-element block of a row must share one scale and zero point (group sizes that
// are multiples of 32, per channel or per tensor; a g_idx that keeps blocks whole), every scale
// must be an F16 value (the blocks' d), zero points integers, and the input unquantized. Then with
// v = code − zero (an exact integer) the checkpoint's w = scale · v is, bit for bit,
//   Q4_0  d · (q − 8),  q = v + 8             when every v lies in [−8, 7]   (INT4 symmetric)
//   Q4_1  d · q + m,    q = code, m = −d·zero when codes and zeros lie in [0, 15], d > 0 and
//                                             every m is an F16 value: d·q and d·q + m are then
//                                             exact in F32, equal to the exact d·v
//   Q5_0  d · (q − 16), q = v + 16            when every v lies in [−16, 15] (INT4 asymmetric
//                                             whose m = −d·zero needs more than F16's 11 bits)
//   Q8_0  d · q,        q = v                 when every v lies in [−128, 127] (INT8 symmetric)
// choosing the smallest that fits. Anything else stays on the F32 path, with the reason noted.
#include <cmath>
#include <cstring>

#include "hf_quantized_internal.h"
#include "squish/common/parallel.h"
#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"

namespace squish {

void HFQuantizedLinear::repack(uint8_t*, const std::vector<int64_t>&) const {
  throw Error(module, "is not repackable into GGUF blocks: " + packed_note);
}

namespace hfq {

namespace {

bool fp16_exact(float v) { return std::isfinite(v) && fp16_to_fp32(fp32_to_fp16(v)) == v; }

std::vector<float> scale_values(const GridLinear& l) {
  std::vector<float> s(static_cast<size_t>(l.map.size()));
  st_convert_to_f32(l.scales->dtype, l.scales->data, s.data(), s.size());
  return s;
}

// One block of 32 codes q (floats holding integers) with scale d and zero point z, as type t.
void write_block(GGMLType t, const float* q, float d, float z, uint8_t* out) {
  const uint16_t dh = fp32_to_fp16(d);
  const auto v = [&](int j) { return static_cast<int>(q[j] - z); };
  switch (t) {
    case GGMLType::Q4_0: {
      BlockQ4_0 b;
      b.d = dh;
      for (int j = 0; j < kQK / 2; ++j) b.qs[j] = static_cast<uint8_t>((v(j) + 8) | (v(j + kQK / 2) + 8) << 4);
      std::memcpy(out, &b, sizeof b);
      return;
    }
    case GGMLType::Q4_1: {
      BlockQ4_1 b;
      b.d = dh;
      b.m = fp32_to_fp16(-(d * z));
      for (int j = 0; j < kQK / 2; ++j)
        b.qs[j] = static_cast<uint8_t>(static_cast<int>(q[j]) | static_cast<int>(q[j + kQK / 2]) << 4);
      std::memcpy(out, &b, sizeof b);
      return;
    }
    case GGMLType::Q5_0: {
      BlockQ5_0 b;
      b.d = dh;
      uint32_t qh = 0;
      for (int j = 0; j < kQK / 2; ++j) {
        const int lo = v(j) + 16, hi = v(j + kQK / 2) + 16;
        b.qs[j] = static_cast<uint8_t>((lo & 0xF) | (hi & 0xF) << 4);
        qh |= static_cast<uint32_t>(lo >> 4) << j | static_cast<uint32_t>(hi >> 4) << (j + kQK / 2);
      }
      std::memcpy(b.qh, &qh, 4);
      std::memcpy(out, &b, sizeof b);
      return;
    }
    case GGMLType::Q8_0: {
      BlockQ8_0 b;
      b.d = dh;
      for (int j = 0; j < kQK; ++j) b.qs[j] = static_cast<int8_t>(v(j));
      std::memcpy(out, &b, sizeof b);
      return;
    }
    default: throw Error("repack", "no block writer for " + type_name(t));
  }
}

}  // namespace

void GridLinear::plan_repack() {
  packed_type = GGMLType::F32;
  const auto no = [&](const std::string& why) { packed_note = why; };
  if (input_quant != InputQuant::None) return no("the input is quantized too");
  if (code_hi < code_lo) return no("the codes are not integers");
  if (in_features % kQK) return no(std::to_string(in_features) + " inputs are not whole blocks of 32");
  for (int64_t c = 0; c < in_features; c += kQK)
    for (int64_t k = 1; k < kQK; ++k)
      if (map.index(0, c + k) != map.index(0, c)) return no("a block of 32 inputs spans several scales");
  const std::vector<float> s = scale_values(*this);
  const std::vector<float> zs = zeros();
  float zmin = zs.empty() ? default_zero : INFINITY, zmax = zs.empty() ? default_zero : -INFINITY;
  bool positive = true, m_exact = true;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!fp16_exact(s[i])) return no("a scale is not an F16 value");
    const float z = zs.empty() ? default_zero : zs[i];
    if (!(z == std::floor(z)) || std::fabs(z) > 65536.f) return no("a zero point is not an integer");
    zmin = std::min(zmin, z), zmax = std::max(zmax, z);
    positive = positive && s[i] > 0.f;
    m_exact = m_exact && fp16_exact(-(s[i] * z));
  }
  const float vmin = static_cast<float>(code_lo) - zmax, vmax = static_cast<float>(code_hi) - zmin;
  if (vmin >= -8 && vmax <= 7) packed_type = GGMLType::Q4_0;
  else if (code_lo >= 0 && code_hi <= 15 && zmin >= 0 && zmax <= 15 && positive && m_exact)
    packed_type = GGMLType::Q4_1;
  else if (vmin >= -16 && vmax <= 15) packed_type = GGMLType::Q5_0;
  else if (vmin >= -128 && vmax <= 127) packed_type = GGMLType::Q8_0;
  else return no("codes minus zero points exceed int8");
  packed_note.clear();
  scheme += ", packs to " + type_name(packed_type);
}

void GridLinear::repack(uint8_t* dst, const std::vector<int64_t>& dst_row) const {
  if (packed_type == GGMLType::F32) HFQuantizedLinear::repack(dst, dst_row);
  const std::vector<float> s = scale_values(*this);
  const std::vector<float> z = zeros();
  const size_t rb = row_bytes(packed_type, in_features), bb = type_traits(packed_type).type_size;
  const int64_t nb = in_features / kQK;
  parallel_for(out_features, [&](int64_t r0, int64_t r1) {
    std::vector<float> codes(static_cast<size_t>(in_features));
    for (int64_t r = r0; r < r1; ++r) {
      row_codes(r, codes.data());
      uint8_t* out = dst + static_cast<size_t>(dst_row.empty() ? r : dst_row[static_cast<size_t>(r)]) * rb;
      for (int64_t b = 0; b < nb; ++b) {
        const size_t i = static_cast<size_t>(map.index(r, b * kQK));
        write_block(packed_type, codes.data() + b * kQK, s[i], z.empty() ? default_zero : z[i], out + b * bb);
      }
    }
  }, 8);
}

}  // namespace hfq
}  // namespace squish
