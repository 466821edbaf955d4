#include "squish/formats/ggml_type.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <stdexcept>

namespace squish {
namespace {

struct Entry {
  uint32_t id;
  TypeTraits traits;
};

// Block sizes and bytes per block as in ggml (QK_K = 256).
constexpr std::array<Entry, 33> kTypes{{
    {0, {"F32", 1, 4, false}},       {1, {"F16", 1, 2, false}},
    {2, {"Q4_0", 32, 18, true}},     {3, {"Q4_1", 32, 20, true}},
    {6, {"Q5_0", 32, 22, true}},     {7, {"Q5_1", 32, 24, true}},
    {8, {"Q8_0", 32, 34, true}},     {9, {"Q8_1", 32, 36, true}},
    {10, {"Q2_K", 256, 84, true}},   {11, {"Q3_K", 256, 110, true}},
    {12, {"Q4_K", 256, 144, true}},  {13, {"Q5_K", 256, 176, true}},
    {14, {"Q6_K", 256, 210, true}},  {15, {"Q8_K", 256, 292, true}},
    {16, {"IQ2_XXS", 256, 66, true}}, {17, {"IQ2_XS", 256, 74, true}},
    {18, {"IQ3_XXS", 256, 98, true}}, {19, {"IQ1_S", 256, 50, true}},
    {20, {"IQ4_NL", 32, 18, true}},  {21, {"IQ3_S", 256, 110, true}},
    {22, {"IQ2_S", 256, 82, true}},  {23, {"IQ4_XS", 256, 136, true}},
    {24, {"I8", 1, 1, false}},       {25, {"I16", 1, 2, false}},
    {26, {"I32", 1, 4, false}},      {27, {"I64", 1, 8, false}},
    {28, {"F64", 1, 8, false}},      {29, {"IQ1_M", 256, 56, true}},
    {30, {"BF16", 1, 2, false}},     {34, {"TQ1_0", 256, 54, true}},
    {35, {"TQ2_0", 256, 66, true}},  {39, {"MXFP4", 32, 17, true}},
    {31, {"Q4_0_4_4(removed)", 0, 0, true}},
}};

}  // namespace

std::optional<TypeTraits> find_type_traits(uint32_t id) {
  for (const auto& e : kTypes)
    if (e.id == id && e.traits.block_size > 0) return e.traits;
  return std::nullopt;
}

const TypeTraits& type_traits(GGMLType t) {
  for (const auto& e : kTypes)
    if (e.id == static_cast<uint32_t>(t) && e.traits.block_size > 0) return e.traits;
  throw std::logic_error("unknown ggml type id " + std::to_string(static_cast<uint32_t>(t)));
}

std::string type_name(GGMLType t) {
  auto tr = find_type_traits(static_cast<uint32_t>(t));
  return tr ? tr->name : "type#" + std::to_string(static_cast<uint32_t>(t));
}

std::optional<GGMLType> parse_type_name(const std::string& name) {
  std::string up = name;
  std::transform(up.begin(), up.end(), up.begin(), [](unsigned char c) { return std::toupper(c); });
  for (const auto& e : kTypes)
    if (e.traits.block_size > 0 && up == e.traits.name) return static_cast<GGMLType>(e.id);
  return std::nullopt;
}

size_t row_bytes(GGMLType t, int64_t n) {
  const auto& tr = type_traits(t);
  return static_cast<size_t>(n / tr.block_size) * tr.type_size;
}

}  // namespace squish
