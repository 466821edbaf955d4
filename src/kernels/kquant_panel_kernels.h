// GGUF k-quant rows (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) in 16-row VNNI panels: the layout, the tile
// contract of the scalar reference and the AVX-512 kernel, and the entry points block_panels.cpp
// dispatches to (block_panels.h is the public API; this header is private to src/kernels).
#pragma once
#include <cstddef>
#include <cstdint>

#include "block_panel_kernels.h"
#include "squish/formats/ggml_type.h"
#include "squish/kernels/block_panels.h"

namespace squish::kernels::kpanels {

// Codes per super-block (one F16 d / dmin per row and super-block).
constexpr int kSuper = 256;
// 32-code blocks per super-block (each is one activation block, and 8 VNNI code vectors).
constexpr int kBlocks = kSuper / panels::kBlock;
// Codes per half block (the sub-block of Q2_K / Q3_K / Q6_K).
constexpr int kHalf = 16;

// How the weight of a code u is formed from a sub-block's integer scale sc (and min m):
enum class Form {
  Min32,  // Q4_K, Q5_K: sub-blocks of 32, w = (D · sc) · u − (M · m); sc, m bytes 0..63
  Sym16,  // Q6_K, Q3_K: sub-blocks of 16, w = (D · sc) · (u − offset); sc a signed byte
  Min16,  // Q2_K: sub-blocks of 16, w = (D · sc) · u − (M · m); one byte sc | m << 4
};

// Panel layout. A panel (16 rows; a partial last panel is zero-padded) is its super-blocks one after
// another, each super_bytes() long:
//   d     16 F16, row r at bytes 2r (rows 0..7 in the first 16 bytes: one 256-bit half's rows);
//   dmin  16 F16 (Min32, Min16 only);
//   sc    one 16-byte group per sub-block (8 for Min32, 16 otherwise), byte r = row r's scale
//         (Min32: 0..63; Sym16: signed, Q3_K's scale − 32; Min16: sc | m << 4);
//   m     Min32 only: 8 groups of 16 bytes, row r's min (0..63);
//   then 8 blocks of 32 codes, code_bytes() each. Every code plane is in 64-byte vectors whose
//   byte 4r + c (c < 4) belongs to row r (so bytes 0..31 are rows 0..7, bytes 32..63 rows 8..15);
//   "code vector v" (v < 8) means codes 4v + c of the block — one vpdpbusd operand:
//     nibbles (Q4_K, Q5_K, Q6_K): 4 vectors; vector j holds code vector 2j in its low nibbles and
//             2j + 1 in its high nibbles (256 bytes);
//     plane2  (Q6_K bits 4-5, Q3_K bits 0-1, Q2_K bits 0-1): 2 vectors; vector j, bits 2i..2i+1,
//             is code vector 4j + i (128 bytes);
//     plane1  (Q5_K bit 4, Q3_K bit 2): 1 vector; bit v is code vector v (64 bytes).
//   Code vectors 0..3 are codes 0..15 (the first half block), 4..7 codes 16..31.
// Codes are unsigned: Q4_K 0..15, Q5_K 0..31, Q6_K 0..63 (offset 32), Q3_K 0..7 (offset 4: the
// file's 2 low bits + 4 · high bit), Q2_K 0..3.
struct Layout {
  Form form = Form::Min32;
  bool nibbles = true, plane2 = false, plane1 = false;
  int offset = 0;  // Sym16: the code of weight 0

