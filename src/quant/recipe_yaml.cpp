// Recipe YAML: typed reads with one-line errors, the parts both layouts share (calibration,
// smoothing mappings, AWQ's grid), squish's flat layout, and the entry point picking the layout.
#include <algorithm>
#include <cctype>
#include <cmath>

#include "recipe_internal.h"
#include "squish/common/error.h"

namespace squish {
namespace recipe_detail {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Field::Field(std::string source, YAML::Node node, std::string path, int line, bool present)
    : source_(std::move(source)), node_(present ? node : YAML::Node()), path_(std::move(path)),
      line_(present && node.Mark().line >= 0 ? node.Mark().line : line), present_(present) {}

Field Field::root(std::string source, YAML::Node node) {
  const bool present = node.IsDefined();
  return Field(std::move(source), node, "", -1, present);
}

Field Field::operator[](const std::string& key) const {
  const std::string p = path_.empty() ? key : path_ + "." + key;
  if (!is_map()) return Field(source_, YAML::Node(), p, line_, false);
  const YAML::Node& self = node_;  // const lookup: never inserts
  const YAML::Node child = self[key];
  return Field(source_, child, p, line_, child.IsDefined());
}

Field Field::at(size_t i) const {
  const std::string p = path_ + "[" + std::to_string(i) + "]";
  if (i >= size()) return Field(source_, YAML::Node(), p, line_, false);
  return Field(source_, node_[i], p, line_, true);
}

std::string Field::shown() const {
  if (!present_ || node_.IsNull()) return "null";
  if (node_.IsSequence()) return "a list";
  if (node_.IsMap()) return "a map";
  std::string s = node_.Scalar();
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return "'" + s + "'";
}

void Field::fail(const std::string& problem) const {
  std::string msg = path_.empty() ? problem : path_ + ": " + problem;
  if (line_ >= 0) msg += " (line " + std::to_string(line_ + 1) + ")";
  throw Error(source_, msg);
}

bool Field::boolean() const {
  bool v = false;
  if (!present_ || !node_.IsScalar() || !YAML::convert<bool>::decode(node_, v))
    fail("expected a boolean, got " + shown());
  return v;
}

double Field::number() const {
  double v = 0;
  if (!present_ || !node_.IsScalar() || !YAML::convert<double>::decode(node_, v) ||
      !std::isfinite(v))
    fail("expected a number, got " + shown());
  return v;
}

int64_t Field::integer() const {
  int64_t v = 0;
  if (!present_ || !node_.IsScalar() || !YAML::convert<int64_t>::decode(node_, v))
    fail("expected an integer, got " + shown());
  return v;
}

uint64_t Field::unsigned_integer() const {
  uint64_t v = 0;
  if (!present_ || !node_.IsScalar() || node_.Scalar().find('-') != std::string::npos ||
      !YAML::convert<uint64_t>::decode(node_, v))
    fail("expected a non-negative integer, got " + shown());
  return v;
}

std::string Field::string() const {
  if (!present_ || !node_.IsScalar()) fail("expected a string, got " + shown());
  return node_.Scalar();
}

std::vector<std::string> Field::strings() const {
  if (present_ && node_.IsScalar()) return {node_.Scalar()};
  if (!is_list()) fail("expected a string or a list of strings, got " + shown());
  std::vector<std::string> out;
  for (size_t i = 0; i < size(); ++i) out.push_back(at(i).string());
  return out;
}

std::vector<std::string> Field::keys() const {
  if (!is_map()) fail("expected a map, got " + shown());
  std::vector<std::string> out;
  for (const auto& kv : node_) {
    const Field key(source_, kv.first, path_, line_, true);
    if (!kv.first.IsScalar()) key.fail("keys must be names, got " + key.shown());
    const std::string k = kv.first.Scalar();
    if (std::find(out.begin(), out.end(), k) != out.end()) key.fail("duplicate key '" + k + "'");
    out.push_back(k);
  }
  return out;
}

void Field::check_keys(const std::vector<std::string>& known, bool allow_null) const {
  if (allow_null && !given()) return;
  keys();
  for (const auto& kv : node_) {
    const std::string k = kv.first.Scalar();
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    const auto near = nearest(k, known);
    const std::string hint =
        near.empty() ? "valid: " + join_or(known) : "did you mean " + join_or(near) + "?";
    Field(source_, kv.first, path_, line_, true).fail("unknown key '" + k + "' (" + hint + ")");
  }
}

void Field::get(const std::string& key, bool& out) const {
  if ((*this)[key].present()) out = (*this)[key].boolean();
}
void Field::get(const std::string& key, double& out) const {
  if ((*this)[key].present()) out = (*this)[key].number();
}
void Field::get(const std::string& key, int64_t& out) const {
  if ((*this)[key].present()) out = (*this)[key].integer();
}
void Field::get(const std::string& key, std::string& out) const {
  if ((*this)[key].present()) out = (*this)[key].string();
}
void Field::get(const std::string& key, std::vector<std::string>& out) const {
  if ((*this)[key].present()) out = (*this)[key].strings();
}

void read_calibration(const Field& f, Recipe& r) {
  f.check_keys({"file", "samples", "seq_len", "seed"});
  f.get("file", r.calib_path);
  f.get("samples", r.samples);
  f.get("seq_len", r.seq_len);
  if (f["seed"].given()) r.seed = f["seed"].unsigned_integer();
  const std::string bound = std::to_string(kMaxCalibrationCount);
  if (r.samples < 1 || r.samples > kMaxCalibrationCount) f["samples"].fail("must be 1.." + bound + ", got " + std::to_string(r.samples));
  if (r.seq_len < 2 || r.seq_len > kMaxCalibrationCount) f["seq_len"].fail("must be 2.." + bound + ", got " + std::to_string(r.seq_len));
}

std::vector<SmoothMapping> read_smooth_mappings(const Field& f) {
  const std::string shape = "[[balance layers...], smooth layer]";
  if (!f.is_list()) f.fail("expected a list of " + shape + " pairs, got " + f.shown());
  std::vector<SmoothMapping> out;
  for (size_t i = 0; i < f.size(); ++i) {
    const Field e = f.at(i);
    if (e.size() != 2) e.fail("expected a " + shape + " pair, got " + e.shown());
    SmoothMapping m;
    m.balance = e.at(0).strings();
    m.smooth = e.at(1).string();
    if (m.balance.empty()) e.at(0).fail("no balance layers");
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<SmoothMapping> read_awq_mappings(const Field& f) {
  if (!f.is_list()) f.fail("expected a list of {smooth_layer, balance_layers}, got " + f.shown());
  std::vector<SmoothMapping> out;
  for (size_t i = 0; i < f.size(); ++i) {
    const Field e = f.at(i);
    e.check_keys({"smooth_layer", "balance_layers"});
    if (!e["smooth_layer"].given() || !e["balance_layers"].given())
      e.fail("needs smooth_layer and balance_layers");
    SmoothMapping m;
    m.smooth = e["smooth_layer"].string();
    m.balance = e["balance_layers"].strings();
    if (m.balance.empty()) e["balance_layers"].fail("no balance layers");
    out.push_back(std::move(m));
  }
  return out;
}

int read_grid(const Field& f) {
  const int64_t g = f.integer();
  if (g < 1 || g > 1000) f.fail("must be 1..1000, got " + std::to_string(g));
  return static_cast<int>(g);
}

namespace {

const std::vector<std::string> kMethods = {"rtn", "gptq", "awq", "smoothquant"};

// The flat form's `methods`, lower-cased, each known and listed once.
std::vector<std::string> read_methods(const Field& f) {
  if (!f.given()) return {};
  std::vector<std::string> methods = f.strings();
  for (size_t i = 0; i < methods.size(); ++i) {
    const Field at = f.is_list() ? f.at(i) : f;
    methods[i] = lower(methods[i]);
    if (std::find(kMethods.begin(), kMethods.end(), methods[i]) == kMethods.end()) {
      const auto near = nearest(methods[i], kMethods);
      const std::string hint = near.empty() ? "" : "; did you mean " + join_or(near) + "?";
      at.fail("unknown method '" + methods[i] + "'" + hint + " (valid: " + join_or(kMethods) + ")");
    }
    if (std::count(methods.begin(), methods.begin() + i, methods[i]))
      at.fail("'" + methods[i] + "' is listed twice");
  }
  return methods;
}

// One flat-form step and its settings section.
Modifier read_step(const std::string& name, const Field& s) {
  Modifier m;
  if (name == "smoothquant") {
    m.kind = Modifier::Kind::SmoothQuant;
    s.check_keys({"alpha", "mappings", "ignore"}, true);
    s.get("alpha", m.smoothing_strength);
    if (s["mappings"].given()) m.mappings = read_smooth_mappings(s["mappings"]);
    s.get("ignore", m.mapping_ignore);
  } else if (name == "gptq") {
    m.kind = Modifier::Kind::Gptq;
    s.check_keys({"damp", "block_size", "act_order", "static_groups"}, true);
    s.get("damp", m.dampening_frac);
    s.get("block_size", m.block_size);
    s.get("act_order", m.act_order);
    s.get("static_groups", m.static_groups);
    if (!s["static_groups"].given()) m.static_groups = m.act_order;  // act_order: false alone means off
  } else if (name == "awq") {
    m.kind = Modifier::Kind::Awq;
    s.check_keys({"grid", "clip", "duo_scaling", "mappings"}, true);
    if (s["grid"].given()) m.awq_grid = read_grid(s["grid"]);
    s.get("clip", m.awq_clip);
    s.get("duo_scaling", m.awq_duo_scaling);
    if (s["mappings"].given()) m.mappings = read_awq_mappings(s["mappings"]);
  }
  return m;  // rtn: Kind::Rtn
}

}  // namespace

Recipe parse_flat(const Field& root) {
  root.check_keys({"scheme", "group_size", "methods", "targets", "ignore", "calibration",
                   "smoothquant", "gptq", "awq", "kv_cache", "kv_cache_fp8"});
  int64_t group = -1;
  root.get("group_size", group);
  if (root["group_size"].given() && group < 0)
    root["group_size"].fail("must be > 0, or 0 for per channel; got " + std::to_string(group));
  std::string scheme = "W4A16";
  root.get("scheme", scheme);
  auto parsed = preset(scheme, group);
  if (!parsed) root["scheme"].fail(scheme_problem(scheme));
  Recipe r = *parsed;
  root.get("targets", r.targets);
  if (root["ignore"].present())  // null: ignore nothing
    r.ignore = root["ignore"].given() ? root["ignore"].strings() : std::vector<std::string>{};
  bool fp8 = false;  // kv_cache_fp8: true is the older spelling of kv_cache: fp8
  root.get("kv_cache_fp8", fp8);
  if (fp8) r.kv_cache = KvCacheScheme::Fp8;
  if (root["kv_cache"].given()) {
    const std::string k = root["kv_cache"].string();
    if (k == "fp8") r.kv_cache = KvCacheScheme::Fp8;
    else if (k == "int8") r.kv_cache = KvCacheScheme::Int8;
    else if (k != "none") root["kv_cache"].fail("expected fp8, int8 or none, got '" + k + "'");
  }
  if (root["calibration"].present()) read_calibration(root["calibration"], r);

  const std::vector<std::string> methods = read_methods(root["methods"]);
  for (const char* section : {"smoothquant", "gptq", "awq"}) {
    const bool listed = std::find(methods.begin(), methods.end(), section) != methods.end();
    if (root[section].present() && !listed)
      root[section].fail(std::string("settings given but '") + section + "' is not in methods");
  }
  for (const std::string& name : methods) r.modifiers.push_back(read_step(name, root[name]));
  // Order and combinations are checked with RTN still listed, then RTN (the default) is dropped.
  validate_recipe(r, root.source());
  r.modifiers.erase(std::remove_if(r.modifiers.begin(), r.modifiers.end(),
                                   [](const Modifier& m) { return m.kind == Modifier::Kind::Rtn; }),
                    r.modifiers.end());
  return r;
}

}  // namespace recipe_detail

Recipe parse_recipe_text(const std::string& yaml, const std::string& source) {
  using namespace recipe_detail;
  YAML::Node doc;
  try {
    doc = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    const std::string line = " (line " + std::to_string(e.mark.line + 1) + ")";
    throw Error(source, "YAML syntax error: " + e.msg + line);
  }
  const Field root = Field::root(source, doc);
  if (!root.given()) throw Error(source, "empty recipe");
  if (!root.is_map()) root.fail("a recipe is a map of keys, got " + root.shown());
  Recipe r = is_llmcompressor_layout(doc) ? parse_llmcompressor(root) : parse_flat(root);
  validate_recipe(r, source);
  return r;
}

}  // namespace squish
