// Byte layouts of ggml's block-quantized types (as stored in GGUF, little-endian).
#pragma once
#include <cstdint>

namespace squish {

// Elements per legacy block (Q4_0 … Q8_0).
inline constexpr int kQK = 32;
// Elements per k-quant super-block.
inline constexpr int kQKK = 256;
// Bytes of packed 6-bit scales/mins in Q3_K / Q4_K / Q5_K.
inline constexpr int kKScaleSize = 12;

// Q4_0: x = d * (q - 8); q in low nibbles for elements 0..15, high nibbles for 16..31.
struct BlockQ4_0 {
  uint16_t d;         // F16 scale
  uint8_t qs[kQK / 2];
};
// Q4_1: x = d * q + m.
struct BlockQ4_1 {
  uint16_t d;         // F16 scale
  uint16_t m;         // F16 minimum
  uint8_t qs[kQK / 2];
};
// Q5_0: x = d * (q - 16); bit 4 of element i is bit i of qh.
struct BlockQ5_0 {
  uint16_t d;         // F16 scale
  uint8_t qh[4];      // fifth bits
  uint8_t qs[kQK / 2];
};
// Q5_1: x = d * q + m.
struct BlockQ5_1 {
  uint16_t d;         // F16 scale
  uint16_t m;         // F16 minimum
  uint8_t qh[4];      // fifth bits
  uint8_t qs[kQK / 2];
};
// Q8_0: x = d * q.
struct BlockQ8_0 {
  uint16_t d;         // F16 scale
  int8_t qs[kQK];
};
// Q2_K: 16 sub-blocks of 16; x = d*(sc&15)*q - dmin*(sc>>4).
struct BlockQ2_K {
  uint8_t scales[kQKK / 16];  // 4-bit scale (low) and min (high) per sub-block
  uint8_t qs[kQKK / 4];       // 2-bit quants
  uint16_t d;                 // F16 super-scale of the scales
  uint16_t dmin;              // F16 super-scale of the mins
};
// Q3_K: 16 sub-blocks of 16; x = d*(sc-32)*(q - (hbit ? 0 : 4)).
struct BlockQ3_K {
  uint8_t hmask[kQKK / 8];      // high bits
  uint8_t qs[kQKK / 4];         // low 2 bits
  uint8_t scales[kKScaleSize];  // 16 packed 6-bit scales
  uint16_t d;                   // F16 super-scale
};
// Q4_K: 8 sub-blocks of 32; x = d*sc*q - dmin*m.
struct BlockQ4_K {
  uint16_t d;                   // F16 super-scale of the scales
  uint16_t dmin;                // F16 super-scale of the mins
  uint8_t scales[kKScaleSize];  // 8 scales + 8 mins, 6 bits each
  uint8_t qs[kQKK / 2];         // 4-bit quants
};
// Q5_K: as Q4_K plus one high bit per element.
struct BlockQ5_K {
  uint16_t d;                   // F16 super-scale of the scales
  uint16_t dmin;                // F16 super-scale of the mins
  uint8_t scales[kKScaleSize];  // 8 scales + 8 mins, 6 bits each
  uint8_t qh[kQKK / 8];         // fifth bits
  uint8_t qs[kQKK / 2];         // low 4 bits
};
// Q6_K: 16 sub-blocks of 16; x = d*sc*(q - 32).
struct BlockQ6_K {
  uint8_t ql[kQKK / 2];       // low 4 bits
  uint8_t qh[kQKK / 4];       // high 2 bits
  int8_t scales[kQKK / 16];   // 8-bit signed scales
  uint16_t d;                 // F16 super-scale
};
// Q8_K: x = d * q (the activation type of k-quant dot products).
struct BlockQ8_K {
  float d;                    // F32 scale
  int8_t qs[kQKK];            // quants
  int16_t bsums[kQKK / 16];   // sums of quants per group of 16
};

// The 16 non-linear levels IQ4_NL and IQ4_XS index (ggml's kvalues_iq4nl).
inline constexpr int8_t kIQ4NLValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// IQ4_NL: x = d * kIQ4NLValues[q]; q in low nibbles for elements 0..15, high nibbles for 16..31.
struct BlockIQ4_NL {
  uint16_t d;         // F16 scale
  uint8_t qs[kQK / 2];
};
// IQ4_XS: 8 sub-blocks of 32; x = d * (ls - 32) * kIQ4NLValues[q], ls the sub-block's 6-bit scale
// (low 4 bits in scales_l, nibble j%2 of byte j/2; high 2 bits at bit 2j of scales_h).
struct BlockIQ4_XS {
  uint16_t d;                  // F16 super-scale
  uint16_t scales_h;           // high 2 bits of the 8 scales
  uint8_t scales_l[kQKK / 64]; // low 4 bits of the 8 scales
  uint8_t qs[kQKK / 2];        // 4-bit indices, nibble layout as IQ4_NL per sub-block
};

// TQ1_0: 256 ternary values (-1, 0, 1) times d; 240 packed five to a byte in qs (base 3, as
// ceil(v·256/243)), the last 16 four to a byte in qh.
struct BlockTQ1_0 {
  uint8_t qs[48];     // 5 trits per byte
  uint8_t qh[4];      // 4 trits per byte
  uint16_t d;         // F16 scale
};
// TQ2_0: 256 ternary values times d, 2 bits each (code - 1).
struct BlockTQ2_0 {
  uint8_t qs[kQKK / 4];  // 2-bit codes 0..2
  uint16_t d;            // F16 scale
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockTQ1_0) == 54);
static_assert(sizeof(BlockTQ2_0) == 66);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

// Unpacks sub-block j (0..7) scale and min of Q4_K / Q5_K's 12-byte scale field.
inline void unpack_scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Unpacks the 16 6-bit Q3_K scales (unsigned, 0..63; subtract 32 for the signed value).
inline void unpack_scales_q3_k(const uint8_t* q, uint8_t out[16]) {
  for (int j = 0; j < 16; ++j) {
    const uint8_t lo = j < 8 ? (q[j] & 0xF) : (q[j - 8] >> 4);
    const uint8_t hi = (q[8 + j % 4] >> (2 * (j / 4))) & 3;
    out[j] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

// The 6-bit scale (0..63; subtract 32 for the signed value) of IQ4_XS sub-block j.
inline int iq4_xs_scale(const BlockIQ4_XS& b, int j) {
  return ((b.scales_l[j / 2] >> (4 * (j % 2))) & 0xF) | (((b.scales_h >> (2 * j)) & 3) << 4);
}

}  // namespace squish
