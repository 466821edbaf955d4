// Recipe YAML: typed reads with one-line errors, the parts both layouts share (calibration,
// SmoothQuant mappings), squish's flat layout, and the entry point that picks the layout.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "recipe_internal.h"
#include "squish/common/error.h"

namespace squish {
namespace recipe_detail {

std::string shown(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "null";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  std::string s = n.Scalar();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return "'" + s + "'";
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

void Reader::fail(const YAML::Node& n, const std::string& path, const std::string& problem) const {
  std::string msg = path.empty() ? problem : path + ": " + problem;
  if (n.IsDefined() && n.Mark().line >= 0) msg += " (line " + std::to_string(n.Mark().line + 1) + ")";
  throw Error(source_, msg);
}

std::string Reader::at(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::vector<std::string> Reader::keys(const YAML::Node& n, const std::string& path) const {
  if (!n.IsDefined() || !n.IsMap()) fail(n, path, "expected a map, got " + shown(n));
  std::vector<std::string> out;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) fail(kv.first, path, "keys must be names, got " + shown(kv.first));
    const std::string k = kv.first.Scalar();
    if (std::find(out.begin(), out.end(), k) != out.end()) fail(kv.first, path, "duplicate key '" + k + "'");
    out.push_back(k);
  }
  return out;
}

void Reader::check_map(const YAML::Node& n, const std::string& path, const std::vector<std::string>& known,
                       bool allow_null) const {
  if (allow_null && (!n.IsDefined() || n.IsNull())) return;
  keys(n, path);
  for (const auto& kv : n) {
    const std::string k = kv.first.Scalar();
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    const auto near = nearest(k, known);
    fail(kv.first, path,
         "unknown key '" + k + "'" + (near.empty() ? " (valid: " + join_or(known) + ")"
                                                   : " (did you mean " + join_or(near) + "?)"));
  }
}

bool Reader::boolean(const YAML::Node& n, const std::string& path) const {
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) fail(n, path, "expected a boolean, got " + shown(n));
  return v;
}

double Reader::number(const YAML::Node& n, const std::string& path) const {
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v))
    fail(n, path, "expected a number, got " + shown(n));
  return v;
}

int64_t Reader::integer(const YAML::Node& n, const std::string& path) const {
  int64_t v = 0;
  if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v)) fail(n, path, "expected an integer, got " + shown(n));
  return v;
}

uint64_t Reader::unsigned_integer(const YAML::Node& n, const std::string& path) const {
  uint64_t v = 0;
  if (!n.IsScalar() || n.Scalar().find('-') != std::string::npos || !YAML::convert<uint64_t>::decode(n, v))
    fail(n, path, "expected a non-negative integer, got " + shown(n));
  return v;
}

std::string Reader::string(const YAML::Node& n, const std::string& path) const {
  if (!n.IsScalar()) fail(n, path, "expected a string, got " + shown(n));
  return n.Scalar();
}

std::vector<std::string> Reader::strings(const YAML::Node& n, const std::string& path) const {
  if (n.IsScalar()) return {n.Scalar()};
  if (!n.IsSequence()) fail(n, path, "expected a string or a list of strings, got " + shown(n));
  std::vector<std::string> out;
  for (size_t i = 0; i < n.size(); ++i) out.push_back(string(n[i], path + "[" + std::to_string(i) + "]"));
  return out;
}

void read_calibration(const Reader& rd, const YAML::Node& n, const std::string& path, Recipe& r) {
  rd.check_map(n, path, {"file", "samples", "seq_len", "seed"});
  if (n["file"]) r.calib_path = rd.string(n["file"], Reader::at(path, "file"));
  if (n["samples"]) r.samples = rd.integer(n["samples"], Reader::at(path, "samples"));
  if (n["seq_len"]) r.seq_len = rd.integer(n["seq_len"], Reader::at(path, "seq_len"));
  if (n["seed"]) r.seed = rd.unsigned_integer(n["seed"], Reader::at(path, "seed"));
  if (r.samples < 1) rd.fail(n["samples"], Reader::at(path, "samples"), "must be >= 1, got " + std::to_string(r.samples));
  if (r.seq_len < 2) rd.fail(n["seq_len"], Reader::at(path, "seq_len"), "must be >= 2, got " + std::to_string(r.seq_len));
}

std::vector<SmoothMapping> read_smooth_mappings(const Reader& rd, const YAML::Node& n, const std::string& path) {
  if (!n.IsSequence())
    rd.fail(n, path, "expected a list of [[balance layers...], smooth layer] pairs, got " + shown(n));
  std::vector<SmoothMapping> out;
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    const YAML::Node e = n[i];
    if (!e.IsSequence() || e.size() != 2)
      rd.fail(e, p, "expected a [[balance layers...], smooth layer] pair, got " + shown(e));
    SmoothMapping m;
    m.balance = rd.strings(e[0], p + "[0]");
    m.smooth = rd.string(e[1], p + "[1]");
    if (m.balance.empty()) rd.fail(e[0], p + "[0]", "no balance layers");
    out.push_back(std::move(m));
  }
  return out;
}

