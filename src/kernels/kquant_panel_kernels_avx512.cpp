// AVX-512 VNNI tiles of the k-quant panels (layout and arithmetic: kquant_panel_kernels.h): per
// 32-code block, the code planes are unpacked into 8 code vectors (4 codes of each of the 16 rows
// per 32-bit lane), vpdpbusd multiplies them by 4 broadcast activation codes, and the two 16-code
// halves keep separate int32 sums where sub-blocks are 16 long. Every operation is lane-local, so an
// AVX2 port runs the same steps on the two 256-bit halves (rows 0..7 and 8..15).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <cstring>

#include "amx_tiles.h"
#include "kquant_panel_kernels.h"
#include "vnni_avx512.h"

namespace squish::kernels::kpanels {

namespace {

using vnni::broadcast4;

// x shifted right by n bits per 16-bit lane (left for n < 0).
template <int N>
inline __m512i shift(__m512i x) {
  if constexpr (N > 0) return _mm512_srli_epi16(x, N);
  else if constexpr (N < 0) return _mm512_slli_epi16(x, -N);
  else return x;
}

// The 8 code vectors of the block of codes at p.
template <bool Nib, bool P2, bool P1>
[[gnu::always_inline]] inline void unpack(const uint8_t* p, __m512i* w) {
  constexpr int s2 = Nib ? 4 : 0, s1 = Nib ? 4 : 2;
  if constexpr (Nib) {
    const __m512i low = _mm512_set1_epi8(0x0F);
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const __m512i raw = _mm512_loadu_si512(p + 64 * j);
      w[2 * j] = _mm512_and_si512(raw, low);
      w[2 * j + 1] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), low);
    }
    p += 256;
  }
  if constexpr (P2) {
    const __m512i mask = _mm512_set1_epi8(static_cast<char>(3 << s2));
#pragma GCC unroll 2
    for (int j = 0; j < 2; ++j) {
      const __m512i raw = _mm512_loadu_si512(p + 64 * j);
      const __m512i b[4] = {_mm512_and_si512(shift<0 - s2>(raw), mask), _mm512_and_si512(shift<2 - s2>(raw), mask),
                            _mm512_and_si512(shift<4 - s2>(raw), mask), _mm512_and_si512(shift<6 - s2>(raw), mask)};
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) w[4 * j + i] = Nib ? _mm512_or_si512(w[4 * j + i], b[i]) : b[i];
    }
    p += 128;
  }
  if constexpr (P1) {
    const __m512i mask = _mm512_set1_epi8(static_cast<char>(1 << s1));
    const __m512i hb = _mm512_loadu_si512(p);
    const __m512i b[8] = {shift<0 - s1>(hb), shift<1 - s1>(hb), shift<2 - s1>(hb), shift<3 - s1>(hb),
                          shift<4 - s1>(hb), shift<5 - s1>(hb), shift<6 - s1>(hb), shift<7 - s1>(hb)};
#pragma GCC unroll 8
    for (int v = 0; v < 8; ++v) w[v] = _mm512_or_si512(w[v], _mm512_and_si512(b[v], mask));
  }
}

// Σ over code vectors v0..v0+3 of w · q (4 codes per lane).
[[gnu::always_inline]] inline __m512i half_dot(const __m512i* w, const int8_t* q) {
  __m512i dot = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w[0], broadcast4(q));
  dot = _mm512_dpbusd_epi32(dot, w[1], broadcast4(q + 4));
  dot = _mm512_dpbusd_epi32(dot, w[2], broadcast4(q + 8));
  return _mm512_dpbusd_epi32(dot, w[3], broadcast4(q + 12));
}

// −x, exactly (the sign flipped, as the scalar −mn).
inline __m512 negate(__m512 x) { return _mm512_xor_ps(x, _mm512_set1_ps(-0.0f)); }

