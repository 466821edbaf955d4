// AVX2 tiles of the k-quant panels (layout and arithmetic: kquant_panel_kernels.h), for CPUs
// without AVX-512: each 64-byte code plane is two ymm (rows 0-7 and 8-15), the planes are unpacked
// into the 8 code vectors of a 32-code block and multiplied by the activation codes with the legacy
// panels' exact vpmaddubsw + vpmaddwd dots (panel_lanes_avx2.h: Min32 types over the whole block,
// the 16-code sub-block types per half), so the results equal tile_scalar bit for bit.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <utility>

#include "kquant_panel_kernels.h"
#include "panel_lanes_avx2.h"

namespace squish::kernels::kpanels {

namespace {

using V = panels::LanesAvx2;
using I = V::I;
using F = V::F;

// The planes' bits a code takes from each (what Layout::code reads), and the code width.
template <Form Fm, bool Nib, bool P2, bool P1>
struct Planes {
  static constexpr int bits = (Nib ? 4 : 0) + (P2 ? 2 : 0) + (P1 ? 1 : 0);
  static constexpr int p2_at = Nib ? 4 : 0, p1_at = Nib ? 4 : 2;
  static constexpr bool has_min = Fm != Form::Sym16;
  static constexpr size_t scales_at = has_min ? 64 : 32;
  static constexpr size_t header = scales_at + 16 * (Fm == Form::Min32 ? 8 : 16) + (Fm == Form::Min32 ? 128 : 0);
  static constexpr size_t code_bytes = (Nib ? 256 : 0) + (P2 ? 128 : 0) + (P1 ? 64 : 0);
  static constexpr size_t super_bytes = header + kBlocks * code_bytes;
};

// Bits `from`.. of every byte of x moved to bit `to` and masked by m.
template <int From, int To>
inline I move_bits(I x, I m) {
  return V::and_(V::template shift16<To - From>(x), m);
}

// The 8 code vectors of the block of codes at p.
template <class Z, bool Nib, bool P2, bool P1>
[[gnu::always_inline]] inline void unpack(const uint8_t* p, I* w) {
  if constexpr (Nib) {
    const I low = V::bytes(0x0F);
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
      const I raw = V::load_codes(p + 64 * j);
      w[2 * j] = V::and_(raw, low);
      w[2 * j + 1] = move_bits<4, 0>(raw, low);
    }
    p += 256;
  }
  if constexpr (P2) {
    const I m = V::bytes(static_cast<char>(3 << Z::p2_at));
#pragma GCC unroll 2
    for (int j = 0; j < 2; ++j) {
      const I raw = V::load_codes(p + 64 * j);
      const I b[4] = {move_bits<0, Z::p2_at>(raw, m), move_bits<2, Z::p2_at>(raw, m), move_bits<4, Z::p2_at>(raw, m),
                      move_bits<6, Z::p2_at>(raw, m)};
#pragma GCC unroll 4
      for (int i = 0; i < 4; ++i) w[4 * j + i] = Nib ? V::or_(w[4 * j + i], b[i]) : b[i];
    }
    p += 128;
  }
  if constexpr (P1) {
    const I m = V::bytes(static_cast<char>(1 << Z::p1_at));
    const I hb = V::load_codes(p);
    const I b[8] = {move_bits<0, Z::p1_at>(hb, m), move_bits<1, Z::p1_at>(hb, m), move_bits<2, Z::p1_at>(hb, m),
                    move_bits<3, Z::p1_at>(hb, m), move_bits<4, Z::p1_at>(hb, m), move_bits<5, Z::p1_at>(hb, m),
                    move_bits<6, Z::p1_at>(hb, m), move_bits<7, Z::p1_at>(hb, m)};
#pragma GCC unroll 8
    for (int v = 0; v < 8; ++v) w[v] = V::or_(w[v], b[v]);
  }
}

// Code vector Vi of the block of codes at p alone (what unpack writes to w[Vi]).
template <class Z, bool Nib, bool P2, bool P1, int Vi>
[[gnu::always_inline]] inline I code_vector(const uint8_t* p) {
  I x;
  if constexpr (Nib) {
    const I raw = V::load_codes(p + 64 * (Vi / 2)), low = V::bytes(0x0F);
    x = Vi % 2 ? move_bits<4, 0>(raw, low) : V::and_(raw, low);
    p += 256;
  }
  if constexpr (P2) {
    const I b = move_bits<2 * (Vi % 4), Z::p2_at>(V::load_codes(p + 64 * (Vi / 4)), V::bytes(static_cast<char>(3 << Z::p2_at)));
    x = Nib ? V::or_(x, b) : b;
    p += 128;
  }
  if constexpr (P1) x = V::or_(x, move_bits<Vi, Z::p1_at>(V::load_codes(p), V::bytes(static_cast<char>(1 << Z::p1_at))));
  return x;
}

// Activation rows up to which super_block forms each code vector just before its products
// (decoding) instead of unpacking all 8 first: the 8 vectors fill AVX2's 16 registers, and the
// second level re-reads them from the stack.
constexpr int kStreamedRows = 2;

// The dots of super_block for NA ≤ kStreamedRows: code vector by code vector, each one's products
// with both levels summed in int16 (vpmaddubsw; at most G vectors, so they stay exact) and folded
// into one int32 sum per half (Halves: 16-code sub-blocks) as 128 · Σ u · q + Σ u · q2 — the same
// integers as unpack + block_dots.
template <class Z, bool Halves, bool Nib, bool P2, bool P1, int NA, bool Two>
[[gnu::always_inline]] inline void streamed_dots(const uint8_t* p, const int8_t* const* q, const int8_t* const* q2,
                                                 I (*dot)[NA]) {
  constexpr int G = std::min(Halves ? 4 : 8, 32767 / (2 * ((1 << Z::bits) - 1) * 128));
  static_assert(G >= 1 && (G == 8 || 4 % G == 0));
  constexpr int levels = Two ? 2 : 1;
  const __m256i ones = _mm256_set1_epi16(1), first = _mm256_set1_epi16(Two ? 1 << panels::kLevelShift : 1);
  I part[NA][levels];  // int16 pairs since the last fold
#pragma GCC unroll 2
  for (int h = 0; h < (Halves ? 2 : 1); ++h)
#pragma GCC unroll 8
    for (int i = 0; i < NA; ++i) dot[h][i] = {_mm256_setzero_si256(), _mm256_setzero_si256()};
  const auto step = [&]<int Vi>(std::integral_constant<int, Vi>) __attribute__((always_inline)) {
    const I w = code_vector<Z, Nib, P2, P1, Vi>(p);
#pragma GCC unroll 8
    for (int i = 0; i < NA; ++i)
#pragma GCC unroll 2
      for (int l = 0; l < levels; ++l) {
        int32_t bits;
        std::memcpy(&bits, (l ? q2[i] : q[i]) + 4 * Vi, 4);
        const __m256i a = _mm256_set1_epi32(bits);
        const I prod = {_mm256_maddubs_epi16(w.lo, a), _mm256_maddubs_epi16(w.hi, a)};
        part[i][l] = Vi % G == 0 ? prod : I{_mm256_adds_epi16(part[i][l].lo, prod.lo), _mm256_adds_epi16(part[i][l].hi, prod.hi)};
      }
    if constexpr (Vi % G == G - 1) {
      constexpr int h = Halves ? Vi / 4 : 0;
#pragma GCC unroll 8
      for (int i = 0; i < NA; ++i)
#pragma GCC unroll 2
        for (int l = 0; l < levels; ++l) {
          const __m256i scale = l ? ones : first;
          dot[h][i] = {_mm256_add_epi32(dot[h][i].lo, _mm256_madd_epi16(part[i][l].lo, scale)),
                       _mm256_add_epi32(dot[h][i].hi, _mm256_madd_epi16(part[i][l].hi, scale))};
        }
    }
  };
  [&]<int... Vs>(std::integer_sequence<int, Vs...>) __attribute__((always_inline)) {
    (step(std::integral_constant<int, Vs>{}), ...);
  }(std::make_integer_sequence<int, 8>{});
}

// 16 bytes as int32 lanes (signed or unsigned).
inline I bytes_i32(const uint8_t* p, bool is_signed) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), h = _mm_srli_si128(v, 8);
  if (is_signed) return {_mm256_cvtepi8_epi32(v), _mm256_cvtepi8_epi32(h)};
  return {_mm256_cvtepu8_epi32(v), _mm256_cvtepu8_epi32(h)};
}
// The int32 lanes of a shifted right by n bits (n > 0) or masked by m.
inline I lanes_shift(I a, int n) { return {_mm256_srli_epi32(a.lo, n), _mm256_srli_epi32(a.hi, n)}; }
inline I lanes_and(I a, int m) {
  const __m256i mv = _mm256_set1_epi32(m);
  return {_mm256_and_si256(a.lo, mv), _mm256_and_si256(a.hi, mv)};
}
inline I lanes_sub(I a, int32_t x) {
  const __m256i xv = _mm256_set1_epi32(x);
  return {_mm256_sub_epi32(a.lo, xv), _mm256_sub_epi32(a.hi, xv)};
}
// −x, exactly (the sign flipped, as the scalar −mn).
inline F negate(F x) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  return {_mm256_xor_ps(x.lo, sign), _mm256_xor_ps(x.hi, sign)};
}

