// AVX512-BF16 kernels of bf16_gemm: panel and activation packing (vcvtneps2bf16) and the
// vdpbf16ps register tiles (up to 8 activation rows x 32 weight rows, blocked over k).
// GCC 12 flags its own undefined upper lanes inside the widening intrinsics as uninitialised.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "bf16_gemm_kernels.h"
#include "bf16_lanes_avx512.h"
#include "transpose_avx2.h"

namespace squish::kernels {

namespace {

using bf16_lanes::first_lanes;
using bf16_lanes::from_bf16;
using bf16_lanes::to_bf16;

// Elements [t, t + 16) of a row (zero past k) as levels of BF16: lv[0] = hi, lv[1] = lo.
inline void weight_levels(GGMLType t, const uint16_t* row, int64_t k, int64_t at, int levels, __m256i lv[2]) {
  const __mmask16 mask = first_lanes(k - at);
  const __m256i h = _mm256_maskz_loadu_epi16(mask, row + at);
  if (t == GGMLType::BF16) {
    lv[0] = h;
    return;
  }
  const __m512 f = _mm512_cvtph_ps(h);
  if (levels == 1) {
    lv[0] = to_bf16(f);
    return;
  }
  lv[0] = _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_castps_si512(f), 16));  // truncated: exact remainder
  lv[1] = to_bf16(_mm512_sub_ps(f, from_bf16(lv[0])));
}

template <int MR, int WL, int AL>
void tile(const uint32_t* panel, const uint32_t* act, int64_t kp, int64_t pc, float* C,
          int64_t ldc, bool first, bool last, int cols, const float* bias) {
  const __mmask16 m0 = first_lanes(cols), m1 = first_lanes(cols - 16);
  __m512 acc[MR][2];
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    acc[i][0] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m0, C + i * ldc);
    acc[i][1] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(m1, C + i * ldc + 16);
  }
  for (int64_t p = 0; p < pc; ++p) {
    __m512bh w[WL][2];
    const uint32_t* wp = panel + p * WL * kBf16PanelRows;
#pragma GCC unroll 2
    for (int l = 0; l < WL; ++l) {
      w[l][0] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(wp + l * kBf16PanelRows));
      w[l][1] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(wp + l * kBf16PanelRows + 16));
    }
    // Term pairs outermost: an accumulator's successive updates sit MR instructions apart (the
    // order of its own additions is unchanged).
#pragma GCC unroll 2
    for (int la = 0; la < AL; ++la)
#pragma GCC unroll 8
      for (int i = 0; i < MR; ++i) {
        const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(static_cast<int>(act[(i * kp + p) * AL + la])));
#pragma GCC unroll 2
        for (int lw = 0; lw < WL; ++lw) {
          if (la == 1 && lw == 1) continue;  // lo x lo: below F32 rounding
          acc[i][0] = _mm512_dpbf16_ps(acc[i][0], a, w[lw][0]);
          acc[i][1] = _mm512_dpbf16_ps(acc[i][1], a, w[lw][1]);
        }
      }
  }
  if (last && bias) {
    const __m512 b0 = _mm512_maskz_loadu_ps(m0, bias), b1 = _mm512_maskz_loadu_ps(m1, bias + 16);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i) {
      acc[i][0] = _mm512_add_ps(acc[i][0], b0);
      acc[i][1] = _mm512_add_ps(acc[i][1], b1);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < MR; ++i) {
    _mm512_mask_storeu_ps(C + i * ldc, m0, acc[i][0]);
    _mm512_mask_storeu_ps(C + i * ldc + 16, m1, acc[i][1]);
  }
}

using TileFn = void (*)(const uint32_t*, const uint32_t*, int64_t, int64_t, float*, int64_t, bool, bool,
                        int, const float*);

template <int WL, int AL, int... MRs>
constexpr std::array<TileFn, sizeof...(MRs)> tiles_of(std::integer_sequence<int, MRs...>) {
  return {&tile<MRs + 1, WL, AL>...};
}

// kTiles[WL - 1][AL - 1][MR - 1].
constexpr std::array<std::array<std::array<TileFn, kBf16TileTokens>, 2>, 2> kTiles = {{
    {{tiles_of<1, 1>(std::make_integer_sequence<int, kBf16TileTokens>{}),
      tiles_of<1, 2>(std::make_integer_sequence<int, kBf16TileTokens>{})}},
    {{tiles_of<2, 1>(std::make_integer_sequence<int, kBf16TileTokens>{}),
      tiles_of<2, 2>(std::make_integer_sequence<int, kBf16TileTokens>{})}},
}};

}  // namespace

