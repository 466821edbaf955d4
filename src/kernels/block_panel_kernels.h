// Inner loops of block_panel_matmul (block_panels.h): a tile of up to 8 activation rows against one
// panel of 16 weight rows, one version per ISA (the SIMD ones written once in block_panel_tile.h).
#pragma once
#include <cstddef>
#include <cstdint>

#include "squish/kernels/block_panels.h"

namespace squish::kernels::panels {

// Weight rows per panel (the 16 int32 lanes of one AVX-512 vector).
constexpr int kRows = 16;
// Codes per block (one scale per row and block).
constexpr int kBlock = 32;
// Most activation rows one tile call takes.
constexpr int kTileTokens = 8;

// How a panel's blocks are stored. Block b of a panel sits at b * block_bytes(): first its codes,
// as unsigned values u (the weight is scale · u + min), 4 consecutive codes of one row per 32-bit
// lane and the 16 rows side by side:
//   Nibbles (Q4_0, Q4_1, Q5_0, Q5_1): 4 vectors of 64 bytes; byte row * 4 + c of vector v holds
//            code 8v + c in its low nibble and code 8v + 4 + c in its high nibble (256 bytes);
//            with high_bits (Q5_0, Q5_1) a fifth vector follows whose byte row * 4 + c holds bit 4
//            of code 8v + c in bit v and bit 4 of code 8v + 4 + c in bit 4 + v (64 bytes);
//   Bytes   (Q8_0): 8 vectors of 64 bytes; byte row * 4 + c of vector v is code 4v + c (512).
// Then the 16 rows' F16 scales, then (stored_min) their 16 F16 minimums; without stored_min the
// minimum is -offset · scale (Q4_0: offset 8, Q5_0: 16, Q8_0: 128).
struct Layout {
  bool nibbles = true;
  bool high_bits = false;
  bool stored_min = false;
  float offset = 8.0f;

  size_t code_bytes() const { return nibbles ? 256 + (high_bits ? 64 : 0) : 512; }
  size_t block_bytes() const { return code_bytes() + 32 + (stored_min ? 32 : 0); }
  // Code c (< 32) of panel row r in the block at p.
  int code(const uint8_t* p, int r, int c) const {
    if (!nibbles) return p[(c / 4) * 64 + r * 4 + c % 4];
    const int lane = r * 4 + c % 4, v = c / 8;
    const bool upper = c % 8 >= 4;
    int u = upper ? p[v * 64 + lane] >> 4 : p[v * 64 + lane] & 0x0F;
    if (high_bits) u |= ((p[256 + lane] >> (upper ? 4 + v : v)) & 1) << 4;
    return u;
  }
  // Scale and minimum of panel row r in the block at p.
  void scale_min(const uint8_t* p, int r, float* scale, float* mn) const;
};

// One activation row quantized per block of 32: codes q[k], and per block its scale d[b] and
// ds[b] = d[b] · Σ q over the block (what a block minimum multiplies). Two-level rows also hold the
// residual x − d · q in steps of d / 128 (codes q2, |q2| ≤ 72), so x ≈ d · (q + q2 / 128): ~14-bit
// inputs; ds then covers both levels.
constexpr int kLevelShift = 7;  // the second level's step is d / 2^kLevelShift
struct ActRow {
  const int8_t* q;
  const float* d;
  const float* ds;
  const int8_t* q2 = nullptr;
};

// C[i * ldc + r] = Σ_b (fma order below) for i < na (1..kTileTokens), r < nr: per block,
//   acc = fma(float(Σ u · q), scale · d, acc)         (one level)
//   acc = fma(float(128 · Σ u · q + Σ u · q2), scale · (d / 128), acc)   (two levels, int32 exact)
//   acc = fma(min, ds, acc)
// (all rows of one call one-level or all two-level)
// then + bias[r] (bias may be null; it holds nr entries).
using Tile = void (*)(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, int na,
                      const float* bias, int nr, float* C, int64_t ldc);
void tile_scalar(const Layout& L, const uint8_t* panel, int64_t blocks, const ActRow* a, int na,
                 const float* bias, int nr, float* C, int64_t ldc);

// One version of quantize / quantize2 below.
using Quantize = void (*)(const float* x, int64_t k, int8_t* q, float* d, float* ds);
using Quantize2 = void (*)(const float* x, int64_t k, int8_t* q, float* d, float* ds, int8_t* q2);

// Quantizes k inputs (a multiple of 32) into q[k], d[k / 32], ds[k / 32] by Q8_0 activations' rule:
// per block e = max|x| / 127, q = round-half-even(x · (1 / e)), d = e rounded to F16 (what the dot
// multiplies by). The SIMD versions (Kernels below) agree bit for bit.
void quantize_scalar(const float* x, int64_t k, int8_t* q, float* d, float* ds);
// Two levels: the above, then per element r = fma(−d, q, x) and q2 = clamp(round-half-even(r ·
// (1 / (d / 128))), ±127) (0 where d = 0), and ds = fma(d / 128, Σ q2, ds). The SIMD versions
// agree bit for bit.
void quantize2_scalar(const float* x, int64_t k, int8_t* q, float* d, float* ds, int8_t* q2);

// One ISA's tile and quantizers.
struct Kernels {
  Tile tile;
  Quantize quantize;
  Quantize2 quantize2;
};
extern const Kernels scalar_kernels;  // the references above
extern const Kernels avx512_kernels;  // AVX-512 VNNI (block_panel_kernels_avx512.cpp)
extern const Kernels avx2_kernels;    // AVX2 (block_panel_kernels_avx2.cpp)

// m rows of A [m x k] quantized as above (two levels or one, by K's quantizers) into
// thread-local buffers, valid until this thread's next call: row i's codes at q + i·k (and
// q2 + i·k), its block scales and sums at d + i·k/32, ds + i·k/32. Multi-threaded for m >= 16.
struct QuantizedRows {
  int8_t* q;
  float* d;
  float* ds;
  int8_t* q2;  // null for one level
};
QuantizedRows quantize_rows(int64_t m, int64_t k, const float* A, const Kernels& K, bool two_level);

// A BlockPanels for n rows of k elements of type t holding `bytes` zeros (filled by the repack).
BlockPanels zeroed_panels(GGMLType t, int64_t n, int64_t k, size_t bytes);

}  // namespace squish::kernels::panels
