// llm-compressor's recipe layout: <name>_stage → <name>_modifiers → SmoothQuantModifier,
// AWQModifier, GPTQModifier, QuantizationModifier, with compressed-tensors' QuantizationArgs in
// `scheme` / `config_groups` / `kv_cache_scheme` — the subset squish runs (one scheme, INT2..8 or
// FP8 E4M3 weights, INT8 / FP8 activations per token or static per tensor).
#include <algorithm>
#include <optional>

#include "recipe_internal.h"
#include "squish/common/error.h"

namespace squish::recipe_detail {
namespace {

const std::vector<std::string> kModifiers = {"SmoothQuantModifier", "AWQModifier", "GPTQModifier",
                                             "QuantizationModifier"};
// QuantizationMixin's keys (every modifier that quantizes).
const std::vector<std::string> kQuantKeys = {"scheme", "targets", "ignore", "config_groups", "kv_cache_scheme"};
// Keys llm-compressor has that change nothing in a CPU run.
const std::vector<std::string> kNoEffect = {"offload_hessians", "offload_device", "sequential_targets",
                                            "sequential_update"};

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Fails on keys llm-compressor / compressed-tensors know but squish does not implement.
void reject(const Reader& rd, const YAML::Node& n, const std::string& path,
            const std::vector<std::pair<std::string, std::string>>& unsupported) {
  if (!n.IsDefined() || !n.IsMap()) return;
  for (const auto& [key, why] : unsupported)
    if (n[key]) rd.fail(n[key], Reader::at(path, key), "not supported by squish (" + why + ")");
}

// A quantization scheme as one modifier states it.
struct SchemeBlock {
  bool has_scheme = false;
  std::string name;  // preset name, or derived
  QuantSpec weights;
  InputQuant acts = InputQuant::None;
  std::optional<std::string> actorder;  // weights.actorder of config_groups: "group" | "weight" | "none"
  std::optional<std::vector<std::string>> targets, ignore;
  bool kv_fp8 = false;
  std::string path;
};

// "group" | "weight" | "none" from compressed-tensors' actorder forms (bool, alias, null).
std::string read_actorder(const Reader& rd, const YAML::Node& n, const std::string& path) {
  if (n.IsNull()) return "none";
  const std::string s = lower(rd.string(n, path));
  if (s == "group" || s == "dynamic") return "group";
  if (s == "weight" || s == "static") return "weight";
  bool b = false;
  if (YAML::convert<bool>::decode(n, b)) return b ? "group" : "none";
  rd.fail(n, path, "expected weight, static, group, dynamic, a boolean or null; got " + shown(n));
}

// compressed-tensors' strategy inference: none given → tensor (no group_size), group (> 0),
// channel (-1).
std::string read_strategy(const Reader& rd, const YAML::Node& n, const std::string& path,
                          std::optional<int64_t>& group) {
  if (n["group_size"] && !n["group_size"].IsNull()) {
    group = rd.integer(n["group_size"], Reader::at(path, "group_size"));
    if (*group < -1 || *group == 0)
      rd.fail(n["group_size"], Reader::at(path, "group_size"), "must be > 0 (group) or -1 (channel), got " + std::to_string(*group));
  }
  std::string strategy;
  if (n["strategy"] && !n["strategy"].IsNull()) strategy = lower(rd.string(n["strategy"], Reader::at(path, "strategy")));
  if (strategy.empty()) strategy = !group ? "tensor" : *group > 0 ? "group" : "channel";
  if (strategy == "group" && (!group || *group <= 0))
    rd.fail(n, Reader::at(path, "group_size"), "strategy group needs a group_size > 0");
  if (strategy != "group" && group && *group > 0)
    rd.fail(n["group_size"], Reader::at(path, "group_size"), "a group_size needs strategy: group");
  return strategy;
}

const std::vector<std::pair<std::string, std::string>> kArgsUnsupported = {
    {"block_structure", "block scales"},       {"observer_kwargs", "observer settings"},
    {"scale_dtype", "scales are FP32 or FP16"}, {"zp_dtype", "integer zero points"},
    {"scale_format", "FP4 scale formats"}};

// QuantizationArgs of weights.
QuantSpec read_weight_args(const Reader& rd, const YAML::Node& n, const std::string& path,
                           std::optional<std::string>& actorder) {
  reject(rd, n, path, kArgsUnsupported);
  rd.check_map(n, path, {"num_bits", "type", "symmetric", "group_size", "strategy", "dynamic", "actorder", "observer"});
  QuantSpec w;
  const int64_t bits = n["num_bits"] ? rd.integer(n["num_bits"], Reader::at(path, "num_bits")) : 8;
  const std::string type = n["type"] ? lower(rd.string(n["type"], Reader::at(path, "type"))) : "int";
  w.symmetric = n["symmetric"] ? rd.boolean(n["symmetric"], Reader::at(path, "symmetric")) : true;
  if (type == "float") {
    if (bits != 8) rd.fail(n["num_bits"], Reader::at(path, "num_bits"), "squish supports float weights of 8 bits (FP8 E4M3) only, got " + std::to_string(bits));
    if (!w.symmetric) rd.fail(n["symmetric"], Reader::at(path, "symmetric"), "FP8 weights are symmetric");
    w.format = ElementFormat::FP8_E4M3;
  } else if (type == "int") {
    if (bits < 2 || bits > 8) rd.fail(n["num_bits"], Reader::at(path, "num_bits"), "squish supports INT2..8 weights, got " + std::to_string(bits));
  } else {
    rd.fail(n["type"], Reader::at(path, "type"), "expected int or float, got " + shown(n["type"]));
  }
  w.bits = static_cast<int>(bits);
  std::optional<int64_t> group;
  const std::string strategy = read_strategy(rd, n, path, group);
  if (strategy == "tensor") {
    w.granularity = Granularity::PerTensor;
  } else if (strategy == "channel") {
    w.granularity = Granularity::PerChannel;
  } else if (strategy == "group") {
    w.granularity = Granularity::PerGroup;
  } else {
    rd.fail(n["strategy"], Reader::at(path, "strategy"), "weight strategy '" + strategy + "' is not supported by squish (tensor, channel or group)");
  }
  w.group_size = w.granularity == Granularity::PerGroup ? *group : 0;
  if (n["dynamic"] && rd.boolean(n["dynamic"], Reader::at(path, "dynamic")))
    rd.fail(n["dynamic"], Reader::at(path, "dynamic"), "dynamic weight quantization is not supported");
  if (n["actorder"]) actorder = read_actorder(rd, n["actorder"], Reader::at(path, "actorder"));
  w.method = w.symmetric ? ScaleMethod::AbsMax : ScaleMethod::MinMax;
  if (n["observer"] && !n["observer"].IsNull()) {
    const std::string obs = lower(rd.string(n["observer"], Reader::at(path, "observer")));
    if (obs == "mse" || obs == "memoryless_mse") {
      w.method = ScaleMethod::MseClip;
    } else if (obs != "minmax" && obs != "memoryless_minmax" && obs != "static_minmax" && obs != "memoryless") {
      rd.fail(n["observer"], Reader::at(path, "observer"), "unsupported observer '" + obs + "' (minmax or mse)");
    }
  }
  return w;
}

// QuantizationArgs of input activations (null: none).
InputQuant read_input_args(const Reader& rd, const YAML::Node& n, const std::string& path) {
  if (n.IsNull()) return InputQuant::None;
  reject(rd, n, path, kArgsUnsupported);
  if (n.IsMap() && n["actorder"]) rd.fail(n["actorder"], Reader::at(path, "actorder"), "cannot apply actorder to input activations");
  rd.check_map(n, path, {"num_bits", "type", "symmetric", "group_size", "strategy", "dynamic", "observer"});
  const int64_t bits = n["num_bits"] ? rd.integer(n["num_bits"], Reader::at(path, "num_bits")) : 8;
  if (bits != 8) rd.fail(n["num_bits"], Reader::at(path, "num_bits"), "squish quantizes activations to 8 bits only, got " + std::to_string(bits));
  const std::string type = n["type"] ? lower(rd.string(n["type"], Reader::at(path, "type"))) : "int";
  if (type != "int" && type != "float") rd.fail(n["type"], Reader::at(path, "type"), "expected int or float, got " + shown(n["type"]));
  if (n["symmetric"] && !rd.boolean(n["symmetric"], Reader::at(path, "symmetric")))
    rd.fail(n["symmetric"], Reader::at(path, "symmetric"), "asymmetric activation quantization is not supported");
  const bool dynamic = n["dynamic"] ? rd.boolean(n["dynamic"], Reader::at(path, "dynamic")) : false;
  std::optional<int64_t> group;
  const std::string strategy = read_strategy(rd, n, path, group);
  const bool fp8 = type == "float";
  if (strategy == "token") {
    if (!dynamic) rd.fail(n, Reader::at(path, "dynamic"), "per-token activation quantization must be dynamic: true");
    return fp8 ? InputQuant::Fp8PerToken : InputQuant::Int8PerToken;
  }
  if (strategy == "tensor") {
    if (dynamic) rd.fail(n["dynamic"], Reader::at(path, "dynamic"), "dynamic per-tensor activation quantization is not supported (use strategy: token)");
    return fp8 ? InputQuant::Fp8Static : InputQuant::Int8Static;
  }
  rd.fail(n["strategy"] ? n["strategy"] : n, Reader::at(path, "strategy"),
          "activation strategy '" + strategy + "' is not supported by squish (token or tensor)");
}

// kv_cache_scheme: FP8 E4M3 with a static per-tensor scale is the one squish calibrates.
bool read_kv_scheme(const Reader& rd, const YAML::Node& n, const std::string& path) {
  if (n.IsNull()) return false;
  rd.check_map(n, path, {"num_bits", "type", "symmetric", "strategy", "dynamic", "observer"});
  const bool ok = (!n["num_bits"] || rd.integer(n["num_bits"], Reader::at(path, "num_bits")) == 8) &&
                  (n["type"] && lower(rd.string(n["type"], Reader::at(path, "type"))) == "float") &&
                  (!n["symmetric"] || rd.boolean(n["symmetric"], Reader::at(path, "symmetric"))) &&
                  (!n["strategy"] || lower(rd.string(n["strategy"], Reader::at(path, "strategy"))) == "tensor") &&
                  (!n["dynamic"] || !rd.boolean(n["dynamic"], Reader::at(path, "dynamic")));
  if (!ok) rd.fail(n, path, "squish calibrates FP8 KV caches only (num_bits: 8, type: float, strategy: tensor, dynamic: false)");
  return true;
}

// A QuantizationScheme body: weights, input_activations, output_activations, format.
void read_scheme_body(const Reader& rd, const YAML::Node& n, const std::string& path, SchemeBlock& b,
                      const std::vector<std::string>& extra_keys) {
  rd.check_map(n, path, concat({"weights", "input_activations", "output_activations", "format"}, extra_keys));
  if (!n["weights"] || n["weights"].IsNull())
    rd.fail(n, Reader::at(path, "weights"), "missing: squish recipes quantize weights");
  b.weights = read_weight_args(rd, n["weights"], Reader::at(path, "weights"), b.actorder);
  if (n["input_activations"]) b.acts = read_input_args(rd, n["input_activations"], Reader::at(path, "input_activations"));
  if (n["output_activations"] && !n["output_activations"].IsNull())
    rd.fail(n["output_activations"], Reader::at(path, "output_activations"), "output activation quantization is not supported");
  if (n["format"] && !n["format"].IsNull()) rd.string(n["format"], Reader::at(path, "format"));
  b.name = scheme_name_of(b.weights, b.acts);
  b.has_scheme = true;
}

void use_preset(const Reader& rd, const YAML::Node& at, const std::string& path, const std::string& name, SchemeBlock& b) {
  const auto p = preset(name, -1);
  if (!p) rd.fail(at, path, scheme_problem(name));
  b.has_scheme = true;
  b.name = p->scheme;
  b.weights = p->weights;
  b.acts = p->activations;
}

// QuantizationMixin's keys of one modifier.
SchemeBlock read_scheme_block(const Reader& rd, const YAML::Node& args, const std::string& path) {
  SchemeBlock b;
  b.path = path;
  if (!args.IsDefined() || args.IsNull()) return b;
  if (args["targets"]) b.targets = rd.strings(args["targets"], Reader::at(path, "targets"));
  if (args["ignore"]) b.ignore = args["ignore"].IsNull() ? std::vector<std::string>{} : rd.strings(args["ignore"], Reader::at(path, "ignore"));
  if (args["kv_cache_scheme"]) b.kv_fp8 = read_kv_scheme(rd, args["kv_cache_scheme"], Reader::at(path, "kv_cache_scheme"));
  const YAML::Node scheme = args["scheme"], groups = args["config_groups"];
  const bool has_scheme = scheme && !scheme.IsNull(), has_groups = groups && !groups.IsNull();
  if (has_scheme && has_groups) rd.fail(groups, Reader::at(path, "config_groups"), "give either scheme or config_groups, not both");
  const std::string sp = Reader::at(path, "scheme");
  if (has_scheme && scheme.IsScalar()) {
    use_preset(rd, scheme, sp, scheme.Scalar(), b);
  } else if (has_scheme) {
    const auto keys = rd.keys(scheme, sp);
    const std::vector<std::string> body = {"weights", "input_activations", "output_activations", "format"};
    if (std::any_of(keys.begin(), keys.end(), [&](const std::string& k) { return std::count(body.begin(), body.end(), k) > 0; })) {
      read_scheme_body(rd, scheme, sp, b, {});
    } else {
      // {PRESET: targets}
      if (keys.size() != 1) rd.fail(scheme, sp, "squish runs one scheme per recipe, got " + std::to_string(keys.size()));
      use_preset(rd, scheme, Reader::at(sp, keys[0]), keys[0], b);
      b.targets = rd.strings(scheme[keys[0]], Reader::at(sp, keys[0]));
    }
  } else if (has_groups) {
    const std::string gp = Reader::at(path, "config_groups");
    const auto keys = rd.keys(groups, gp);
    if (keys.size() != 1) rd.fail(groups, gp, "squish runs one config group per recipe, got " + std::to_string(keys.size()));
    const YAML::Node g = groups[keys[0]];
    const std::string p = Reader::at(gp, keys[0]);
    read_scheme_body(rd, g, p, b, {"targets"});
    if (!g["targets"]) rd.fail(g, Reader::at(p, "targets"), "missing (e.g. targets: [Linear])");
    b.targets = rd.strings(g["targets"], Reader::at(p, "targets"));
  }
  return b;
}

// Applies GPTQModifier.actorder like llm-compressor: only grouped weights take it (an explicit
// value must agree with the scheme's weights.actorder; unset means "static", i.e. weight);
// other strategies keep their weights.actorder ("group" needs groups).
void resolve_actorder(const Reader& rd, const YAML::Node& args, const std::string& path, const SchemeBlock& scheme,
                      Modifier& m) {
  std::optional<std::string> mine;
  if (args.IsDefined() && args.IsMap() && args["actorder"]) mine = read_actorder(rd, args["actorder"], Reader::at(path, "actorder"));
  std::string order = scheme.actorder.value_or("none");
  if (scheme.weights.granularity == Granularity::PerGroup) {
    if (mine && scheme.actorder && *mine != *scheme.actorder)
      rd.fail(args["actorder"], Reader::at(path, "actorder"),
              "'" + *mine + "' differs from the scheme's weights.actorder '" + *scheme.actorder + "'");
    order = mine ? *mine : scheme.actorder.value_or("weight");
  } else if (order == "group") {
    rd.fail(args, scheme.path, "weights.actorder: group needs strategy: group");
  }
  m.act_order = order != "none";
  m.static_groups = order == "weight";
}

// Combines the modifiers' schemes: one scheme for the whole recipe.
struct Combined {
  SchemeBlock scheme;
  bool kv_fp8 = false;
  std::string quantized_at;  // path of the first modifier that quantizes the weights
};

void merge_scheme(const Reader& rd, const YAML::Node& at, SchemeBlock b, Combined& c) {
  c.kv_fp8 = c.kv_fp8 || b.kv_fp8;
  if (!b.has_scheme) {
    const auto differs = [](const auto& mine, const auto& theirs) { return mine && theirs && *mine != *theirs; };
    if (c.scheme.has_scheme && (differs(b.targets, c.scheme.targets) || differs(b.ignore, c.scheme.ignore)))
      rd.fail(at, b.path, "targets / ignore differ from the scheme's in " + c.scheme.path);
    return;
  }
  if (c.scheme.has_scheme) {
    const SchemeBlock& a = c.scheme;
    const std::vector<std::string> linear = {"Linear"}, none;
    const bool same = a.name == b.name && describe(a.weights) == describe(b.weights) && a.acts == b.acts &&
                      a.targets.value_or(linear) == b.targets.value_or(linear) &&
                      a.ignore.value_or(none) == b.ignore.value_or(none);
    if (!same)
      rd.fail(at, b.path, "scheme " + b.name + " conflicts with " + a.name + " set in " + a.path +
                              " (squish runs one scheme per recipe)");
    return;
  }
  c.scheme = std::move(b);
}

void read_modifier(const Reader& rd, const std::string& type, const YAML::Node& args, const std::string& path,
                   Recipe& r, Combined& c) {
  const bool is_sq = type == "SmoothQuantModifier", is_awq = type == "AWQModifier", is_gptq = type == "GPTQModifier";
  if (!is_sq && !is_awq && !is_gptq && type != "QuantizationModifier") {
    const auto near = nearest(type, kModifiers);
    rd.fail(args, path, "unknown modifier '" + type + "'" + (near.empty() ? "" : "; did you mean " + join_or(near) + "?") +
                            " (squish supports " + join_or(kModifiers) + ")");
  }
  if ((is_sq || is_awq) && !c.quantized_at.empty())
    rd.fail(args, path, type + " must come before the modifier that quantizes the weights (" + c.quantized_at + ")");
  Modifier m;
  if (is_sq) {
    reject(rd, args, path, {{"num_calibration_steps", "set calibration.samples"}, {"calibration_function", "Python callables"}});
    rd.check_map(args, path, {"smoothing_strength", "mappings", "ignore"}, true);
    m.kind = Modifier::Kind::SmoothQuant;
    if (args && args["smoothing_strength"]) m.smoothing_strength = rd.number(args["smoothing_strength"], Reader::at(path, "smoothing_strength"));
    if (args && args["mappings"] && !args["mappings"].IsNull()) m.mappings = read_smooth_mappings(rd, args["mappings"], Reader::at(path, "mappings"));
    if (args && args["ignore"] && !args["ignore"].IsNull()) m.mapping_ignore = rd.strings(args["ignore"], Reader::at(path, "ignore"));
    r.modifiers.push_back(m);
    return;
  }
  std::vector<std::string> known = concat(kQuantKeys, kNoEffect);
  if (is_awq) known = concat(known, {"mappings", "duo_scaling", "n_grid"});
  if (is_gptq) known = concat(known, {"dampening_frac", "block_size", "actorder"});
  rd.check_map(args, path, known, true);
  const bool has_args = args.IsDefined() && args.IsMap();
  SchemeBlock block = read_scheme_block(rd, args, path);
  const bool kv_only = !block.has_scheme && block.kv_fp8 && !is_awq && !is_gptq;
  merge_scheme(rd, args, std::move(block), c);
  if (kv_only && !c.scheme.has_scheme) return;  // a QuantizationModifier for the KV cache alone
  if (is_awq) {
    m.kind = Modifier::Kind::Awq;
    if (has_args && args["mappings"] && !args["mappings"].IsNull()) m.mappings = read_awq_mappings(rd, args["mappings"], Reader::at(path, "mappings"));
    if (has_args && args["duo_scaling"]) m.awq_duo_scaling = rd.boolean(args["duo_scaling"], Reader::at(path, "duo_scaling"));
    if (has_args && args["n_grid"]) {
      const int64_t g = rd.integer(args["n_grid"], Reader::at(path, "n_grid"));
      if (g < 1 || g > 1000) rd.fail(args["n_grid"], Reader::at(path, "n_grid"), "must be 1..1000, got " + std::to_string(g));
      m.awq_grid = static_cast<int>(g);
    }
    r.modifiers.push_back(m);
    return;
  }
  if (!c.scheme.has_scheme)
    rd.fail(args, path, "no quantization scheme: give scheme or config_groups here or in an earlier modifier");
  if (is_gptq) {
    m.kind = Modifier::Kind::Gptq;
    if (has_args && args["dampening_frac"]) m.dampening_frac = rd.number(args["dampening_frac"], Reader::at(path, "dampening_frac"));
    if (has_args && args["block_size"]) m.block_size = rd.integer(args["block_size"], Reader::at(path, "block_size"));
    resolve_actorder(rd, args, path, c.scheme, m);
    r.modifiers.push_back(m);
  }
  if (c.quantized_at.empty()) c.quantized_at = path;
}

// One <name>_modifiers map, in document order.
void read_group(const Reader& rd, const YAML::Node& group, const std::string& path, Recipe& r, Combined& c) {
  for (const std::string& type : rd.keys(group, path)) read_modifier(rd, type, group[type], Reader::at(path, type), r, c);
}

}  // namespace

std::vector<SmoothMapping> read_awq_mappings(const Reader& rd, const YAML::Node& n, const std::string& path) {
  if (!n.IsSequence()) rd.fail(n, path, "expected a list of {smooth_layer, balance_layers}, got " + shown(n));
  std::vector<SmoothMapping> out;
  for (size_t i = 0; i < n.size(); ++i) {
    const std::string p = path + "[" + std::to_string(i) + "]";
    rd.check_map(n[i], p, {"smooth_layer", "balance_layers"});
    if (!n[i]["smooth_layer"] || !n[i]["balance_layers"]) rd.fail(n[i], p, "needs smooth_layer and balance_layers");
    SmoothMapping m;
    m.smooth = rd.string(n[i]["smooth_layer"], Reader::at(p, "smooth_layer"));
    m.balance = rd.strings(n[i]["balance_layers"], Reader::at(p, "balance_layers"));
    if (m.balance.empty()) rd.fail(n[i]["balance_layers"], Reader::at(p, "balance_layers"), "no balance layers");
    out.push_back(std::move(m));
  }
  return out;
}

bool is_llmcompressor_layout(const YAML::Node& root) {
  for (const auto& kv : root)
    if (kv.first.IsScalar() && (ends_with(kv.first.Scalar(), "_stage") || ends_with(kv.first.Scalar(), "_modifiers")))
      return true;
  return false;
}

Recipe parse_llmcompressor(const Reader& rd, const YAML::Node& root) {
  Recipe r;
  Combined c;
  for (const std::string& key : rd.keys(root, "")) {
    const YAML::Node v = root[key];
    if (key == "version") {
      rd.string(v, key);
    } else if (key == "calibration") {
      read_calibration(rd, v, key, r);
    } else if (ends_with(key, "_modifiers")) {
      read_group(rd, v, key, r, c);
    } else if (ends_with(key, "_stage")) {
      for (const std::string& g : rd.keys(v, key)) {
        if (ends_with(g, "_modifiers")) read_group(rd, v[g], Reader::at(key, g), r, c);
        else if (g == "run_type") rd.string(v[g], Reader::at(key, g));
        else rd.fail(v[g], key, "unknown key '" + g + "' (a stage holds <name>_modifiers groups)");
      }
    } else if (key == "args") {
      rd.fail(v, key, "not supported by squish (recipe variables)");
    } else {
      rd.fail(v, "", "unknown key '" + key + "' (an llm-compressor recipe holds version, <name>_stage and, for squish, calibration)");
    }
  }
  if (!c.scheme.has_scheme)
    rd.fail(root, "", "no modifier sets a quantization scheme (QuantizationModifier, GPTQModifier or AWQModifier with scheme or config_groups)");
  r.scheme = c.scheme.name;
  r.weights = c.scheme.weights;
  r.activations = c.scheme.acts;
  if (c.scheme.targets) r.targets = *c.scheme.targets;
  if (c.scheme.ignore) r.ignore = *c.scheme.ignore;
  r.kv_cache_fp8 = c.kv_fp8;
  return r;
}

}  // namespace squish::recipe_detail