// 16 bytes as floats (signed or unsigned).
inline __m512 bytes_ps(const uint8_t* p, bool is_signed) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  return _mm512_cvtepi32_ps(is_signed ? _mm512_cvtepi8_epi32(v) : _mm512_cvtepu8_epi32(v));
}

// Bytes of one super-block of a panel.
template <Form F, bool Nib, bool P2, bool P1>
struct Sizes {
  static constexpr bool has_min = F != Form::Sym16;
  static constexpr size_t scales_at = has_min ? 64 : 32;
  static constexpr size_t header = scales_at + 16 * (F == Form::Min32 ? 8 : 16) + (F == Form::Min32 ? 128 : 0);
  static constexpr size_t code_bytes = (Nib ? 256 : 0) + (P2 ? 128 : 0) + (P1 ? 64 : 0);
  static constexpr size_t super_bytes = header + kBlocks * code_bytes;
};

// The scales of one 32-code block for every row: step_scale[h] = D · sc (· 1/128 with two levels)
// of half h (of the block for Min32), mn[h] = −(M · m).
struct BlockScales {
  __m512 step_scale[2], mn[2];
};

template <Form F, bool Two>
[[gnu::always_inline]] inline BlockScales block_scales(__m512 D, __m512 M, const uint8_t* sc, int b) {
  constexpr float kStep = 1.0f / (1 << panels::kLevelShift);
  __m512 scale[2], mn[2];
  if constexpr (F == Form::Min32) {
    scale[0] = _mm512_mul_ps(D, bytes_ps(sc + 16 * b, false));
    mn[0] = negate(_mm512_mul_ps(M, bytes_ps(sc + 128 + 16 * b, false)));
  } else if constexpr (F == Form::Sym16) {
    scale[0] = _mm512_mul_ps(D, bytes_ps(sc + 32 * b, true));
    scale[1] = _mm512_mul_ps(D, bytes_ps(sc + 32 * b + 16, true));
  } else {
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      const __m512i raw = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(sc + 32 * b + 16 * h)));
      scale[h] = _mm512_mul_ps(D, _mm512_cvtepi32_ps(_mm512_and_si512(raw, _mm512_set1_epi32(0x0F))));
      mn[h] = negate(_mm512_mul_ps(M, _mm512_cvtepi32_ps(_mm512_srli_epi32(raw, 4))));
    }
  }
  // Two levels: the step 1/128 goes into the block's scales once (a power of two, so
  // (scale / 128) · d rounds exactly as scale · (d / 128)) and each row's d is broadcast from memory.
  BlockScales S{{scale[0], scale[1]}, {mn[0], mn[1]}};
  if constexpr (Two) {
    S.step_scale[0] = _mm512_mul_ps(scale[0], _mm512_set1_ps(kStep));
    if constexpr (F != Form::Min32) S.step_scale[1] = _mm512_mul_ps(scale[1], _mm512_set1_ps(kStep));
  }
  return S;
}

// One activation row's update of acc by block gb, from its int32 half dots (two levels: already
// 128 · Σ u · q + Σ u · q2).
template <Form F, bool Two>
[[gnu::always_inline]] inline void accumulate(const BlockScales& S, int32_t offset, const __m512i* dot, const ActRow& a,
                                              int64_t gb, __m512& acc) {
  constexpr float kStep = 1.0f / (1 << panels::kLevelShift);
  const float e = Two ? a.d[gb] * kStep : a.d[gb];
  const int32_t* sums = a.s + 2 * gb;
  const __m512 ev = _mm512_set1_ps(a.d[gb]);
  if constexpr (F == Form::Min32) {
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(dot[0], dot[1])), _mm512_mul_ps(S.step_scale[0], ev), acc);
    acc = _mm512_fmadd_ps(S.mn[0], _mm512_set1_ps(static_cast<float>(sums[0] + sums[1]) * e), acc);
  } else {
#pragma GCC unroll 2
    for (int h = 0; h < 2; ++h) {
      if constexpr (F == Form::Sym16) {
        const __m512i centred = _mm512_sub_epi32(dot[h], _mm512_set1_epi32(offset * sums[h]));
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(centred), _mm512_mul_ps(S.step_scale[h], ev), acc);
      } else {
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot[h]), _mm512_mul_ps(S.step_scale[h], ev), acc);
        acc = _mm512_fmadd_ps(S.mn[h], _mm512_set1_ps(static_cast<float>(sums[h]) * e), acc);
      }
    }
  }
}

