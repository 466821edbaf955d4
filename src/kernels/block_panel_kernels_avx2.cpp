// AVX2 panel tiles and activation quantizers of block_panel_matmul, for CPUs without AVX-512: the
// panels' 64-byte code vectors are two ymm (rows 0-7 and 8-15) and the integer dots vpmaddubsw +
// vpmaddwd, exact as the VNNI ones (block_panel_tile.h on panel_lanes_avx2.h).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "block_panel_kernels.h"
#include "block_panel_tile.h"
#include "panel_lanes_avx2.h"

namespace squish::kernels::panels {

void tile_avx2(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, int na,
               const float* bias, int nr, float* C, int64_t ldc) {
  tile_on<LanesAvx2>(L, panel, blocks, a, na, bias, nr, C, ldc);
}

void quantize_avx2(const float* x, int64_t k, int8_t* q, float* d, float* ds) {
  quantize_on<LanesAvx2>(x, k, q, d, ds);
}

void quantize2_avx2(const float* x, int64_t k, int8_t* q, float* d, float* ds, int8_t* q2) {
  quantize2_on<LanesAvx2>(x, k, q, d, ds, q2);
}

}  // namespace squish::kernels::panels
