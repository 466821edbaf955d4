#include "squish/io/gguf_value.h"

#include <sstream>
#include <stdexcept>

namespace squish {

const char* value_type_name(GGUFValueType t) {
  switch (t) {
    case GGUFValueType::UINT8: return "uint8";
    case GGUFValueType::INT8: return "int8";
    case GGUFValueType::UINT16: return "uint16";
    case GGUFValueType::INT16: return "int16";
    case GGUFValueType::UINT32: return "uint32";
    case GGUFValueType::INT32: return "int32";
    case GGUFValueType::FLOAT32: return "float32";
    case GGUFValueType::BOOL: return "bool";
    case GGUFValueType::STRING: return "string";
    case GGUFValueType::ARRAY: return "array";
    case GGUFValueType::UINT64: return "uint64";
    case GGUFValueType::INT64: return "int64";
    case GGUFValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

bool GGUFValue::is_integer() const {
  return std::holds_alternative<uint64_t>(v) || std::holds_alternative<int64_t>(v);
}

int64_t GGUFValue::as_int() const {
  if (auto* u = std::get_if<uint64_t>(&v)) return static_cast<int64_t>(*u);
  if (auto* i = std::get_if<int64_t>(&v)) return *i;
  if (auto* b = std::get_if<bool>(&v)) return *b ? 1 : 0;
  throw std::invalid_argument(std::string("expected an integer, found ") + value_type_name(type));
}

double GGUFValue::as_double() const {
  if (auto* d = std::get_if<double>(&v)) return *d;
  if (auto* u = std::get_if<uint64_t>(&v)) return static_cast<double>(*u);
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  throw std::invalid_argument(std::string("expected a number, found ") + value_type_name(type));
}

bool GGUFValue::as_bool() const {
  if (auto* b = std::get_if<bool>(&v)) return *b;
  if (is_integer()) return as_int() != 0;
  throw std::invalid_argument(std::string("expected a bool, found ") + value_type_name(type));
}

const std::string& GGUFValue::as_string() const {
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  throw std::invalid_argument(std::string("expected a string, found ") + value_type_name(type));
}

const GGUFArray& GGUFValue::as_array() const {
  if (auto* a = std::get_if<GGUFArray>(&v)) return *a;
  throw std::invalid_argument(std::string("expected an array, found ") + value_type_name(type));
}

std::string GGUFValue::to_display(size_t max_items) const {
  std::ostringstream os;
  if (auto* u = std::get_if<uint64_t>(&v)) os << *u;
  else if (auto* i = std::get_if<int64_t>(&v)) os << *i;
  else if (auto* d = std::get_if<double>(&v)) os << *d;
  else if (auto* b = std::get_if<bool>(&v)) os << (*b ? "true" : "false");
  else if (auto* s = std::get_if<std::string>(&v)) {
    std::string t = s->size() > 80 ? s->substr(0, 77) + "..." : *s;
    for (auto& c : t)
      if (c == '\n' || c == '\r') c = ' ';
    os << '"' << t << '"';
  } else if (auto* a = std::get_if<GGUFArray>(&v)) {
    os << "[" << value_type_name(a->elem_type) << " x " << a->items.size() << "]";
    if (!a->items.empty()) {
      os << " {";
      for (size_t k = 0; k < a->items.size() && k < max_items; ++k)
        os << (k ? ", " : "") << a->items[k].to_display(2);
      if (a->items.size() > max_items) os << ", ...";
      os << "}";
    }
  }
  return os.str();
}

GGUFValue gguf_u32(uint32_t x) { return {GGUFValueType::UINT32, uint64_t{x}}; }
GGUFValue gguf_i32(int32_t x) { return {GGUFValueType::INT32, int64_t{x}}; }
GGUFValue gguf_u64(uint64_t x) { return {GGUFValueType::UINT64, x}; }
GGUFValue gguf_f32(float x) { return {GGUFValueType::FLOAT32, double{x}}; }
GGUFValue gguf_bool(bool x) { return {GGUFValueType::BOOL, x}; }
GGUFValue gguf_str(std::string s) { return {GGUFValueType::STRING, std::move(s)}; }
GGUFValue gguf_array(GGUFValueType elem_type, std::vector<GGUFValue> items) {
  return {GGUFValueType::ARRAY, GGUFArray{elem_type, std::move(items)}};
}

}  // namespace squish
