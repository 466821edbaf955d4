// block_panels: GGUF Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 rows repacked into 16-row panels, the scalar reference
// kernels, and the multi-threaded matmul that runs the panel tiles.
#include "squish/kernels/block_panels.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "block_panel_kernels.h"
#include "kquant_panel_kernels.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"

namespace squish::kernels {

namespace panels {

void Layout::scale_min(const uint8_t* p, int r, float* scale, float* mn) const {
  uint16_t h;
  std::memcpy(&h, p + code_bytes() + 2 * r, 2);
  *scale = fp16_to_fp32(h);
  *mn = -offset * *scale;
  if (stored_min) {
    std::memcpy(&h, p + code_bytes() + 32 + 2 * r, 2);
    *mn = fp16_to_fp32(h);
  }
}

void tile_scalar(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, int na,
                 const float* bias, int nr, float* C, int64_t ldc) {
  for (int i = 0; i < na; ++i) {
    for (int r = 0; r < nr; ++r) {
      float acc = 0.0f;
      for (int64_t b = 0; b < blocks; ++b) {
        const uint8_t* p = panel + static_cast<size_t>(b) * L.block_bytes();
        int32_t dot = 0;
        for (int t = 0; t < kBlock; ++t) dot += L.code(p, r, t) * int32_t{a[i].q[b * kBlock + t]};
        float scale, mn;
        L.scale_min(p, r, &scale, &mn);
        if (a[i].q2) {
          int32_t dot2 = 0;
          for (int t = 0; t < kBlock; ++t) dot2 += L.code(p, r, t) * int32_t{a[i].q2[b * kBlock + t]};
          constexpr float kStep = 1.0f / (1 << kLevelShift);
          acc = std::fma(static_cast<float>(dot * (1 << kLevelShift) + dot2), scale * (a[i].d[b] * kStep), acc);
        } else {
          acc = std::fma(static_cast<float>(dot), scale * a[i].d[b], acc);
        }
        acc = std::fma(mn, a[i].ds[b], acc);
      }
      C[i * ldc + r] = acc + (bias ? bias[r] : 0.0f);
    }
  }
}

BlockPanels zeroed_panels(GGMLType t, int64_t n, int64_t k, size_t bytes) {
  BlockPanels P;
  P.type = t;
  P.rows = n;
  P.cols = k;
  P.data.assign(bytes, 0);
  return P;
}

void quantize_scalar(const float* x, int64_t k, int8_t* q, float* d, float* ds) {
  BlockQ8_0 blk;  // the rule of the row kernels' activations, one block at a time
  for (int64_t b = 0; b < k / kBlock; ++b) {
    quantize_activations_q8_0(x + b * kBlock, &blk, kBlock);
    int32_t sum = 0;
    for (int i = 0; i < kBlock; ++i) sum += q[b * kBlock + i] = blk.qs[i];
    d[b] = fp16_to_fp32(blk.d);
    ds[b] = d[b] * static_cast<float>(sum);
  }
}

void quantize2_scalar(const float* x, int64_t k, int8_t* q, float* d, float* ds, int8_t* q2) {
  quantize_scalar(x, k, q, d, ds);
  for (int64_t b = 0; b < k / kBlock; ++b) {
    const float step = d[b] * (1.0f / (1 << kLevelShift)), inv = step > 0.0f ? 1.0f / step : 0.0f;
    int32_t sum = 0;
    for (int64_t j = b * kBlock; j < (b + 1) * kBlock; ++j) {
      const float r = std::fma(-d[b], static_cast<float>(q[j]), x[j]);  // |r| ≤ 0.57 d: |q2| ≤ 73
      const float v = std::nearbyint(r * inv);
      q2[j] = static_cast<int8_t>(std::clamp(v, -127.0f, 127.0f));
      sum += q2[j];
    }
    ds[b] = std::fma(step, static_cast<float>(sum), ds[b]);
  }
}

const Kernels scalar_kernels = {tile_scalar, quantize_scalar, quantize2_scalar};

QuantizedRows quantize_rows(int64_t m, int64_t k, const float* A, const Kernels& K, bool two_level) {
  const int64_t nb = k / kBlock;
  thread_local std::vector<int8_t> q, q2;
  thread_local std::vector<float> d, ds;
  q.resize(static_cast<size_t>(m * k));
  d.resize(static_cast<size_t>(m * nb));
  ds.resize(static_cast<size_t>(m * nb));
  if (two_level) q2.resize(static_cast<size_t>(m * k));
  const QuantizedRows out{q.data(), d.data(), ds.data(), two_level ? q2.data() : nullptr};
  const auto rows = [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      if (two_level)
        K.quantize2(A + i * k, k, out.q + i * k, out.d + i * nb, out.ds + i * nb, out.q2 + i * k);
      else
        K.quantize(A + i * k, k, out.q + i * k, out.d + i * nb, out.ds + i * nb);
    }
  };
  if (m >= 16) parallel_for(m, rows, 4);
  else rows(0, m);
  return out;
}

}  // namespace panels

