// AVX2 panel tiles and activation quantizers of block_panel_matmul, for CPUs without AVX-512: the
// panels' 64-byte code vectors are two ymm (rows 0-7 and 8-15) and the integer dots vpmaddubsw +
// vpmaddwd, exact as the VNNI ones (block_panel_tile.h on panel_lanes_avx2.h).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "block_panel_kernels.h"
#include "block_panel_tile.h"
#include "panel_lanes_avx2.h"

namespace squish::kernels::panels {

const Kernels avx2_kernels = {tile_on<LanesAvx2>, quantize_on<LanesAvx2>, quantize2_on<LanesAvx2>};

}  // namespace squish::kernels::panels
