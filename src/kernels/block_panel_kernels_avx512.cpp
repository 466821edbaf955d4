// AVX-512 VNNI panel tiles and activation quantizers of block_panel_matmul: each 32-bit lane of a
// code vector is 4 codes of one weight row, vpdpbusd multiplies them (unsigned) by 4 activation
// codes (signed) broadcast to all 16 lanes, so one block of 32 codes is 8 vpdpbusd per activation
// row, with no horizontal sums (block_panel_tile.h on panel_lanes_avx512.h).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "block_panel_kernels.h"
#include "block_panel_tile.h"
#include "panel_lanes_avx512.h"

namespace squish::kernels::panels {

void tile_avx512(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, int na,
                 const float* bias, int nr, float* C, int64_t ldc) {
  tile_on<LanesAvx512>(L, panel, blocks, a, na, bias, nr, C, ldc);
}

void quantize_avx512(const float* x, int64_t k, int8_t* q, float* d, float* ds) {
  quantize_on<LanesAvx512>(x, k, q, d, ds);
}

void quantize2_avx512(const float* x, int64_t k, int8_t* q, float* d, float* ds, int8_t* q2) {
  quantize2_on<LanesAvx512>(x, k, q, d, ds, q2);
}

}  // namespace squish::kernels::panels
