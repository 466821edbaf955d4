// Intel AMX tile configuration, shared by the AMX kernels (files compiled with the AVX-512 set).
#pragma once
#include <cstdint>

namespace squish::kernels::amx {

// The 64-byte operand of LDTILECFG (palette 1): per tile register its row count and bytes per row.
struct alignas(64) TileConfig {
  uint8_t palette = 1, start_row = 0, reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Loads cfg into the tile registers' configuration. GCC 12's _tile_loadconfig names only the first
// 8 bytes of its operand as read, so the compiler dropped the stores of rows and colsb; this asm
// names all 64.
inline void load_tile_config(const TileConfig& cfg) { asm volatile("ldtilecfg %0" : : "m"(cfg)); }

}  // namespace squish::kernels::amx
