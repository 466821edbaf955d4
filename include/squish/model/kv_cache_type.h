// Element types of the KV cache (`--kv-cache-dtype`).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace squish {

// How cached keys and values are stored. The quantized types scale each cached row (one position
// of one KV head): INT8 and INT4 use llama.cpp's Q8_0 / Q4_0 blocks (32 elements, F16 scale), FP8
// E4M3 a per-row F32 scale (absmax / 448).
enum class KVCacheType { F32, F16, BF16, FP8_E4M3, Int8, Int4 };

// "f32", "f16", "bf16", "fp8", "int8", "int4".
std::string kv_cache_type_name(KVCacheType t);
// Parses a name above (also "fp8_e4m3", "q8_0", "q4_0"); throws squish::Error listing the valid ones.
KVCacheType parse_kv_cache_type(const std::string& name);
// Every name, for help texts.
std::vector<std::string> kv_cache_type_names();
// Bytes one cached row of n elements takes (n a multiple of 32 for INT8/INT4).
size_t kv_row_bytes(KVCacheType t, int64_t n);

}  // namespace squish