// Super-block s (at sup) of one panel into acc[NA].
template <int NA, Form Fm, bool Nib, bool P2, bool P1, bool Two>
[[gnu::always_inline]] inline void super_block(int32_t offset, const uint8_t* sup, int64_t s, const ActRow* a, F* acc) {
  using Z = Planes<Fm, Nib, P2, P1>;
  constexpr float kStep = 1.0f / (1 << panels::kLevelShift);
  const F D = V::load_half(sup);
  const F M = Z::has_min ? V::load_half(sup + 32) : V::zero();
  const uint8_t* sc = sup + Z::scales_at;
#pragma GCC unroll 1
  for (int b = 0; b < kBlocks; ++b) {
    F scale[2], mn[2];  // mn: −(M · m)
    if constexpr (Fm == Form::Min32) {
      scale[0] = V::mul(D, V::to_float(bytes_i32(sc + 16 * b, false)));
      mn[0] = negate(V::mul(M, V::to_float(bytes_i32(sc + 128 + 16 * b, false))));
    } else {
#pragma GCC unroll 2
      for (int h = 0; h < 2; ++h) {
        const I raw = bytes_i32(sc + 32 * b + 16 * h, Fm == Form::Sym16);
        if constexpr (Fm == Form::Sym16) {
          scale[h] = V::mul(D, V::to_float(raw));
        } else {
          scale[h] = V::mul(D, V::to_float(lanes_and(raw, 0x0F)));
          mn[h] = negate(V::mul(M, V::to_float(lanes_shift(raw, 4))));
        }
      }
    }
    const int64_t gb = s * kBlocks + b;
    const int8_t *q[NA], *q2[NA];
#pragma GCC unroll 8
    for (int i = 0; i < NA; ++i)
      q[i] = a[i].q + gb * panels::kBlock, q2[i] = Two ? a[i].q2 + gb * panels::kBlock : nullptr;
    I dot[2][NA];  // per half (Min32: dot[0] is the whole block)
    const uint8_t* codes = sup + Z::header + b * Z::code_bytes;
    I w[8];
    if constexpr (NA <= kStreamedRows) {
      streamed_dots<Z, Fm != Form::Min32, Nib, P2, P1, NA, Two>(codes, q, q2, dot);
    } else if constexpr (Fm == Form::Min32) {
      unpack<Z, Nib, P2, P1>(codes, w);
      V::block_dots<Z::bits, NA, Two>(w, q, q2, dot[0]);
    } else {
      unpack<Z, Nib, P2, P1>(codes, w);
      V::block_dots<Z::bits, NA, Two, 0, 4>(w, q, q2, dot[0]);
      V::block_dots<Z::bits, NA, Two, 4, 4>(w, q, q2, dot[1]);
    }
#pragma GCC unroll 8
    for (int i = 0; i < NA; ++i) {
      const float e = Two ? a[i].d[gb] * kStep : a[i].d[gb];
      const int32_t* sums = a[i].s + 2 * gb;
      const F ev = V::set1(e);
      if constexpr (Fm == Form::Min32) {
        acc[i] = V::fma(V::to_float(dot[0][i]), V::mul(scale[0], ev), acc[i]);
        acc[i] = V::fma(mn[0], V::set1(static_cast<float>(sums[0] + sums[1]) * e), acc[i]);
      } else {
#pragma GCC unroll 2
        for (int h = 0; h < 2; ++h) {
          if constexpr (Fm == Form::Sym16) {
            acc[i] = V::fma(V::to_float(lanes_sub(dot[h][i], offset * sums[h])), V::mul(scale[h], ev), acc[i]);
          } else {
            acc[i] = V::fma(V::to_float(dot[h][i]), V::mul(scale[h], ev), acc[i]);
            acc[i] = V::fma(mn[h], V::set1(static_cast<float>(sums[h]) * e), acc[i]);
          }
        }
      }
    }
  }
}

