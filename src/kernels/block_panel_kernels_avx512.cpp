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

const Kernels avx512_kernels = {tile_on<LanesAvx512>, quantize_on<LanesAvx512>, quantize2_on<LanesAvx512>};

}  // namespace squish::kernels::panels