void bf16_pack_panel_avx512(GGMLType t, const uint16_t* W, int64_t k, int64_t j0, int64_t rows, int levels,
                            uint32_t* panel, int64_t p_begin, int64_t p_end) {
  const int64_t kp = p_end < 0 ? (k + 1) / 2 : p_end;
  const int64_t stride = levels * kBf16PanelRows;  // uint32 between consecutive pairs of one row
  if (rows < kBf16PanelRows)
    std::memset(panel, 0, static_cast<size_t>((kp - p_begin) * stride) * sizeof(uint32_t));
  panel -= p_begin * stride;  // pair p lands at (p - p_begin) * stride
  // 8 rows x 8 pairs at a time, transposed in registers into 8 runs of 8 rows (no scatter).
  for (int64_t r0 = 0; r0 < rows; r0 += 8)
    for (int64_t p = p_begin; p < kp; p += 8) {
      __m256i hi[8], lo[8];
#pragma GCC unroll 8
      for (int i = 0; i < 8; ++i) {
        __m256i both[2] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
        if (r0 + i < rows) weight_levels(t, W + (j0 + r0 + i) * k, k, 2 * p, levels, both);
        hi[i] = both[0];
        lo[i] = both[1];
      }
      const int64_t pairs = kp - p;
      const auto store = [&](__m256i (&r)[8], int l) {
        transpose8x8(r);
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j)
          if (j < pairs)
            _mm256_storeu_si256(reinterpret_cast<__m256i*>(panel + (p + j) * stride + l * kBf16PanelRows + r0), r[j]);
      };
      store(hi, 0);
      if (levels == 2) store(lo, 1);
    }
}

void bf16_pack_activations_avx512(const float* A, int64_t k, int64_t i0, int64_t i1, int act_levels,
                                  uint32_t* act) {
  const int64_t kp = (k + 1) / 2;
  // hi pairs 0..7 in lanes 0..7 and lo pairs in lanes 8..15, interleaved into hi0 lo0 hi1 lo1 ...
  const __m512i interleave = _mm512_setr_epi32(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15);
  for (int64_t i = i0; i < i1; ++i) {
    const float* x = A + i * k;
    uint32_t* row = act + i * kp * act_levels;
    for (int64_t t = 0; t < 2 * kp; t += 16) {
      const __m512 v = _mm512_maskz_loadu_ps(first_lanes(k - t), x + t);
      const __m256i h = to_bf16(v);
      if (act_levels == 1) {
        _mm256_mask_storeu_epi16(reinterpret_cast<uint16_t*>(row) + t, first_lanes(2 * kp - t), h);
        continue;
      }
      const __m256i l = to_bf16(_mm512_sub_ps(v, from_bf16(h)));
      const __m512i both = _mm512_permutexvar_epi32(interleave, _mm512_inserti64x4(_mm512_castsi256_si512(h), l, 1));
      _mm512_mask_storeu_epi32(row + t, first_lanes(2 * kp - t), both);  // 2 uint32 per pair
    }
  }
}

void bf16_panel_gemm_avx512(const uint32_t* panel, int weight_levels, const uint32_t* act,
                            int act_levels, int64_t m, int64_t kp, float* C, int64_t ldc, int cols,
                            const float* bias, Bf16Prefetch next) {
  const auto& row = kTiles[weight_levels - 1][act_levels - 1];
  const int64_t tiles = ((kp + kBf16BlockPairs - 1) / kBf16BlockPairs) * ((m + kBf16TileTokens - 1) / kBf16TileTokens);
  const int64_t lines = (next.bytes + 63) / 64, per_tile = (lines + tiles - 1) / tiles;
  int64_t line = 0;
  for (int64_t p0 = 0; p0 < kp; p0 += kBf16BlockPairs) {
    const int64_t pc = std::min(kBf16BlockPairs, kp - p0);
    for (int64_t i = 0; i < m; i += kBf16TileTokens) {
      for (const int64_t end = std::min(lines, line + per_tile); line < end; ++line)
        _mm_prefetch(reinterpret_cast<const char*>(next.begin + 64 * line), _MM_HINT_T1);
      const int mr = static_cast<int>(std::min<int64_t>(kBf16TileTokens, m - i));
      const uint32_t* ai = act + (i * kp + p0) * act_levels;
      row[mr - 1](panel + p0 * weight_levels * kBf16PanelRows, ai, kp, pc, C + i * ldc, ldc, p0 == 0,
                  p0 + pc >= kp, cols, bias);
    }
  }
}

}  // namespace squish::kernels
