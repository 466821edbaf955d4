// AMX-BF16 kernels of bf16_gemm: activations packed per level into rows of BF16 pairs, and the
// TDPBF16PS tile loop (32 activation rows x 32 weight rows per step, F32 sums kept in the tiles).
#include "bf16_lanes_avx512.h"  // first: its pragmas cover the intrinsics below

#include <cstring>

#include "amx_tiles.h"
#include "bf16_gemm_kernels.h"

namespace squish::kernels {

namespace {

// The tile configuration (palette 1): every tile 16 rows of 64 bytes.
void configure_tiles() {
  amx::TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  amx::load_tile_config(cfg);
}

// Tiles: C (tokens 16g.., rows 16h..) in tmm0 + 2g + h; A (tokens 16g..) in tmm4 + g; B (rows 16h..)
// in tmm6 + h. One k step: the 4 products of the loaded A and B tiles.
#define SQUISH_AMX_FOUR_PRODUCTS()   \
  do {                               \
    _tile_dpbf16ps(0, 4, 6);         \
    _tile_dpbf16ps(1, 4, 7);         \
    _tile_dpbf16ps(2, 5, 6);         \
    _tile_dpbf16ps(3, 5, 7);         \
  } while (0)

}  // namespace

void bf16_pack_activations_amx(const float* A, int64_t k, int64_t i0, int64_t i1, int act_levels, int64_t kp16,
                               int64_t rows, uint32_t* act) {
  for (int64_t i = i0; i < i1; ++i) {
    const float* x = A + i * k;
    uint16_t* hi = reinterpret_cast<uint16_t*>(act + i * kp16);
    uint16_t* lo = reinterpret_cast<uint16_t*>(act + (rows + i) * kp16);
    for (int64_t t = 0; t < 2 * kp16; t += 16) {
      const __m512 v = _mm512_maskz_loadu_ps(bf16_lanes::first_lanes(k - t), x + t);
      const __m256i h = bf16_lanes::to_bf16(v);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(hi + t), h);
      if (act_levels == 2)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(lo + t),
                            bf16_lanes::to_bf16(_mm512_sub_ps(v, bf16_lanes::from_bf16(h))));
    }
  }
}

void bf16_block_gemm_amx(const uint32_t* panel, int weight_levels, int64_t pairs, const uint32_t* act,
                         int act_levels, int64_t rows, int64_t kp16, float* C, bool first) {
  configure_tiles();
  const int64_t a_stride = kp16 * 4, b_stride = weight_levels * kBf16PanelRows * 4, c_stride = kBf16PanelRows * 4;
  for (int64_t i = 0; i < rows; i += 32) {
    float* c = C + i * kBf16PanelRows;
    if (first) {
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
    } else {
      _tile_loadd(0, c, c_stride);
      _tile_loadd(1, c + 16, c_stride);
      _tile_loadd(2, c + 16 * kBf16PanelRows, c_stride);
      _tile_loadd(3, c + 16 * kBf16PanelRows + 16, c_stride);
    }
    for (int64_t p = 0; p < pairs; p += 16) {
      const uint32_t* w = panel + p * weight_levels * kBf16PanelRows;
      const uint32_t* a = act + i * kp16 + p;
      _tile_loadd(6, w, b_stride);
      _tile_loadd(7, w + 16, b_stride);
      _tile_loadd(4, a, a_stride);
      _tile_loadd(5, a + 16 * kp16, a_stride);
      SQUISH_AMX_FOUR_PRODUCTS();  // hi x hi
      if (act_levels == 2) {       // lo activations x hi weights
        _tile_loadd(4, a + rows * kp16, a_stride);
        _tile_loadd(5, a + (rows + 16) * kp16, a_stride);
        SQUISH_AMX_FOUR_PRODUCTS();
      }
      if (weight_levels == 2) {  // hi activations x lo weights
        _tile_loadd(6, w + kBf16PanelRows, b_stride);
        _tile_loadd(7, w + kBf16PanelRows + 16, b_stride);
        if (act_levels == 2) {
          _tile_loadd(4, a, a_stride);
          _tile_loadd(5, a + 16 * kp16, a_stride);
        }
        SQUISH_AMX_FOUR_PRODUCTS();
      }
    }
    _tile_stored(0, c, c_stride);
    _tile_stored(1, c + 16, c_stride);
    _tile_stored(2, c + 16 * kBf16PanelRows, c_stride);
    _tile_stored(3, c + 16 * kBf16PanelRows + 16, c_stride);
  }
}

#undef SQUISH_AMX_FOUR_PRODUCTS

}  // namespace squish::kernels
