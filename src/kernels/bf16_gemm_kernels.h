// Layouts shared by the BF16 GEMM driver (bf16_gemm.cpp) and its AVX-512 kernel.
//
// Activations: m rows of kp = ceil(k / 2) pairs, each pair as `levels` uint32 (hi, then lo);
// a uint32 holds BF16(x[2p]) in its low half and BF16(x[2p+1]) in its high half (0 past k): with
// one level simply the row rounded to BF16 in memory order.
// Weight panel (32 rows): for each pair p, for each weight level l, 32 uint32 pairs (row r's
// elements 2p, 2p+1), so one 64-byte load per 16 rows feeds vdpbf16ps against a broadcast
// activation pair. Rows past n are zero.
#pragma once
#include <cstdint>

#include "squish/formats/ggml_type.h"

namespace squish::kernels {

constexpr int kBf16PanelRows = 32;      // weight rows per panel (two zmm of F32 accumulators)
constexpr int kBf16TileTokens = 8;      // activation rows per register tile
constexpr int64_t kBf16BlockPairs = 128; // k pairs per cache block (16 KiB of panel per level)

// Repacks pairs [p_begin, p_end) (p_end < 0: to kp) of weight rows [j0, j0 + rows) (rows <= 32) of W
// (n rows of k F16 / BF16 values) into `panel` ((p_end - p_begin) * levels * 32 uint32), levels 1 or
// 2 as in Bf16Split.
void bf16_pack_panel_avx512(GGMLType t, const uint16_t* W, int64_t k, int64_t j0, int64_t rows,
                            int levels, uint32_t* panel, int64_t p_begin = 0, int64_t p_end = -1);

// act (m * kp * act_levels uint32) = rows [i0, i1) of A rounded as described above (levels 1 or 2).
void bf16_pack_activations_avx512(const float* A, int64_t k, int64_t i0, int64_t i1, int act_levels,
                                  uint32_t* act);

// Bytes the GEMM of one panel pulls into L2 while it computes (the next panel's weight rows, so
// their repacking reads cache instead of waiting on memory); bytes == 0: none.
struct Bf16Prefetch {
  const uint8_t* begin = nullptr;
  int64_t bytes = 0;
};

// C[i, c] (c < cols <= 32, row stride ldc) = Σ_p products of panel and act rows i < m (+ bias[c]),
// prefetching `next` spread over its register tiles.
void bf16_panel_gemm_avx512(const uint32_t* panel, int weight_levels, const uint32_t* act,
                            int act_levels, int64_t m, int64_t kp, float* C, int64_t ldc, int cols,
                            const float* bias, Bf16Prefetch next = {});

// AMX layout of activations: level l of row i at act + (l * rows + i) * kp16, kp16 = kp rounded up
// to 16 pairs (zero past k). Packs rows [i0, i1); rows is the padded row count.
void bf16_pack_activations_amx(const float* A, int64_t k, int64_t i0, int64_t i1, int act_levels,
                               int64_t kp16, int64_t rows, uint32_t* act);

// AMX tiles (call only where cpu_has_amx()): for a block of `pairs` (a multiple of 16) weight pairs
// packed as bf16_pack_panel_avx512 packs them and the same pairs of the AMX-layout activations `act`
// (already offset to the block's first pair), C (rows x 32, row stride 32; rows, the activations'
// padded row count, a multiple of 32) = the block's products (first) or C + them. Term pairs as
// the vdpbf16ps kernel: all but lo x lo.
void bf16_block_gemm_amx(const uint32_t* panel, int weight_levels, int64_t pairs, const uint32_t* act,
                         int act_levels, int64_t rows, int64_t kp16, float* C, bool first);

}  // namespace squish::kernels
