// quant_matmul: integer-dot GEMV for decoding, dequantized F32 tiles for prompt batches.
#include "squish/kernels/quant_matmul.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/kernels/bf16_gemm.h"
#include "squish/kernels/dequant_fast.h"
#include "squish/kernels/gemm.h"
#include "squish/kernels/quant_dot.h"
#include "half_gemv.h"

namespace squish::kernels {

namespace {

constexpr int64_t kTileRows = 16;  // weight rows dequantized per F32 tile

bool has_int8_kernel(GGMLType t, int64_t k) {
  if (!can_quant_dot(t)) return false;
  return k % type_traits(activation_type(t)).block_size == 0;
}

// Whether the integer path is the faster one for decoding: a SIMD dot product exists for t.
bool int8_is_fast(GGMLType t) {
  const Isa isa = active_isa();
  if (t == GGMLType::Q4_0 || t == GGMLType::Q8_0) return isa != Isa::Scalar;
  return (t == GGMLType::Q4_K || t == GGMLType::Q6_K) && isa != Isa::Scalar;
}

void matmul_int8(GGMLType t, const uint8_t* W, int64_t m, int64_t n, int64_t k, const float* A,
                 float* C, const float* bias) {
  const GGMLType at = activation_type(t);
  const size_t ab = row_bytes(at, k), rb = row_bytes(t, k);
  std::vector<uint8_t> act(ab * static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) quantize_activations(t, A + i * k, act.data() + i * ab, k);
  const Isa isa = active_isa();
  parallel_for(n, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      const uint8_t* row = W + j * rb;
      const float b = bias ? bias[j] : 0.f;
      int64_t i = 0;
      for (; i + 4 <= m; i += 4) {  // four tokens per weight-row pass
        const void* a4[4] = {act.data() + i * ab, act.data() + (i + 1) * ab, act.data() + (i + 2) * ab,
                             act.data() + (i + 3) * ab};
        float out[4];
        quant_dot4(isa, t, row, a4, k, out);
        for (int r = 0; r < 4; ++r) C[(i + r) * n + j] = out[r] + b;
      }
      for (; i < m; ++i) C[i * n + j] = quant_dot(isa, t, row, act.data() + i * ab, k) + b;
    }
  }, 8);
}

void matmul_tiles(GGMLType t, const uint8_t* W, int64_t m, int64_t n, int64_t k, const float* A,
                  float* C, const float* bias) {
  const size_t rb = row_bytes(t, k);
  const int64_t tiles = (n + kTileRows - 1) / kTileRows;
  parallel_for(tiles, [&](int64_t b, int64_t e) {
    std::vector<float> tile(static_cast<size_t>(kTileRows * k));
    for (int64_t ti = b; ti < e; ++ti) {
      const int64_t j0 = ti * kTileRows, nr = std::min(kTileRows, n - j0);
      for (int64_t r = 0; r < nr; ++r) dequantize_row_fast(t, W + (j0 + r) * rb, tile.data() + r * k, k);
      gemm_nt(m, nr, k, A, k, tile.data(), k, C + j0, n, bias ? bias + j0 : nullptr);
    }
  });
}

}  // namespace

QuantPath default_quant_path() {
  static const QuantPath p = [] {
    const char* v = std::getenv("SQUISH_QUANT_PATH");
    const std::string s = v ? v : "auto";
    if (s == "int8") return QuantPath::Int8;
    if (s == "f32") return QuantPath::F32Tiles;
    if (s == "fast") return QuantPath::Fast;
    return QuantPath::Auto;
  }();
  return p;
}

int64_t int8_max_tokens() { return 8; }

void quant_matmul(GGMLType t, const void* W, int64_t m, int64_t n, int64_t k, const float* A,
                  float* C, const float* bias, QuantPath path) {
  if (m <= 0 || n <= 0) return;
  const auto* w = static_cast<const uint8_t*>(W);
  if (t == GGMLType::F32) {
    matmul(m, n, k, A, reinterpret_cast<const float*>(w), C, bias);
    return;
  }
  if (!can_dequantize(t))
    throw Error("quant_matmul", "weight type " + type_name(t) + " is not supported");
  if ((t == GGMLType::F16 || t == GGMLType::BF16) && m <= kHalfGemvTokens && active_isa() == Isa::Avx512 &&
      path != QuantPath::F32Tiles) {  // decoding: widen in registers, no tile
    const auto* h = reinterpret_cast<const uint16_t*>(w);
    parallel_for(n, [&](int64_t j0, int64_t j1) { half_gemv_avx512(t, h, m, n, k, A, C, bias, j0, j1); }, 16);
    return;
  }
  if ((t == GGMLType::F16 || t == GGMLType::BF16) && (path == QuantPath::Auto || path == QuantPath::Fast) &&
      bf16_gemm_available() && bf16_gemm_pays(bf16_split_for(t, path), n, k)) {
    bf16_matmul(t, reinterpret_cast<const uint16_t*>(w), m, n, k, A, C, bias, bf16_split_for(t, path));
    return;  // prompts: vdpbf16ps panels
  }
  const bool int8 = has_int8_kernel(t, k) &&
                    (path == QuantPath::Int8 ||
                     ((path == QuantPath::Auto || path == QuantPath::Fast) && m <= int8_max_tokens() && int8_is_fast(t)));
  if (int8)
    matmul_int8(t, w, m, n, k, A, C, bias);
  else
    matmul_tiles(t, w, m, n, k, A, C, bias);
}

}  // namespace squish::kernels
