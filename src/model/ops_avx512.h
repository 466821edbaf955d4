// AVX-512 inner loops of ops.h (call only when the CPU has AVX-512).
#pragma once
#include <cstdint>

namespace squish::ops {

// geglu (ops.h) through the same 65536-entry F16-indexed GELU table, bit for bit.
void geglu_avx512(const float* table, float* g, const float* u, int64_t n);

}  // namespace squish::ops