namespace {

using panels::kBlock;
using panels::kRows;

bool is_panel_type(GGMLType t) {
  return t == GGMLType::Q4_0 || t == GGMLType::Q4_1 || t == GGMLType::Q5_0 || t == GGMLType::Q5_1 ||
         t == GGMLType::Q8_0;
}

panels::Layout layout_of(GGMLType t) {
  panels::Layout L;
  L.nibbles = t != GGMLType::Q8_0;
  L.high_bits = t == GGMLType::Q5_0 || t == GGMLType::Q5_1;
  L.stored_min = t == GGMLType::Q4_1 || t == GGMLType::Q5_1;
  L.offset = t == GGMLType::Q8_0 ? 128.0f : t == GGMLType::Q4_0 ? 8.0f : t == GGMLType::Q5_0 ? 16.0f : 0.0f;
  return L;
}

// Unsigned codes, F16 scale and F16 minimum (0 where the type has none) of block b of a row.
void block_codes(GGMLType t, const uint8_t* row, int64_t b, uint8_t* u, uint16_t* scale, uint16_t* mn) {
  *mn = 0;
  if (t == GGMLType::Q8_0) {
    const auto& blk = reinterpret_cast<const BlockQ8_0*>(row)[b];
    for (int i = 0; i < kBlock; ++i) u[i] = static_cast<uint8_t>(blk.qs[i]) ^ 0x80;
    *scale = blk.d;
    return;
  }
  const uint8_t* qs;
  uint32_t qh = 0;  // Q5: bit i is bit 4 of element i
  if (t == GGMLType::Q5_1) {
    const auto& b5 = reinterpret_cast<const BlockQ5_1*>(row)[b];
    std::memcpy(&qh, b5.qh, 4);
    qs = b5.qs, *scale = b5.d, *mn = b5.m;
  } else if (t == GGMLType::Q4_1) {
    const auto& blk = reinterpret_cast<const BlockQ4_1*>(row)[b];
    qs = blk.qs, *scale = blk.d, *mn = blk.m;
  } else if (t == GGMLType::Q5_0) {
    const auto& b5 = reinterpret_cast<const BlockQ5_0*>(row)[b];
    std::memcpy(&qh, b5.qh, 4);
    qs = b5.qs, *scale = b5.d;
  } else {
    const auto& blk = reinterpret_cast<const BlockQ4_0*>(row)[b];
    qs = blk.qs, *scale = blk.d;
  }
  for (int i = 0; i < kBlock / 2; ++i) {  // low nibbles are elements 0..15, high ones 16..31
    u[i] = static_cast<uint8_t>((qs[i] & 0x0F) | ((qh >> i) & 1) << 4);
    u[i + 16] = static_cast<uint8_t>((qs[i] >> 4) | ((qh >> (i + 16)) & 1) << 4);
  }
}

}  // namespace

bool block_panels_supported(GGMLType t, int64_t k, Isa isa) {
  // AVX2: Q6_K's 6-bit codes need twice the vpmaddwd of the others; its panels were slower than the
  // row dots and F32 tiles for decoding and prompts (bench_kquant_panels), so its rows stay there.
  if (kpanels::is_kquant(t))
    return k > 0 && k % kpanels::kSuper == 0 && (isa == Isa::Avx512 || (isa == Isa::Avx2 && t != GGMLType::Q6_K));
  // AVX2 without VNNI: Q8_0's sign-trick dots make its two-level prompts ~2x slower than the F32
  // tiles (bench_panels, squish bench), so its rows keep the row dots and tiles there.
  return is_panel_type(t) && k > 0 && k % kBlock == 0 &&
         (isa == Isa::Avx512 || (isa == Isa::Avx2 && t != GGMLType::Q8_0));
}