// Super-block s (at panel) of one panel into acc[NA].
template <int NA, Form F, bool Nib, bool P2, bool P1, bool Two>
[[gnu::always_inline]] inline void super_block(int32_t offset, const uint8_t* panel, int64_t s, const ActRow* a, __m512* acc) {
  using Z = Sizes<F, Nib, P2, P1>;
  const __m512 D = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel)));
  __m512 M = _mm512_setzero_ps();
  if constexpr (Z::has_min) M = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + 32)));
  const uint8_t* sc = panel + Z::scales_at;
#pragma GCC unroll 1
  for (int b = 0; b < kBlocks; ++b) {
    __m512i w[8];
    unpack<Nib, P2, P1>(panel + Z::header + b * Z::code_bytes, w);
    const BlockScales S = block_scales<F, Two>(D, M, sc, b);
    const int64_t gb = s * kBlocks + b;
#pragma GCC unroll 8
    for (int i = 0; i < NA; ++i) {
      const int8_t* q = a[i].q + gb * panels::kBlock;
      __m512i dot[2] = {half_dot(w, q), half_dot(w + 4, q + kHalf)};
      if constexpr (Two) {
        const int8_t* q2 = a[i].q2 + gb * panels::kBlock;
        dot[0] = _mm512_add_epi32(_mm512_slli_epi32(dot[0], panels::kLevelShift), half_dot(w, q2));
        dot[1] = _mm512_add_epi32(_mm512_slli_epi32(dot[1], panels::kLevelShift), half_dot(w + 4, q2 + kHalf));
      }
      accumulate<F, Two>(S, offset, dot, a[i], gb, acc[i]);
    }
  }
}

// NP panels walked in lockstep, super-block by super-block.
template <int NA, int NP, Form F, bool Nib, bool P2, bool P1, bool Two>
void tile(const Layout& L, const PanelJob* jobs, int64_t supers, const ActRow* a, int64_t ldc) {
  constexpr size_t super_bytes = Sizes<F, Nib, P2, P1>::super_bytes;
  __m512 acc[NP][NA];
#pragma GCC unroll 8
  for (auto& p : acc)
    for (auto& v : p) v = _mm512_setzero_ps();
  for (int64_t s = 0; s < supers; ++s)
#pragma GCC unroll 4
    for (int j = 0; j < NP; ++j)
      super_block<NA, F, Nib, P2, P1, Two>(L.offset, jobs[j].panel + s * super_bytes, s, a, acc[j]);
#pragma GCC unroll 4
  for (int j = 0; j < NP; ++j) {
    const int nr = jobs[j].nr;
    const __mmask16 mask = static_cast<__mmask16>(nr >= 16 ? 0xFFFF : (1u << nr) - 1);
    const __m512 bv = jobs[j].bias ? _mm512_maskz_loadu_ps(mask, jobs[j].bias) : _mm512_setzero_ps();
#pragma GCC unroll 8
    for (int i = 0; i < NA; ++i) _mm512_mask_storeu_ps(jobs[j].C + i * ldc, mask, _mm512_add_ps(acc[j][i], bv));
  }
}

