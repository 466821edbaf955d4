// Internal: what the quantized-checkpoint readers share — tensor lookups that fail with
// "<dir>: <problem>", JSON field access, little-endian int32 bit streams, the scale grid of a
// quantized matrix and the one dequantization every format reduces to,
// w[r][c] = scale[i] · (code[r][c] − zero[i]) with i the scale (group) of element (r, c).
#pragma once
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "squish/common/error.h"
#include "squish/io/hf_quantized.h"

namespace squish::hfq {

using json = nlohmann::json;

// Reads a JSON file of at most max_bytes; throws Error(path, …) when unreadable or invalid.
json read_json_limited(const std::string& path, uintmax_t max_bytes);

// The checkpoint being read: its directory (named in every error) and its tensors.
struct Reader {
  const std::string& dir;
  const SafeTensorsSet& st;

  // Throws Error(dir, problem).
  [[noreturn]] void fail(const std::string& problem) const;
  // Tensor module + "." + suffix, or nullptr.
  const SafeTensor* find(const std::string& module, const std::string& suffix) const;
  // Tensor module + "." + suffix; fails "missing tensor …" when absent.
  const SafeTensor& need(const std::string& module, const std::string& suffix) const;
  // Fails unless t's dtype is one of `ok`.
  void check_dtype(const SafeTensor& t, std::initializer_list<STDType> ok) const;
  // Fails unless t has exactly `shape` (HF order).
  void check_shape(const SafeTensor& t, const std::vector<int64_t>& shape) const;
  // Fails unless t holds exactly n elements (any rank; a scalar holds 1).
  void check_elements(const SafeTensor& t, int64_t n) const;
};

// "[a, b]".
std::string shape_str(const std::vector<int64_t>& s);
// Integer field `key` of object j (def when absent or null); fails for other types.
int64_t json_int(const Reader& r, const json& j, const char* key, int64_t def);
// Boolean field (def when absent or null).
bool json_bool(const Reader& r, const json& j, const char* key, bool def);
// String field (def when absent or null).
std::string json_str(const Reader& r, const json& j, const char* key, const std::string& def);

// Element i of a little-endian 32-bit word array at any alignment.
inline uint32_t load_u32(const uint8_t* p, int64_t i) {
  uint32_t v;
  std::memcpy(&v, p + 4 * i, 4);
  return v;
}
// The `bits` bits (1..8) starting at bit `bit` of a dense little-endian stream of 32-bit words,
// a value possibly straddling two words (compressed-tensors' pack_to_int32 layout).
inline uint32_t stream_bits(const uint8_t* words, uint64_t bit, int bits) {
  const int64_t w = static_cast<int64_t>(bit / 32);
  const uint32_t off = static_cast<uint32_t>(bit % 32);
  uint64_t v = load_u32(words, w) >> off;
  if (off + bits > 32) v |= static_cast<uint64_t>(load_u32(words, w + 1)) << (32 - off);
  return static_cast<uint32_t>(v) & ((1u << bits) - 1);
}

// Which scale (and zero point) element (r, c) of a rows × cols weight uses.
struct ScaleMap {
  enum class Kind { Tensor, Channel, Group, Block };
  Kind kind = Kind::Tensor;
  int64_t rows = 0, cols = 0;
  int64_t group = 0;           // Group: columns per group; Block: block width
  int64_t block_rows = 0;      // Block: block height
  int64_t per_row = 1;         // Group: groups per row; Block: blocks per block row
  bool group_major = false;    // Group: stored [groups, rows] (GPTQ/AWQ), not [rows, groups]
  std::vector<int32_t> g_idx;  // Group: each column's group (empty: c / group)

  // Number of scales.
  int64_t size() const;
  // The stored shape of the scales ([1] per tensor, [rows, 1] per channel, …).
  std::vector<int64_t> shape() const;
  // Index of the scale of element (r, c) in the stored (row-major) scale tensor.
  int64_t index(int64_t r, int64_t c) const {
    switch (kind) {
      case Kind::Tensor: return 0;
      case Kind::Channel: return r;
      case Kind::Group: {
        const int64_t g = g_idx.empty() ? c / group : g_idx[static_cast<size_t>(c)];
        return group_major ? g * rows + r : r * per_row + g;
      }
      case Kind::Block: return (r / block_rows) * per_row + c / group;
    }
    return 0;
  }
  // Sets Group kind with `groups` groups per row of `group` columns.
  void set_groups(int64_t group_size, int64_t groups);
  // Reads and checks g_idx (one int32 group per column, each in [0, per_row)).
  void read_g_idx(const Reader& r, const SafeTensor& t);
};

// A linear whose weight is codes on a scale grid: formats supply each row's codes (the stored
// integer, or an FP8 value) and, when stored, the zero points; dequantize() does the rest.
class GridLinear : public HFQuantizedLinear {
 public:
  ScaleMap map;
  const SafeTensor* scales = nullptr;  // map.size() floats (F32 / F16 / BF16)
  float default_zero = 0.0f;           // zero of every group when zeros() is empty
  int code_lo = 0, code_hi = -1;       // range of the integer codes (hi < lo: not integers, FP8)

  void dequantize(float* dst) const override;
  void repack(uint8_t* dst, const std::vector<int64_t>& dst_row = {}) const override;
  // Sets packed_type (and packed_note) from the grid, scales and zero points
  // (hf_quantized_repack.cpp); input_quant must be final.
  void plan_repack();

 protected:
  // Writes the codes of row r (in_features floats) into dst.
  virtual void row_codes(int64_t r, float* dst) const = 0;
  // Zero point of every scale (map.size() values), or empty to use default_zero.
  virtual std::vector<float> zeros() const { return {}; }
};

// Format readers, one per file; each adds its linears to `out`.
void read_compressed_tensors(const Reader& r, const json& qconfig, HFQuantization& out);
void read_gptq(const Reader& r, const json& qconfig, HFQuantization& out);
void read_awq(const Reader& r, const json& qconfig, HFQuantization& out);

// Modules m for which tensor m + suffix exists, in checkpoint order.
std::vector<std::string> modules_with(const Reader& r, const std::string& suffix);

}  // namespace squish::hfq
