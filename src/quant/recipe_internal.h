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
std::vector<std::string> nearest(const std::string& name,
                                 const std::vector<std::string>& candidates);
// Lower-case copy.
std::string lower(std::string s);
// Whether s ends with suffix.
bool ends_with(const std::string& s, const std::string& suffix);
// "a, b or c".
std::string join_or(const std::vector<std::string>& v);

// A node of a parsed YAML document with its key path ("gptq.act_order", "targets[1]"): typed
// reads where every mismatch throws Error(source, "<path>: <problem> (line N)").
class Field {
 public:
  Field(std::string source, YAML::Node node, std::string path, int line, bool present);
  // The document root.
  static Field root(std::string source, YAML::Node node);

  // The value at `key` of a map (absent when missing or when this is not a map).
  Field operator[](const std::string& key) const;
  // Element i of a list.
  Field at(size_t i) const;
  // The key exists (possibly null).
  bool present() const { return present_; }
  // The key exists with a non-null value.
  bool given() const { return present_ && !node_.IsNull(); }
  bool is_map() const { return present_ && node_.IsMap(); }
  bool is_list() const { return present_ && node_.IsSequence(); }
  size_t size() const { return is_list() ? node_.size() : 0; }
  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  const std::string& source() const { return source_; }
  // 'value', a list, a map or null, for "expected X, got Y".
  std::string shown() const;

  [[noreturn]] void fail(const std::string& problem) const;

  bool boolean() const;
  double number() const;
  int64_t integer() const;
  uint64_t unsigned_integer() const;
  std::string string() const;
  // A string or a list of strings.
  std::vector<std::string> strings() const;
  // Keys of a map in document order (duplicates fail).
  std::vector<std::string> keys() const;
  // Requires a map (absent or null also pass when allow_null) whose keys are all in `known`;
  // an unknown key fails naming the nearest known ones.
  void check_keys(const std::vector<std::string>& known, bool allow_null = false) const;

  // Sets `out` from the value at `key` when it is given.
  void get(const std::string& key, bool& out) const;
  void get(const std::string& key, double& out) const;
  void get(const std::string& key, int64_t& out) const;
  void get(const std::string& key, std::string& out) const;
  void get(const std::string& key, std::vector<std::string>& out) const;

 private:
  std::string source_;
  YAML::Node node_;
  std::string path_;
  int line_;  // 0-based line of the node, or of its parent when absent
  bool present_;
};

// calibration: {file, samples, seq_len, seed} into r (both layouts).
void read_calibration(const Field& f, Recipe& r);
// SmoothQuant's mappings: [[[balance...], smooth], ...].
std::vector<SmoothMapping> read_smooth_mappings(const Field& f);
// AWQ's mappings: [{smooth_layer, balance_layers}, ...].
std::vector<SmoothMapping> read_awq_mappings(const Field& f);
// AWQ's grid size (1..1000).
int read_grid(const Field& f);

// The llm-compressor layout (a root with <name>_stage / <name>_modifiers keys).
bool is_llmcompressor_layout(const YAML::Node& root);
Recipe parse_llmcompressor(const Field& root);
// The flat squish layout.
Recipe parse_flat(const Field& root);

}  // namespace squish::recipe_detail