template <Form F, bool Nib, bool P2, bool P1, bool Two>
void tile_na(const Layout& L, const PanelJob* jobs, int np, int64_t supers, const ActRow* a, int na, int64_t ldc) {
  if (na <= 2 && np > 1) {  // decoding: several panels at once
    const bool one = na == 1;
    switch (np) {
      case 2: return one ? tile<1, 2, F, Nib, P2, P1, Two>(L, jobs, supers, a, ldc) : tile<2, 2, F, Nib, P2, P1, Two>(L, jobs, supers, a, ldc);
      case 3: return one ? tile<1, 3, F, Nib, P2, P1, Two>(L, jobs, supers, a, ldc) : tile<2, 3, F, Nib, P2, P1, Two>(L, jobs, supers, a, ldc);
      default: return one ? tile<1, 4, F, Nib, P2, P1, Two>(L, jobs, supers, a, ldc) : tile<2, 4, F, Nib, P2, P1, Two>(L, jobs, supers, a, ldc);
    }
  }
  for (int j = 0; j < np; ++j) {
    switch (na) {
#define SQUISH_KTILE_CASE(N) \
  case N: tile<N, 1, F, Nib, P2, P1, Two>(L, jobs + j, supers, a, ldc); break;
      SQUISH_KTILE_CASE(1) SQUISH_KTILE_CASE(2) SQUISH_KTILE_CASE(3) SQUISH_KTILE_CASE(4)
      SQUISH_KTILE_CASE(5) SQUISH_KTILE_CASE(6) SQUISH_KTILE_CASE(7)
#undef SQUISH_KTILE_CASE
      default: tile<8, 1, F, Nib, P2, P1, Two>(L, jobs + j, supers, a, ldc);
    }
  }
}

template <Form F, bool Nib, bool P2, bool P1>
void tile_levels(const Layout& L, const PanelJob* jobs, int np, int64_t supers, const ActRow* a, int na, int64_t ldc) {
  if (a[0].q2) return tile_na<F, Nib, P2, P1, true>(L, jobs, np, supers, a, na, ldc);
  return tile_na<F, Nib, P2, P1, false>(L, jobs, np, supers, a, na, ldc);
}

// AMX tiles (palette 1) for `tokens` activation rows: tmm0 the block's 8 code vectors (B: 8 rows of
// 4 codes x 16 weight rows), tmm1 / tmm2 the rows' 32 codes q / q2 (A), tmm3 / tmm4 their int32 dots.
void configure_min32_tiles(int tokens) {
  amx::TileConfig cfg;
  cfg.rows[0] = 8;
  cfg.colsb[0] = 64;
  for (int t = 1; t <= 2; ++t) {
    cfg.rows[t] = static_cast<uint8_t>(tokens);
    cfg.colsb[t] = 32;
  }
  for (int t = 3; t <= 4; ++t) {
    cfg.rows[t] = static_cast<uint8_t>(tokens);
    cfg.colsb[t] = 64;
  }
  amx::load_tile_config(cfg);
}

// One Min32 panel (Q4_K, Q5_K) against kAmxTokens activation rows (row t's codes at a[0].q + t ·
// stride): per block, the code vectors go to memory once, TDPBSUD forms every row's int32 dots at
// once, and the VNNI tile's accumulate() takes them from there — the same arithmetic, so the same
// results. The tiles of block g + 1 are issued before block g's dots are read back.
template <bool P1, bool Two>
void tile_amx_panel(const Layout& L, const PanelJob& job, int64_t supers, const ActRow* a, int64_t stride, int64_t ldc) {
  using Z = Sizes<Form::Min32, true, false, P1>;
  constexpr int NA = kAmxTokens;
  configure_min32_tiles(NA);
  alignas(64) uint8_t codes[8 * 64];
  alignas(64) int32_t dots[2][2][NA * 16];  // [block parity][level][token][row]
  __m512 acc[NA];
#pragma GCC unroll 16
  for (auto& v : acc) v = _mm512_setzero_ps();
  const auto issue = [&](int64_t gb) {  // block gb's integer dots into dots[gb & 1]
    const uint8_t* panel = job.panel + (gb / kBlocks) * Z::super_bytes;
    __m512i w[8];
    unpack<true, false, P1>(panel + Z::header + (gb % kBlocks) * Z::code_bytes, w);
#pragma GCC unroll 8
    for (int v = 0; v < 8; ++v) _mm512_store_si512(codes + 64 * v, w[v]);
    int32_t* out = &dots[gb & 1][0][0];
    _tile_loadd(0, codes, 64);
    _tile_zero(3);
    _tile_loadd(1, a[0].q + gb * panels::kBlock, stride);
    _tile_dpbsud(3, 1, 0);
    _tile_stored(3, out, 64);
    if constexpr (Two) {
      _tile_zero(4);
      _tile_loadd(2, a[0].q2 + gb * panels::kBlock, stride);
      _tile_dpbsud(4, 2, 0);
      _tile_stored(4, out + NA * 16, 64);
    }
  };
  const int64_t blocks = supers * kBlocks;
  issue(0);
#pragma GCC unroll 1
  for (int64_t gb = 0; gb < blocks; ++gb) {
    if (gb + 1 < blocks) issue(gb + 1);
    const uint8_t* panel = job.panel + (gb / kBlocks) * Z::super_bytes;
    const __m512 D = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel)));
    const __m512 M = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + 32)));
    const BlockScales S = block_scales<Form::Min32, Two>(D, M, panel + Z::scales_at, static_cast<int>(gb % kBlocks));
    const int32_t* in = &dots[gb & 1][0][0];
