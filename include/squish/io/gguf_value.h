// GGUF metadata values: every GGUF value type, including nested arrays.
#pragma once
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace squish {

// GGUF metadata value type ids.
enum class GGUFValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6, BOOL = 7,
  STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};

// Name of a value type ("uint32", "array" ...).
const char* value_type_name(GGUFValueType t);

struct GGUFValue;
// An array value: the element type and its elements.
struct GGUFArray {
  GGUFValueType elem_type = GGUFValueType::UINT8;
  std::vector<GGUFValue> items;
};

// One metadata value; `type` is the type as stored in the file.
struct GGUFValue {
  GGUFValueType type = GGUFValueType::UINT8;
  std::variant<uint64_t, int64_t, double, bool, std::string, GGUFArray> v;

  // True for any integer type.
  bool is_integer() const;
  // Integer value as int64 (throws std::invalid_argument when not an integer).
  int64_t as_int() const;
  // Numeric value as double (integers or floats).
  double as_double() const;
  // Boolean value.
  bool as_bool() const;
  // String value.
  const std::string& as_string() const;
  // Array value.
  const GGUFArray& as_array() const;
  // Short human-readable rendering (arrays summarised).
  std::string to_display(size_t max_items = 8) const;
};

// Builders for writers and tests.
GGUFValue gguf_u32(uint32_t x);
GGUFValue gguf_i32(int32_t x);
GGUFValue gguf_u64(uint64_t x);
GGUFValue gguf_f32(float x);
GGUFValue gguf_bool(bool x);
GGUFValue gguf_str(std::string s);
GGUFValue gguf_array(GGUFValueType elem_type, std::vector<GGUFValue> items);

}  // namespace squish
