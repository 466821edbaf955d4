// bf16_gemm: dispatch, threading, the split choice and the scalar reference of the vdpbf16ps GEMM.
#include "squish/kernels/bf16_gemm.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "squish/common/parallel.h"
#include "squish/formats/half.h"
#include "squish/kernels/gemm.h"
#include "squish/kernels/quant_dot.h"
#include "bf16_gemm_kernels.h"

namespace squish::kernels {

namespace {

// BF16 rounding as vcvtneps2bf16 does it: nearest even, denormal inputs treated as zero.
uint16_t round_bf16(float x) {
  if (std::fabs(x) < 1.17549435e-38f) x = std::signbit(x) ? -0.0f : 0.0f;
  return fp32_to_bf16(x);
}

float bf16_value(uint16_t b) { return bf16_to_fp32(b); }

// Element t of row w (0 past k) as BF16 level `level` of `levels` (as bf16_pack_panel_avx512).
uint16_t weight_level(GGMLType t, const uint16_t* w, int64_t k, int64_t at, int levels, int level) {
  if (at >= k) return 0;
  if (t == GGMLType::BF16) return level == 0 ? w[at] : 0;
  const float f = fp16_to_fp32(w[at]);
  if (levels == 1) return round_bf16(f);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const auto hi = static_cast<uint16_t>(bits >> 16);
  return level == 0 ? hi : round_bf16(f - bf16_value(hi));
}

// Element t of activation row x as BF16 level `level` (0 past k).
uint16_t act_level(const float* x, int64_t k, int64_t at, int level) {
  if (at >= k) return 0;
  const uint16_t hi = round_bf16(x[at]);
  return level == 0 ? hi : round_bf16(x[at] - bf16_value(hi));
}

void reference(GGMLType t, const uint16_t* W, int64_t m, int64_t n, int64_t k, const float* A, float* C,
               const float* bias, int wl, int al) {
  const int64_t kp = (k + 1) / 2;
  std::vector<uint16_t> w(static_cast<size_t>(2 * kp * wl)), a(static_cast<size_t>(2 * kp * al));
  for (int64_t j = 0; j < n; ++j) {
    for (int l = 0; l < wl; ++l)
      for (int64_t e = 0; e < 2 * kp; ++e) w[static_cast<size_t>(l * 2 * kp + e)] = weight_level(t, W + j * k, k, e, wl, l);
    for (int64_t i = 0; i < m; ++i) {
      for (int l = 0; l < al; ++l)
        for (int64_t e = 0; e < 2 * kp; ++e) a[static_cast<size_t>(l * 2 * kp + e)] = act_level(A + i * k, k, e, l);
      float acc = 0.0f;
      for (int64_t p = 0; p < kp; ++p)
        for (int la = 0; la < al; ++la)
          for (int lw = 0; lw < wl; ++lw) {
            if (la == 1 && lw == 1) continue;
            for (int64_t e : {2 * p + 1, 2 * p}) {  // vdpbf16ps adds the odd element's product first
              const float prod = bf16_value(a[static_cast<size_t>(la * 2 * kp + e)]) *
                                 bf16_value(w[static_cast<size_t>(lw * 2 * kp + e)]);  // exact
              acc += prod;
            }
          }
      C[i * n + j] = acc + (bias ? bias[j] : 0.0f);
    }
  }
}

constexpr int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

// The AMX path: activations packed once per call, then per 32-row weight panel and per block of
// kAmxBlockPairs pairs (its packed weights stay in L1, every activation row's block in L2), the
// tiles' sums into a per-panel buffer, written out with the bias after the last block.
void amx_matmul(GGMLType t, const uint16_t* W, int64_t m, int64_t n, int64_t k, const float* A, float* C,
                const float* bias, int wl, int al) {
  constexpr int64_t kAmxBlockPairs = 256;
  const int64_t kp = (k + 1) / 2, kp16 = round_up(kp, 16), rows = round_up(m, 32);
  thread_local std::vector<uint32_t> act_buf;
  act_buf.resize(static_cast<size_t>(al * rows * kp16));
  uint32_t* const act = act_buf.data();
  for (int l = 0; l < al; ++l)  // padding rows: zero
    std::memset(act + (l * rows + m) * kp16, 0, static_cast<size_t>((rows - m) * kp16) * sizeof(uint32_t));
  parallel_for(m, [&](int64_t i0, int64_t i1) { bf16_pack_activations_amx(A, k, i0, i1, al, kp16, rows, act); }, 4);
  const int64_t panels = (n + kBf16PanelRows - 1) / kBf16PanelRows;
  parallel_for(panels, [&](int64_t q0, int64_t q1) {
    thread_local std::vector<uint32_t> block;
    thread_local std::vector<float> sums;
    block.resize(static_cast<size_t>(kAmxBlockPairs * wl * kBf16PanelRows));
    sums.resize(static_cast<size_t>(rows * kBf16PanelRows));
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t j0 = q * kBf16PanelRows;
      const int cols = static_cast<int>(std::min<int64_t>(kBf16PanelRows, n - j0));
      for (int64_t p0 = 0; p0 < kp16; p0 += kAmxBlockPairs) {
        const int64_t pairs = std::min(kAmxBlockPairs, kp16 - p0), real = std::min(pairs, kp - p0);
        bf16_pack_panel_avx512(t, W, k, j0, cols, wl, block.data(), p0, p0 + real);
        std::memset(block.data() + real * wl * kBf16PanelRows, 0,
                    static_cast<size_t>((pairs - real) * wl * kBf16PanelRows) * sizeof(uint32_t));
        bf16_block_gemm_amx(block.data(), wl, pairs, act + p0, al, rows, kp16, sums.data(), p0 == 0);
      }
      for (int64_t i = 0; i < m; ++i)
        for (int c = 0; c < cols; ++c)
          C[i * n + j0 + c] = sums[static_cast<size_t>(i * kBf16PanelRows + c)] + (bias ? bias[j0 + c] : 0.0f);
    }
  });
}

}  // namespace