BlockPanels make_block_panels(GGMLType t, const void* W, int64_t n, int64_t k) {
  if (kpanels::is_kquant(t)) return kpanels::make_panels(t, W, n, k);
  if (!is_panel_type(t) || k % kBlock != 0)
    throw Error("block_panels", "cannot repack " + type_name(t) + " rows of " + std::to_string(k));
  const panels::Layout L = layout_of(t);
  const int64_t np = (n + kRows - 1) / kRows, nb = k / kBlock;
  BlockPanels P = panels::zeroed_panels(t, n, k, static_cast<size_t>(np * nb) * L.block_bytes());
  const auto* src = static_cast<const uint8_t*>(W);
  const size_t rb = row_bytes(t, k);
  parallel_for(np, [&](int64_t p0, int64_t p1) {
    uint8_t u[kBlock];
    for (int64_t p = p0; p < p1; ++p) {
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* dst = P.data.data() + static_cast<size_t>(p * nb + b) * L.block_bytes();
        for (int r = 0; r < kRows && p * kRows + r < n; ++r) {
          uint16_t scale, mn;
          block_codes(t, src + static_cast<size_t>(p * kRows + r) * rb, b, u, &scale, &mn);
          for (int c = 0; c < kBlock; ++c) {
            const int lane = r * 4 + c % 4, v = c / 8;
            const bool upper = c % 8 >= 4;
            if (!L.nibbles) {
              dst[(c / 4) * 64 + lane] = u[c];
              continue;
            }
            dst[v * 64 + lane] |= static_cast<uint8_t>((u[c] & 0x0F) << (upper ? 4 : 0));
            if (L.high_bits) dst[256 + lane] |= static_cast<uint8_t>(((u[c] >> 4) & 1) << (upper ? 4 + v : v));
          }
          std::memcpy(dst + L.code_bytes() + 2 * r, &scale, 2);
          if (L.stored_min) std::memcpy(dst + L.code_bytes() + 32 + 2 * r, &mn, 2);
        }
      }
    }
  });
  return P;
}

void block_panel_row_f32(const BlockPanels& P, int64_t r, float* dst) {
  if (kpanels::is_kquant(P.type)) return kpanels::row_f32(P, r, dst);
  const panels::Layout L = layout_of(P.type);
  const int64_t nb = P.cols / kBlock, p = r / kRows;
  const int row = static_cast<int>(r % kRows);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8_t* blk = P.data.data() + static_cast<size_t>(p * nb + b) * L.block_bytes();
    float scale, mn;
    L.scale_min(blk, row, &scale, &mn);
    for (int c = 0; c < kBlock; ++c) dst[b * kBlock + c] = scale * static_cast<float>(L.code(blk, row, c)) + mn;
  }
}

void block_panel_matmul(const BlockPanels& P, int64_t m, const float* A, float* C, const float* bias,
                        Isa isa, bool two_level) {
  if (kpanels::is_kquant(P.type)) return kpanels::matmul(P, m, A, C, bias, isa, two_level);
  if (m <= 0 || P.rows <= 0) return;
  const panels::Kernels& K = isa == Isa::Avx512 ? panels::avx512_kernels
                             : isa == Isa::Avx2 ? panels::avx2_kernels
                                                : panels::scalar_kernels;
  const panels::Layout L = layout_of(P.type);
  const int64_t k = P.cols, n = P.rows, nb = k / kBlock, np = (n + kRows - 1) / kRows;
  const panels::QuantizedRows act = panels::quantize_rows(m, k, A, K, two_level);
  int8_t *qp = act.q, *q2p = act.q2;
  float *dp = act.d, *dsp = act.ds;
  constexpr int64_t kChunk = 64;  // activation rows kept in cache while the panels stream by
  parallel_for(np, [&](int64_t p0, int64_t p1) {
    panels::ActRow rows[panels::kTileTokens];
    for (int64_t c0 = 0; c0 < m; c0 += kChunk) {
      const int64_t c1 = std::min(m, c0 + kChunk);
      for (int64_t p = p0; p < p1; ++p) {
        const uint8_t* panel = P.data.data() + static_cast<size_t>(p * nb) * L.block_bytes();
        const int nr = static_cast<int>(std::min<int64_t>(kRows, n - p * kRows));
        for (int64_t i = c0; i < c1; i += panels::kTileTokens) {
          const int na = static_cast<int>(std::min<int64_t>(panels::kTileTokens, c1 - i));
          for (int t = 0; t < na; ++t)
            rows[t] = {qp + (i + t) * k, dp + (i + t) * nb, dsp + (i + t) * nb, two_level ? q2p + (i + t) * k : nullptr};
          K.tile(L, panel, nb, rows, na, bias ? bias + p * kRows : nullptr, nr, C + i * n + p * kRows, n);
        }
      }
    }
  });
}

}  // namespace squish::kernels