  int subs() const { return form == Form::Min32 ? 8 : 16; }
  bool has_min() const { return form != Form::Sym16; }
  size_t header_bytes() const { return 32 * (has_min() ? 2 : 1) + 16 * subs() + (form == Form::Min32 ? 128 : 0); }
  size_t code_bytes() const { return (nibbles ? 256 : 0) + (plane2 ? 128 : 0) + (plane1 ? 64 : 0); }
  size_t super_bytes() const { return header_bytes() + kBlocks * code_bytes(); }
  // Bit of the code where plane2 / plane1 bits go.
  int plane2_shift() const { return nibbles ? 4 : 0; }
  int plane1_shift() const { return nibbles ? 4 : 2; }
  // Code c (< 32) of row r in the block of codes at p.
  int code(const uint8_t* p, int r, int c) const;
  // Row r's scale D · sc and min M · m (0 for Sym16) of sub-block s in the super-block at p.
  void scale_min(const uint8_t* p, int r, int s, float* scale, float* mn) const;
};

// The layout of a k-quant type.
Layout layout_of(GGMLType t);

// One activation row: per 32 codes q (and two-level q2, x ≈ d · (q + q2 / 128)) from
// panels::quantize*/quantize2*, the block scales d, and per 16 codes the exact integer sum
// s = Σ q (one level) or 128 · Σ q + Σ q2 (two levels).
struct ActRow {
  const int8_t* q;
  const float* d;
  const int32_t* s;
  const int8_t* q2 = nullptr;
};

// One panel of a tile call: its bytes, bias (nr entries, or null), its valid rows nr (1..16) and
// where its outputs go (C[i * ldc + r]).
struct PanelJob {
  const uint8_t* panel;
  const float* bias;
  int nr;
  float* C;
};
// Most panels one tile call walks in lockstep (concurrent read streams for decoding).
constexpr int kMaxStreams = 4;

// For each of the np panels (1..kMaxStreams; the AVX-512 tile walks them super-block by
// super-block in lockstep when na <= 2, one after another otherwise — the same results),
// C[i * ldc + r] for i < na (1..panels::kTileTokens), r < nr: per 32-code block b, with
// e = d[b] (one level) or d[b] · (1/128) (two levels), and per half h (codes 16h..16h+15) the
// int32 dot_h = Σ u · q (one level) or 128 · Σ u · q + Σ u · q2 (two levels), the accumulator takes
//   Min32: fma(float(dot_0 + dot_1), scale · e, acc); fma(−mn, float(s_0 + s_1) · e, acc)
//   Sym16: per h: fma(float(dot_h − offset · s_h), scale_h · e, acc)
//   Min16: per h: fma(float(dot_h), scale_h · e, acc); fma(−mn_h, float(s_h) · e, acc)
// (scale, mn as Layout::scale_min; s_h the activation sums of the half), then + bias[r].
using Tile = void (*)(const Layout& L, const PanelJob* jobs, int np, int64_t supers, const ActRow* a, int na,
                      int64_t ldc);
void tile_scalar(const Layout& L, const PanelJob* jobs, int np, int64_t supers, const ActRow* a, int na, int64_t ldc);
void tile_avx512(const Layout& L, const PanelJob* jobs, int np, int64_t supers, const ActRow* a, int na, int64_t ldc);
void tile_avx2(const Layout& L, const PanelJob* jobs, int np, int64_t supers, const ActRow* a, int na, int64_t ldc);

// Activation rows per AMX tile call.
constexpr int kAmxTokens = 16;
// The AMX version of tile_avx512 (call only where cpu_has_amx()) for one panel and exactly
// kAmxTokens activation rows whose codes lie `stride` bytes apart (a[t].q = a[0].q + t · stride,
// likewise q2): the same results, bit for bit. Min32 layouts (Q4_K, Q5_K) only.
void tile_amx(const Layout& L, const PanelJob& job, int64_t supers, const ActRow* a, int64_t stride, int64_t ldc);

// Whether t is a k-quant panel type.
bool is_kquant(GGMLType t);
// block_panels.h's entry points for k-quant types (k a multiple of 256).
BlockPanels make_panels(GGMLType t, const void* W, int64_t n, int64_t k);
void row_f32(const BlockPanels& P, int64_t r, float* dst);
void matmul(const BlockPanels& P, int64_t m, const float* A, float* C, const float* bias, Isa isa, bool two_level);

}  // namespace squish::kernels::kpanels