bool bf16_gemm_available() { return active_isa() == Isa::Avx512 && cpu_has_avx512_bf16(); }

Bf16Split bf16_split_for(GGMLType t, QuantPath path) {
  static const std::string forced = [] {
    const char* v = std::getenv("SQUISH_BF16_SPLIT");
    return std::string(v ? v : "");
  }();
  Bf16Split s;
  if (forced.size() == 2 && (forced[0] == '1' || forced[0] == '2') && (forced[1] == '1' || forced[1] == '2')) {
    s.weight_levels = forced[0] - '0';
    s.act_levels = forced[1] - '0';
  } else {
    // On AMX tiles the extra term pair of exact F16 weights (hi + lo) costs little, and the
    // result then rounds only the activations.
    s.weight_levels = cpu_has_amx() && path != QuantPath::Fast ? 2 : 1;
    s.act_levels = path == QuantPath::Fast ? 1 : 2;
  }
  if (t == GGMLType::BF16) s.weight_levels = 1;  // BF16 weights are exact in one level
  return s;
}

bool bf16_gemm_pays(Bf16Split split, int64_t n, int64_t k) {
  if (cpu_has_amx()) return true;  // AMX tiles: 2.2x the F32 tiles already at SmolLM2's 576 x 576
  return k >= 2048 || (split.act_levels == 1 && n >= 512);
}

void bf16_matmul(GGMLType t, const uint16_t* W, int64_t m, int64_t n, int64_t k, const float* A, float* C,
                 const float* bias, Bf16Split split, bool simd) {
  if (m <= 0 || n <= 0) return;
  const int wl = t == GGMLType::BF16 ? 1 : split.weight_levels, al = split.act_levels;
  if (!simd) return reference(t, W, m, n, k, A, C, bias, wl, al);
  if (k <= 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) C[i * n + j] = bias ? bias[j] : 0.0f;
    return;
  }
  if (cpu_has_amx()) return amx_matmul(t, W, m, n, k, A, C, bias, wl, al);
  const int64_t kp = (k + 1) / 2;
  thread_local std::vector<uint32_t> act_buf;  // grows once, reused by later calls
  act_buf.resize(static_cast<size_t>(al * m * kp));
  uint32_t* const act = act_buf.data();
  parallel_for(m, [&](int64_t i0, int64_t i1) { bf16_pack_activations_avx512(A, k, i0, i1, al, act); }, 4);
  const int64_t panels = (n + kBf16PanelRows - 1) / kBf16PanelRows;
  parallel_for(panels, [&](int64_t q0, int64_t q1) {
    thread_local std::vector<uint32_t> panel;
    panel.resize(static_cast<size_t>(kp * wl * kBf16PanelRows));
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t j0 = q * kBf16PanelRows;
      const int cols = static_cast<int>(std::min<int64_t>(kBf16PanelRows, n - j0));
      bf16_pack_panel_avx512(t, W, k, j0, cols, wl, panel.data());
      Bf16Prefetch next;  // the next panel's rows (contiguous in W), read by the next pack
      if (q + 1 < q1)
        next = {reinterpret_cast<const uint8_t*>(W + (j0 + cols) * k),
                std::min<int64_t>(kBf16PanelRows, n - j0 - cols) * k * static_cast<int64_t>(sizeof(uint16_t))};
      bf16_panel_gemm_avx512(panel.data(), wl, act, al, m, kp, C + j0, n, cols, bias ? bias + j0 : nullptr, next);
    }
  });
}

}  // namespace squish::kernels