#pragma GCC unroll 16
    for (int i = 0; i < NA; ++i) {
      __m512i dot[2] = {_mm512_load_si512(in + 16 * i), _mm512_setzero_si512()};  // both halves in dot[0]
      if constexpr (Two)
        dot[0] = _mm512_add_epi32(_mm512_slli_epi32(dot[0], panels::kLevelShift), _mm512_load_si512(in + NA * 16 + 16 * i));
      accumulate<Form::Min32, Two>(S, L.offset, dot, a[i], gb, acc[i]);
    }
  }
  const __mmask16 mask = static_cast<__mmask16>(job.nr >= 16 ? 0xFFFF : (1u << job.nr) - 1);
  const __m512 bv = job.bias ? _mm512_maskz_loadu_ps(mask, job.bias) : _mm512_setzero_ps();
#pragma GCC unroll 16
  for (int i = 0; i < NA; ++i) _mm512_mask_storeu_ps(job.C + i * ldc, mask, _mm512_add_ps(acc[i], bv));
}

template <bool P1>
void amx_levels(const Layout& L, const PanelJob& job, int64_t supers, const ActRow* a, int64_t stride, int64_t ldc) {
  if (a[0].q2) return tile_amx_panel<P1, true>(L, job, supers, a, stride, ldc);
  return tile_amx_panel<P1, false>(L, job, supers, a, stride, ldc);
}

}  // namespace

void tile_amx(const Layout& L, const PanelJob& job, int64_t supers, const ActRow* a, int64_t stride, int64_t ldc) {
  if (L.plane1) return amx_levels<true>(L, job, supers, a, stride, ldc);  // Q5_K
  amx_levels<false>(L, job, supers, a, stride, ldc);                       // Q4_K
}

void tile_avx512(const Layout& L, const PanelJob* jobs, int np, int64_t supers, const ActRow* a, int na, int64_t ldc) {
  switch (L.form) {
    case Form::Min32:  // Q4_K, Q5_K
      if (L.plane1) return tile_levels<Form::Min32, true, false, true>(L, jobs, np, supers, a, na, ldc);
      return tile_levels<Form::Min32, true, false, false>(L, jobs, np, supers, a, na, ldc);
    case Form::Sym16:  // Q6_K, Q3_K
      if (L.nibbles) return tile_levels<Form::Sym16, true, true, false>(L, jobs, np, supers, a, na, ldc);
      return tile_levels<Form::Sym16, false, true, true>(L, jobs, np, supers, a, na, ldc);
    case Form::Min16:  // Q2_K
      return tile_levels<Form::Min16, false, true, false>(L, jobs, np, supers, a, na, ldc);
  }
}

}  // namespace squish::kernels::kpanels