Recipe parse_flat(const Reader& rd, const YAML::Node& root) {
  rd.check_map(root, "", {"scheme", "group_size", "methods", "targets", "ignore", "calibration", "smoothquant",
                          "gptq", "awq", "kv_cache_fp8"});
  int64_t group = -1;
  if (root["group_size"]) {
    group = rd.integer(root["group_size"], "group_size");
    if (group < 0) rd.fail(root["group_size"], "group_size", "must be > 0, or 0 for per channel; got " + std::to_string(group));
  }
  const std::string scheme = root["scheme"] ? rd.string(root["scheme"], "scheme") : "W4A16";
  auto parsed = preset(scheme, group);
  if (!parsed) rd.fail(root["scheme"], "scheme", scheme_problem(scheme));
  Recipe r = *parsed;
  if (root["targets"]) r.targets = rd.strings(root["targets"], "targets");
  if (root["ignore"]) r.ignore = root["ignore"].IsNull() ? std::vector<std::string>{} : rd.strings(root["ignore"], "ignore");
  if (root["kv_cache_fp8"]) r.kv_cache_fp8 = rd.boolean(root["kv_cache_fp8"], "kv_cache_fp8");
  if (root["calibration"]) read_calibration(rd, root["calibration"], "calibration", r);

  const std::vector<std::string> valid = {"rtn", "gptq", "awq", "smoothquant"};
  std::vector<std::string> methods;
  if (root["methods"]) {
    const YAML::Node list = root["methods"];
    methods = rd.strings(list, "methods");
    for (size_t i = 0; i < methods.size(); ++i) {
      const YAML::Node at = list.IsSequence() ? list[i] : list;
      const std::string p = "methods[" + std::to_string(i) + "]";
      methods[i] = lower(methods[i]);
      if (std::find(valid.begin(), valid.end(), methods[i]) == valid.end()) {
        const auto near = nearest(methods[i], valid);
        rd.fail(at, p, "unknown method '" + methods[i] + "'" +
                           (near.empty() ? "" : "; did you mean " + join_or(near) + "?") + " (valid: " + join_or(valid) + ")");
      }
      if (std::count(methods.begin(), methods.begin() + i, methods[i]))
        rd.fail(at, p, "'" + methods[i] + "' is listed twice");
    }
  }
  for (const char* section : {"smoothquant", "gptq", "awq"})
    if (root[section] && std::find(methods.begin(), methods.end(), section) == methods.end())
      rd.fail(root[section], section, std::string("settings given but '") + section + "' is not in methods");

  for (const std::string& name : methods) {
    Modifier m;
    const YAML::Node s = root[name];
    if (name == "rtn") {
      m.kind = Modifier::Kind::Rtn;
    } else if (name == "smoothquant") {
      m.kind = Modifier::Kind::SmoothQuant;
      rd.check_map(s, name, {"alpha", "mappings", "ignore"}, true);
      if (s && s["alpha"]) m.smoothing_strength = rd.number(s["alpha"], "smoothquant.alpha");
      if (s && s["mappings"]) m.mappings = read_smooth_mappings(rd, s["mappings"], "smoothquant.mappings");
      if (s && s["ignore"]) m.mapping_ignore = rd.strings(s["ignore"], "smoothquant.ignore");
    } else if (name == "gptq") {
      m.kind = Modifier::Kind::Gptq;
      rd.check_map(s, name, {"damp", "block_size", "act_order", "static_groups"}, true);
      if (s && s["damp"]) m.dampening_frac = rd.number(s["damp"], "gptq.damp");
      if (s && s["block_size"]) m.block_size = rd.integer(s["block_size"], "gptq.block_size");
      if (s && s["act_order"]) m.act_order = rd.boolean(s["act_order"], "gptq.act_order");
      if (s && s["static_groups"]) m.static_groups = rd.boolean(s["static_groups"], "gptq.static_groups");
    } else {
      m.kind = Modifier::Kind::Awq;
      rd.check_map(s, name, {"grid", "clip", "duo_scaling", "mappings"}, true);
      if (s && s["grid"]) {
        const int64_t g = rd.integer(s["grid"], "awq.grid");
        if (g < 1 || g > 1000) rd.fail(s["grid"], "awq.grid", "must be 1..1000, got " + std::to_string(g));
        m.awq_grid = static_cast<int>(g);
      }
      if (s && s["clip"]) m.awq_clip = rd.boolean(s["clip"], "awq.clip");
      if (s && s["duo_scaling"]) m.awq_duo_scaling = rd.boolean(s["duo_scaling"], "awq.duo_scaling");
      if (s && s["mappings"]) m.mappings = read_awq_mappings(rd, s["mappings"], "awq.mappings");
    }
    r.modifiers.push_back(std::move(m));
  }
  // Order and combinations are checked with RTN still listed, then RTN (the default) is dropped.
  validate_recipe(r, rd.source());
  r.modifiers.erase(std::remove_if(r.modifiers.begin(), r.modifiers.end(),
                                   [](const Modifier& m) { return m.kind == Modifier::Kind::Rtn; }),
                    r.modifiers.end());
  return r;
}

}  // namespace recipe_detail

Recipe parse_recipe_text(const std::string& yaml, const std::string& source) {
  using namespace recipe_detail;
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    throw Error(source, "YAML syntax error: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
  }
  const Reader rd(source);
  if (!root.IsDefined() || root.IsNull()) throw Error(source, "empty recipe");
  if (!root.IsMap()) rd.fail(root, "", "a recipe is a map of keys, got " + shown(root));
  Recipe r = is_llmcompressor_layout(root) ? parse_llmcompressor(rd, root) : parse_flat(rd, root);
  validate_recipe(r, source);
  return r;
}

}  // namespace squish
