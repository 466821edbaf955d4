// Shared by the recipe sources: preset lookup, name suggestions, and a YAML reader that turns
// every type mismatch or unknown key into one Error line naming the key path.
#pragma once
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "squish/quant/recipe.h"

namespace squish::recipe_detail {

// The preset's scheme, weights and activations (other fields default), or nullopt when `name`
// (any case) is not a preset squish supports. group_size as in recipe_from_scheme.
std::optional<Recipe> preset(const std::string& name, int64_t group_size);
// Why `name` is not accepted: "unknown scheme 'X'; did you mean W4A16?" or "scheme X (NVFP4
// weights) is not supported by squish", followed by the supported names.
std::string scheme_problem(const std::string& name);
// Scheme name of a weights / activations pair: a preset name when it fits ("W4A16", "FP8"),
// else built the same way ("W3A8_ASYM", "FP8A16").
std::string scheme_name_of(const QuantSpec& w, InputQuant a);
// The candidates nearest to `name` by edit distance (case-insensitive), when near enough.
std::vector<std::string> nearest(const std::string& name, const std::vector<std::string>& candidates);
// What a node holds, for "expected X, got Y": 'value', a list, a map, null.
std::string shown(const YAML::Node& n);
// Lower-case copy.
std::string lower(std::string s);
// "a, b or c".
std::string join_or(const std::vector<std::string>& v);

// Reads typed values out of a parsed YAML document; each failure throws Error(source,
// "<path>: <problem> (line N)").
class Reader {
 public:
  explicit Reader(std::string source) : source_(std::move(source)) {}
  const std::string& source() const { return source_; }

  // Throws the error for the key at `path` (n locates the line; may be undefined).
  [[noreturn]] void fail(const YAML::Node& n, const std::string& path, const std::string& problem) const;

  // `path` + "." + key (just key at the top level).
  static std::string at(const std::string& path, const std::string& key);

  // Requires a map (null counts as an empty map when allow_null) whose keys are all in `known`;
  // an unknown key fails with the nearest known ones as suggestions.
  void check_map(const YAML::Node& n, const std::string& path, const std::vector<std::string>& known,
                 bool allow_null = false) const;
  // Map keys in document order (a map is required).
  std::vector<std::string> keys(const YAML::Node& n, const std::string& path) const;

  bool boolean(const YAML::Node& n, const std::string& path) const;
  double number(const YAML::Node& n, const std::string& path) const;
  int64_t integer(const YAML::Node& n, const std::string& path) const;
  uint64_t unsigned_integer(const YAML::Node& n, const std::string& path) const;
  std::string string(const YAML::Node& n, const std::string& path) const;
  // A string or a list of strings.
  std::vector<std::string> strings(const YAML::Node& n, const std::string& path) const;

 private:
  std::string source_;
};

// calibration: {file, samples, seq_len, seed} into r (both layouts).
void read_calibration(const Reader& rd, const YAML::Node& n, const std::string& path, Recipe& r);
// SmoothQuant's mappings: [[[balance...], smooth], ...].
std::vector<SmoothMapping> read_smooth_mappings(const Reader& rd, const YAML::Node& n, const std::string& path);

// AWQ's mappings: [{smooth_layer, balance_layers}, ...].
std::vector<SmoothMapping> read_awq_mappings(const Reader& rd, const YAML::Node& n, const std::string& path);

// The llm-compressor layout (a root with <name>_stage / <name>_modifiers keys).
bool is_llmcompressor_layout(const YAML::Node& root);
Recipe parse_llmcompressor(const Reader& rd, const YAML::Node& root);
// The flat squish layout.
Recipe parse_flat(const Reader& rd, const YAML::Node& root);

}  // namespace squish::recipe_detail