// acc[i] + bias into the job's outputs, row i of the activations at C + i · ldc.
template <int NA>
inline void store_rows(const PanelJob& job, const F* acc, int64_t ldc) {
  const F bv = job.bias ? V::load_first(job.bias, job.nr) : V::zero();
#pragma GCC unroll 8
  for (int i = 0; i < NA; ++i) V::store_first(job.C + i * ldc, job.nr, V::add(acc[i], bv));
}

// NP panels walked in lockstep, super-block by super-block (acc[NA · j + i]: panel j, row i).
template <int NA, int NP, Form Fm, bool Nib, bool P2, bool P1, bool Two>
void tile(const Layout& L, const PanelJob* jobs, int64_t supers, const ActRow* a, int64_t ldc) {
  constexpr size_t super_bytes = Planes<Fm, Nib, P2, P1>::super_bytes;
  F acc[NP * NA];
  std::fill(acc, acc + NP * NA, V::zero());
  for (int64_t s = 0, at = 0; s < supers; ++s, at += super_bytes)
#pragma GCC unroll 4
    for (int j = 0; j < NP; ++j) super_block<NA, Fm, Nib, P2, P1, Two>(L.offset, jobs[j].panel + at, s, a, acc + NA * j);
#pragma GCC unroll 4
  for (int j = 0; j < NP; ++j) store_rows<NA>(jobs[j], acc + NA * j, ldc);
}

