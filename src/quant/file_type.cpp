#include "squish/quant/file_type.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "squish/common/edit_distance.h"

namespace squish {
namespace {

struct FileTypeEntry {
  FileType ftype;
  const char* name;
  GGMLType base;
};

constexpr std::array<FileTypeEntry, 21> kFileTypes{{
    {FileType::Q4_0, "Q4_0", GGMLType::Q4_0},     {FileType::Q4_1, "Q4_1", GGMLType::Q4_1},
    {FileType::Q5_0, "Q5_0", GGMLType::Q5_0},     {FileType::Q5_1, "Q5_1", GGMLType::Q5_1},
    {FileType::TQ1_0, "TQ1_0", GGMLType::TQ1_0},  {FileType::TQ2_0, "TQ2_0", GGMLType::TQ2_0},
    {FileType::Q2_K, "Q2_K", GGMLType::Q2_K},     {FileType::Q3_K_S, "Q3_K_S", GGMLType::Q3_K},
    {FileType::Q3_K_M, "Q3_K_M", GGMLType::Q3_K}, {FileType::Q3_K_L, "Q3_K_L", GGMLType::Q3_K},
    {FileType::IQ4_NL, "IQ4_NL", GGMLType::IQ4_NL}, {FileType::IQ4_XS, "IQ4_XS", GGMLType::IQ4_XS},
    {FileType::Q4_K_S, "Q4_K_S", GGMLType::Q4_K}, {FileType::Q4_K_M, "Q4_K_M", GGMLType::Q4_K},
    {FileType::Q5_K_S, "Q5_K_S", GGMLType::Q5_K}, {FileType::Q5_K_M, "Q5_K_M", GGMLType::Q5_K},
    {FileType::Q6_K, "Q6_K", GGMLType::Q6_K},     {FileType::Q8_0, "Q8_0", GGMLType::Q8_0},
    {FileType::F16, "F16", GGMLType::F16},        {FileType::BF16, "BF16", GGMLType::BF16},
    {FileType::ALL_F32, "F32", GGMLType::F32},
}};

std::string upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string without_underscores(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  return s;
}

}  // namespace

std::string file_type_name(FileType f) {
  for (const auto& e : kFileTypes)
    if (e.ftype == f) return e.name;
  return "ftype#" + std::to_string(static_cast<uint32_t>(f));
}

std::optional<FileType> parse_file_type(const std::string& name) {
  const std::string up = upper(name);
  for (const auto& e : kFileTypes)
    if (up == e.name) return e.ftype;
  if (up == "ALL_F32") return FileType::ALL_F32;
  return std::nullopt;
}

std::vector<std::string> file_type_names() {
  std::vector<std::string> out;
  for (const auto& e : kFileTypes) out.emplace_back(e.name);
  return out;
}

std::vector<std::string> suggest_file_types(const std::string& name) {
  // Compared without underscores, so "q4km" and "Q4_KM" find Q4_K_M first.
  const std::string up = without_underscores(upper(name));
  std::vector<std::pair<size_t, std::string>> scored;
  for (const auto& e : kFileTypes)
    scored.emplace_back(edit_distance(up, without_underscores(e.name)), e.name);
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> out;
  for (const auto& [d, n] : scored)
    if (out.size() < 3 && d <= std::max<size_t>(2, up.size() / 2)) out.push_back(n);
  return out;
}

GGMLType default_tensor_type(FileType f) {
  for (const auto& e : kFileTypes)
    if (e.ftype == f) return e.base;
  return GGMLType::F32;
}

}  // namespace squish
