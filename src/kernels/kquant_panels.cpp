// k-quant panels: GGUF Q2_K / Q3_K / Q4_K / Q5_K / Q6_K rows repacked into 16-row panels
// (kquant_panel_kernels.h), their dequantized rows, the scalar reference tile and the
// multi-threaded matmul that runs the tiles.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kquant_panel_kernels.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/formats/ggml_blocks.h"
#include "squish/formats/half.h"
#include "squish/kernels/gemm.h"

// row_f32 must round D · sc · u and the min subtraction separately, as the GGUF dequantizers do.
#pragma GCC optimize("fp-contract=off")

namespace squish::kernels::kpanels {

using panels::kBlock;
using panels::kRows;

bool is_kquant(GGMLType t) {
  return t == GGMLType::Q2_K || t == GGMLType::Q3_K || t == GGMLType::Q4_K || t == GGMLType::Q5_K ||
         t == GGMLType::Q6_K;
}

Layout layout_of(GGMLType t) {
  Layout L;
  switch (t) {
    case GGMLType::Q5_K: L.plane1 = true; break;
    case GGMLType::Q6_K: L.form = Form::Sym16, L.plane2 = true, L.offset = 32; break;
    case GGMLType::Q3_K: L.form = Form::Sym16, L.nibbles = false, L.plane2 = L.plane1 = true, L.offset = 4; break;
    case GGMLType::Q2_K: L.form = Form::Min16, L.nibbles = false, L.plane2 = true; break;
    default: break;  // Q4_K
  }
  return L;
}

int Layout::code(const uint8_t* p, int r, int c) const {
  const int v = c / 4, lane = 4 * r + c % 4;
  int u = 0;
  if (nibbles) {
    const uint8_t byte = p[(v / 2) * 64 + lane];
    u = v % 2 ? byte >> 4 : byte & 0x0F;
    p += 256;
  }
  if (plane2) {
    u |= ((p[(v / 4) * 64 + lane] >> (2 * (v % 4))) & 3) << plane2_shift();
    p += 128;
  }
  if (plane1) u |= ((p[lane] >> v) & 1) << plane1_shift();
  return u;
}

void Layout::scale_min(const uint8_t* p, int r, int s, float* scale, float* mn) const {
  uint16_t h;
  std::memcpy(&h, p + 2 * r, 2);
  const float D = fp16_to_fp32(h);
  float M = 0.0f;
  if (has_min()) {
    std::memcpy(&h, p + 32 + 2 * r, 2);
    M = fp16_to_fp32(h);
  }
  const uint8_t* sc = p + 32 * (has_min() ? 2 : 1);
  const uint8_t b = sc[16 * s + r];
  switch (form) {
    case Form::Min32: *scale = D * static_cast<float>(b), *mn = M * static_cast<float>(sc[16 * 8 + 16 * s + r]); break;
    case Form::Sym16: *scale = D * static_cast<float>(static_cast<int8_t>(b)), *mn = 0.0f; break;
    case Form::Min16: *scale = D * static_cast<float>(b & 0x0F), *mn = M * static_cast<float>(b >> 4); break;
  }
}

namespace {

// One file super-block of type t: its 256 unsigned codes, sub-block scale bytes (as the panel
// stores them), Min32's mins, and the F16 d and dmin.
void decode_super(GGMLType t, const uint8_t* blk, uint8_t* u, uint8_t* sc, uint8_t* mn, uint16_t* D,
                  uint16_t* M) {
  *M = 0;
  if (t == GGMLType::Q4_K || t == GGMLType::Q5_K) {
    const bool five = t == GGMLType::Q5_K;
    const auto* b4 = reinterpret_cast<const BlockQ4_K*>(blk);
    const auto* b5 = reinterpret_cast<const BlockQ5_K*>(blk);
    const uint8_t* scales = five ? b5->scales : b4->scales;
    const uint8_t* qs = five ? b5->qs : b4->qs;
    *D = five ? b5->d : b4->d, *M = five ? b5->dmin : b4->dmin;
    for (int j = 0; j < 8; ++j) {
      unpack_scale_min_k4(j, scales, sc[j], mn[j]);
      for (int l = 0; l < 32; ++l) {
        int v = (qs[32 * (j / 2) + l] >> (4 * (j % 2))) & 0x0F;
        if (five) v |= ((b5->qh[l] >> j) & 1) << 4;
        u[32 * j + l] = static_cast<uint8_t>(v);
      }
    }
  } else if (t == GGMLType::Q6_K) {
    const auto* b = reinterpret_cast<const BlockQ6_K*>(blk);
    *D = b->d;
    for (int j = 0; j < 16; ++j) sc[j] = static_cast<uint8_t>(b->scales[j]);
    for (int h = 0; h < 2; ++h)
      for (int g = 0; g < 4; ++g)
        for (int l = 0; l < 32; ++l) {
          const uint8_t lo = b->ql[64 * h + l + 32 * (g % 2)] >> (4 * (g / 2));
          u[128 * h + 32 * g + l] = static_cast<uint8_t>((lo & 0x0F) | ((b->qh[32 * h + l] >> (2 * g)) & 3) << 4);
        }
  } else {  // Q3_K, Q2_K: element 128 h + 32 j + l has bits 2j.. of qs[32 h + l]
    const bool three = t == GGMLType::Q3_K;
    const auto* b3 = reinterpret_cast<const BlockQ3_K*>(blk);
    const auto* b2 = reinterpret_cast<const BlockQ2_K*>(blk);
    const uint8_t* qs = three ? b3->qs : b2->qs;
    if (three) {
      *D = b3->d;
      uint8_t s6[16];
      unpack_scales_q3_k(b3->scales, s6);
      for (int j = 0; j < 16; ++j) sc[j] = static_cast<uint8_t>(static_cast<int8_t>(s6[j] - 32));
    } else {
      *D = b2->d, *M = b2->dmin;
      std::memcpy(sc, b2->scales, 16);
    }
    for (int h = 0; h < 2; ++h)
      for (int j = 0; j < 4; ++j)
        for (int l = 0; l < 32; ++l) {
          int v = (qs[32 * h + l] >> (2 * j)) & 3;
          if (three && (b3->hmask[l] >> (4 * h + j)) & 1) v += 4;
          u[128 * h + 32 * j + l] = static_cast<uint8_t>(v);
        }
  }
}

// Writes row r's codes u[32] into the block of codes at p (zeroed before).
void put_codes(const Layout& L, const uint8_t* u, int r, uint8_t* p) {
  for (int c = 0; c < kBlock; ++c) {
    const int v = c / 4, lane = 4 * r + c % 4;
    uint8_t* q = p;
    int bits = u[c];
    if (L.nibbles) {
      q[(v / 2) * 64 + lane] |= static_cast<uint8_t>((bits & 0x0F) << (4 * (v % 2)));
      bits >>= 4;
      q += 256;
    }
    if (L.plane2) {
      q[(v / 4) * 64 + lane] |= static_cast<uint8_t>((bits & 3) << (2 * (v % 4)));
      bits >>= 2;
      q += 128;
    }
    if (L.plane1) q[lane] |= static_cast<uint8_t>((bits & 1) << v);
  }
}

}  // namespace

BlockPanels make_panels(GGMLType t, const void* W, int64_t n, int64_t k) {
  if (!is_kquant(t) || k % kSuper != 0)
    throw Error("block_panels", "cannot repack " + type_name(t) + " rows of " + std::to_string(k));
  const Layout L = layout_of(t);
  const int64_t np = (n + kRows - 1) / kRows, ns = k / kSuper;
  BlockPanels P = panels::zeroed_panels(t, n, k, static_cast<size_t>(np * ns) * L.super_bytes());
  const auto* src = static_cast<const uint8_t*>(W);
  const size_t rb = row_bytes(t, k), sb = rb / static_cast<size_t>(ns);
  parallel_for(np, [&](int64_t p0, int64_t p1) {
    uint8_t u[kSuper], sc[16], mn[8];
    uint16_t D, M;
    for (int64_t p = p0; p < p1; ++p)
      for (int64_t s = 0; s < ns; ++s) {
        uint8_t* dst = P.data.data() + static_cast<size_t>(p * ns + s) * L.super_bytes();
        for (int r = 0; r < kRows && p * kRows + r < n; ++r) {
          decode_super(t, src + static_cast<size_t>(p * kRows + r) * rb + static_cast<size_t>(s) * sb, u, sc, mn, &D, &M);
          std::memcpy(dst + 2 * r, &D, 2);
          if (L.has_min()) std::memcpy(dst + 32 + 2 * r, &M, 2);
          uint8_t* scales = dst + 32 * (L.has_min() ? 2 : 1);
          for (int j = 0; j < L.subs(); ++j) scales[16 * j + r] = sc[j];
          if (L.form == Form::Min32)
            for (int j = 0; j < 8; ++j) scales[16 * 8 + 16 * j + r] = mn[j];
          for (int b = 0; b < kBlocks; ++b)
            put_codes(L, u + kBlock * b, r, dst + L.header_bytes() + b * L.code_bytes());
        }
      }
  });
  return P;
}

void row_f32(const BlockPanels& P, int64_t r, float* dst) {
  const Layout L = layout_of(P.type);
  const int64_t ns = P.cols / kSuper, p = r / kRows;
  const int row = static_cast<int>(r % kRows);
  for (int64_t s = 0; s < ns; ++s) {
    const uint8_t* sup = P.data.data() + static_cast<size_t>(p * ns + s) * L.super_bytes();
    for (int c = 0; c < kSuper; ++c) {
      float scale, mn;
      L.scale_min(sup, row, c / (L.form == Form::Min32 ? 32 : 16), &scale, &mn);
      const int u = L.code(sup + L.header_bytes() + (c / kBlock) * L.code_bytes(), row, c % kBlock);
      const float w = scale * static_cast<float>(L.form == Form::Sym16 ? u - L.offset : u);
      dst[s * kSuper + c] = w - mn;
    }
  }
}

namespace {

// tile_scalar of one panel.
void panel_scalar(const Layout& L, const uint8_t* panel, int64_t supers, const ActRow* a, int na,
                  const float* bias, int nr, float* C, int64_t ldc) {
  constexpr float kStep = 1.0f / (1 << panels::kLevelShift);
  for (int i = 0; i < na; ++i)
    for (int r = 0; r < nr; ++r) {
      float acc = 0.0f;
      for (int64_t s = 0; s < supers; ++s) {
        const uint8_t* sup = panel + static_cast<size_t>(s) * L.super_bytes();
        for (int b = 0; b < kBlocks; ++b) {
          const int64_t gb = s * kBlocks + b;  // the activation block
          const uint8_t* codes = sup + L.header_bytes() + b * L.code_bytes();
          const float e = a[i].q2 ? a[i].d[gb] * kStep : a[i].d[gb];
          int32_t dot[2];
          for (int h = 0; h < 2; ++h) {
            int32_t d1 = 0, d2 = 0;
            for (int c = kHalf * h; c < kHalf * (h + 1); ++c) {
              const int u = L.code(codes, r, c);
              d1 += u * a[i].q[gb * kBlock + c];
              if (a[i].q2) d2 += u * a[i].q2[gb * kBlock + c];
            }
            dot[h] = a[i].q2 ? d1 * (1 << panels::kLevelShift) + d2 : d1;
          }
          const int32_t* sums = a[i].s + 2 * gb;
          float scale, mn;
          if (L.form == Form::Min32) {
            L.scale_min(sup, r, b, &scale, &mn);
            acc = std::fma(static_cast<float>(dot[0] + dot[1]), scale * e, acc);
            acc = std::fma(-mn, static_cast<float>(sums[0] + sums[1]) * e, acc);
            continue;
          }
          for (int h = 0; h < 2; ++h) {
            L.scale_min(sup, r, 2 * b + h, &scale, &mn);
            if (L.form == Form::Sym16) {
              acc = std::fma(static_cast<float>(dot[h] - L.offset * sums[h]), scale * e, acc);
            } else {
              acc = std::fma(static_cast<float>(dot[h]), scale * e, acc);
              acc = std::fma(-mn, static_cast<float>(sums[h]) * e, acc);
            }
          }
        }
      }
      C[i * ldc + r] = acc + (bias ? bias[r] : 0.0f);
    }
}

}  // namespace

void tile_scalar(const Layout& L, const PanelJob* jobs, int np, int64_t supers, const ActRow* a, int na, int64_t ldc) {
  for (int j = 0; j < np; ++j) panel_scalar(L, jobs[j].panel, supers, a, na, jobs[j].bias, jobs[j].nr, jobs[j].C, ldc);
}

void matmul(const BlockPanels& P, int64_t m, const float* A, float* C, const float* bias, Isa isa, bool two_level) {
  if (m <= 0 || P.rows <= 0) return;
  const bool avx512 = isa == Isa::Avx512, avx2 = isa == Isa::Avx2;
  const Tile tile = avx512 ? tile_avx512 : avx2 ? tile_avx2 : tile_scalar;
  const panels::Kernels& K = avx512 ? panels::avx512_kernels : avx2 ? panels::avx2_kernels : panels::scalar_kernels;
  const Layout L = layout_of(P.type);
  const int64_t k = P.cols, n = P.rows, nb = k / kBlock, ns = k / kSuper, np = (n + kRows - 1) / kRows;
  const panels::QuantizedRows act = panels::quantize_rows(m, k, A, K, two_level);
  const int8_t *qp = act.q, *q2p = act.q2;
  const float* dp = act.d;
  thread_local std::vector<int32_t> sums;  // exact integer sums per 16 codes
  sums.resize(static_cast<size_t>(m * k / kHalf));
  int32_t* sp = sums.data();
  const auto sum_halves = [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      int32_t s1 = 0, s2 = 0;
      for (int64_t j = h * kHalf; j < (h + 1) * kHalf; ++j) {
        s1 += qp[j];
        if (q2p) s2 += q2p[j];
      }
      sp[h] = q2p ? s1 * (1 << panels::kLevelShift) + s2 : s1;
    }
  };
  if (m >= 16) parallel_for(m * k / kHalf, sum_halves, 1024);  // prompts: as quantize_rows does
  else sum_halves(0, m * k / kHalf);
  constexpr int64_t kChunk = 64;  // activation rows kept in cache while the panels stream by
  const size_t panel_bytes = static_cast<size_t>(ns) * L.super_bytes();
  // Decoding reads each thread's panels as up to kMaxStreams ranges walked in lockstep: more
  // concurrent streams read faster than one.
  const int64_t lockstep = m <= 2 ? kMaxStreams : 1;
  // Prompts of Q4_K / Q5_K on AMX tiles where present (bench_kquant_panels, 2048x2048, m = 512:
  // 1.1-1.3x the VNNI tile); the 16-code sub-blocks of Q6_K / Q3_K / Q2_K lost 5-15% there.
  const bool amx = avx512 && m >= kAmxTokens && L.form == Form::Min32 && cpu_has_amx();
  parallel_for(np, [&](int64_t p0, int64_t p1) {
    ActRow rows[std::max(panels::kTileTokens, kAmxTokens)];
    PanelJob jobs[kMaxStreams];
    int64_t panel_of[kMaxStreams];
    const int64_t ranges = std::min(lockstep, p1 - p0), per = (p1 - p0 + ranges - 1) / ranges;
    for (int64_t c0 = 0; c0 < m; c0 += kChunk) {
      const int64_t c1 = std::min(m, c0 + kChunk);
      for (int64_t step = 0; step < per; ++step) {
        int nj = 0;
        for (int64_t j = 0; j < ranges; ++j)
          if (p0 + j * per + step < p1) panel_of[nj++] = p0 + j * per + step;
        for (int64_t i = c0; i < c1;) {
          const int na = static_cast<int>(std::min<int64_t>(amx && c1 - i >= kAmxTokens ? kAmxTokens : panels::kTileTokens, c1 - i));
          for (int t = 0; t < na; ++t)
            rows[t] = {qp + (i + t) * k, dp + (i + t) * nb, sp + (i + t) * (k / kHalf),
                       two_level ? q2p + (i + t) * k : nullptr};
          for (int j = 0; j < nj; ++j) {
            const int64_t p = panel_of[j];
            jobs[j] = {P.data.data() + static_cast<size_t>(p) * panel_bytes, bias ? bias + p * kRows : nullptr,
                       static_cast<int>(std::min<int64_t>(kRows, n - p * kRows)), C + i * n + p * kRows};
          }
          if (na == kAmxTokens && amx)
            for (int j = 0; j < nj; ++j) tile_amx(L, jobs[j], ns, rows, k, n);
          else
            tile(L, jobs, nj, ns, rows, na, n);
          i += na;
        }
      }
    }
  });
}

}  // namespace squish::kernels::kpanels