// tile over na activation rows and np panels (lockstep for decoding, na <= 2).
template <Form Fm, bool Nib, bool P2, bool P1, bool Two>
void tile_na(const Layout& L, const PanelJob* jobs, int np, int64_t supers, const ActRow* a, int na, int64_t ldc) {
  if (na <= 2 && np > 1) {
    const bool one = na == 1;
    switch (np) {
#define SQUISH_KTILE_STREAMS(P)                                                   \
  case P:                                                                         \
    return one ? tile<1, P, Fm, Nib, P2, P1, Two>(L, jobs, supers, a, ldc) \
               : tile<2, P, Fm, Nib, P2, P1, Two>(L, jobs, supers, a, ldc);
      SQUISH_KTILE_STREAMS(2) SQUISH_KTILE_STREAMS(3)
      default: SQUISH_KTILE_STREAMS(4)
#undef SQUISH_KTILE_STREAMS
    }
  }
  using Rows = void (*)(const Layout&, const PanelJob*, int64_t, const ActRow*, int64_t);
  static constexpr Rows kByRows[] = {tile<1, 1, Fm, Nib, P2, P1, Two>, tile<2, 1, Fm, Nib, P2, P1, Two>,
                                     tile<3, 1, Fm, Nib, P2, P1, Two>, tile<4, 1, Fm, Nib, P2, P1, Two>,
                                     tile<5, 1, Fm, Nib, P2, P1, Two>, tile<6, 1, Fm, Nib, P2, P1, Two>,
                                     tile<7, 1, Fm, Nib, P2, P1, Two>, tile<8, 1, Fm, Nib, P2, P1, Two>};
  for (int j = 0; j < np; ++j) kByRows[std::min(na, panels::kTileTokens) - 1](L, jobs + j, supers, a, ldc);
}

template <Form Fm, bool Nib, bool P2, bool P1>
void tile_two(const Layout& L, const PanelJob* jobs, int np, int64_t supers, const ActRow* a, int na, int64_t ldc) {
  if (a[0].q2) return tile_na<Fm, Nib, P2, P1, true>(L, jobs, np, supers, a, na, ldc);
  tile_na<Fm, Nib, P2, P1, false>(L, jobs, np, supers, a, na, ldc);
}

}  // namespace

void tile_avx2(const Layout& L, const PanelJob* jobs, int np, int64_t supers, const ActRow* a, int na, int64_t ldc) {
  // By the layout's planes: Q4_K, Q5_K (Min32, nibbles ± plane1), Q6_K (Sym16, nibbles + plane2),
  // Q3_K (Sym16, plane2 + plane1), Q2_K (Min16, plane2).
  static constexpr Tile kByPlanes[] = {tile_two<Form::Min32, true, false, false>, tile_two<Form::Min32, true, false, true>,
                                       tile_two<Form::Sym16, true, true, false>, tile_two<Form::Sym16, false, true, true>,
                                       tile_two<Form::Min16, false, true, false>};
  const int which = L.form == Form::Min32 ? (L.plane1 ? 1 : 0) : L.form == Form::Sym16 ? (L.nibbles ? 2 : 3) : 4;
  kByPlanes[which](L, jobs, np, supers, a, na, ldc);
}

}  // namespace squish::kernels::kpanels
