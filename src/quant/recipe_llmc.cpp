// llm-compressor's recipe layout: <name>_stage → <name>_modifiers → SmoothQuantModifier,
// AWQModifier, GPTQModifier, QuantizationModifier, with compressed-tensors' QuantizationArgs in
// `scheme` / `config_groups` / `kv_cache_scheme` — the subset squish runs (one scheme, INT2..8 or
// FP8 E4M3 weights, INT8 / FP8 activations per token or static per tensor).
#include <algorithm>
#include <optional>
#include <utility>

#include "recipe_internal.h"

namespace squish::recipe_detail {
namespace {

using Strings = std::vector<std::string>;

const Strings kModifiers = {"SmoothQuantModifier", "AWQModifier", "GPTQModifier",
                            "QuantizationModifier"};
// QuantizationMixin's keys (every modifier that quantizes).
const Strings kQuantKeys = {"scheme", "targets", "ignore", "config_groups", "kv_cache_scheme"};
// Keys llm-compressor has that change nothing in a CPU run.
const Strings kNoEffect = {"offload_hessians", "offload_device", "sequential_targets",
                           "sequential_update"};
// QuantizationScheme's keys.
const Strings kSchemeBody = {"weights", "input_activations", "output_activations", "format"};
// QuantizationArgs keys squish does not implement, and why.
const std::vector<std::pair<std::string, std::string>> kArgsUnsupported = {
    {"block_structure", "block scales"},
    {"observer_kwargs", "observer settings"},
    {"scale_dtype", "scales are FP32 or FP16"},
    {"zp_dtype", "integer zero points"},
    {"scale_format", "FP4 scale formats"}};

Strings concat(Strings a, const Strings& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Fails on keys llm-compressor / compressed-tensors know but squish does not implement.
void reject(const Field& f, const std::vector<std::pair<std::string, std::string>>& unsupported) {
  for (const auto& [key, why] : unsupported)
    if (f[key].present()) f[key].fail("not supported by squish (" + why + ")");
}

// A quantization scheme as one modifier states it.
struct SchemeBlock {
  bool has_scheme = false;
  std::string name;  // preset name, or derived
  QuantSpec weights;
  InputQuant acts = InputQuant::None;
  std::optional<std::string> actorder;  // weights.actorder: "group" | "weight" | "none"
  std::optional<Strings> targets, ignore;
  KvCacheScheme kv = KvCacheScheme::None;
  std::string path;
};

// "group" | "weight" | "none" from compressed-tensors' actorder forms (bool, alias, null).
std::string read_actorder(const Field& f) {
  if (!f.given()) return "none";
  const std::string s = lower(f.string());
  if (s == "group" || s == "dynamic") return "group";
  if (s == "weight" || s == "static") return "weight";
  bool b = false;
  if (YAML::convert<bool>::decode(f.node(), b)) return b ? "group" : "none";
  f.fail("expected weight, static, group, dynamic, a boolean or null; got " + f.shown());
}

// compressed-tensors' strategy, inferred when not given: tensor (no group_size), group (> 0),
// channel (-1).
std::string read_strategy(const Field& f, std::optional<int64_t>& group) {
  const Field g = f["group_size"];
  if (g.given()) {
    group = g.integer();
    if (*group < -1 || *group == 0)
      g.fail("must be > 0 (group) or -1 (channel), got " + std::to_string(*group));
  }
  std::string strategy;
  if (f["strategy"].given()) strategy = lower(f["strategy"].string());
  if (strategy.empty()) strategy = !group ? "tensor" : *group > 0 ? "group" : "channel";
  if (strategy == "group" && (!group || *group <= 0))
    g.fail("strategy group needs a group_size > 0");
  if (strategy != "group" && group && *group > 0) g.fail("a group_size needs strategy: group");
  return strategy;
}

// QuantizationArgs of weights.
QuantSpec read_weight_args(const Field& f, std::optional<std::string>& actorder) {
  reject(f, kArgsUnsupported);
  f.check_keys({"num_bits", "type", "symmetric", "group_size", "strategy", "dynamic", "actorder",
                "observer"});
  QuantSpec w;
  int64_t bits = 8;
  std::string type = "int";
  f.get("num_bits", bits);
  f.get("type", type);
  f.get("symmetric", w.symmetric);
  type = lower(type);
  const std::string got = ", got " + std::to_string(bits);
  if (type == "float") {
    if (bits != 8)
      f["num_bits"].fail("squish supports float weights of 8 bits (FP8 E4M3) only" + got);
    if (!w.symmetric) f["symmetric"].fail("FP8 weights are symmetric");
    w.format = ElementFormat::FP8_E4M3;
  } else if (type == "int") {
    if (bits < 2 || bits > 8) f["num_bits"].fail("squish supports INT2..8 weights" + got);
  } else {
    f["type"].fail("expected int or float, got " + f["type"].shown());
  }
  w.bits = static_cast<int>(bits);
  std::optional<int64_t> group;
  const std::string strategy = read_strategy(f, group);
  if (strategy == "tensor") w.granularity = Granularity::PerTensor;
  else if (strategy == "channel") w.granularity = Granularity::PerChannel;
  else if (strategy == "group") w.granularity = Granularity::PerGroup;
  else
    f["strategy"].fail("weight strategy '" + strategy +
                       "' is not supported by squish (tensor, channel or group)");
  w.group_size = w.granularity == Granularity::PerGroup ? *group : 0;
  bool dynamic = false;
  f.get("dynamic", dynamic);
  if (dynamic) f["dynamic"].fail("dynamic weight quantization is not supported");
  if (f["actorder"].present()) actorder = read_actorder(f["actorder"]);
  w.method = w.symmetric ? ScaleMethod::AbsMax : ScaleMethod::MinMax;
  if (f["observer"].given()) {
    const std::string obs = lower(f["observer"].string());
    if (obs == "mse" || obs == "memoryless_mse") w.method = ScaleMethod::MseClip;
    else if (obs != "minmax" && obs != "memoryless_minmax" && obs != "static_minmax" &&
             obs != "memoryless")
      f["observer"].fail("unsupported observer '" + obs + "' (minmax or mse)");
  }
  return w;
}

// QuantizationArgs of input activations (null: none).
InputQuant read_input_args(const Field& f) {
  if (!f.given()) return InputQuant::None;
  reject(f, kArgsUnsupported);
  if (f["actorder"].present()) f["actorder"].fail("cannot apply actorder to input activations");
  f.check_keys({"num_bits", "type", "symmetric", "group_size", "strategy", "dynamic", "observer"});
  int64_t bits = 8;
  std::string type = "int";
  bool symmetric = true, dynamic = false;
  f.get("num_bits", bits);
  f.get("type", type);
  f.get("symmetric", symmetric);
  f.get("dynamic", dynamic);
  type = lower(type);
  if (bits != 8)
    f["num_bits"].fail("squish quantizes activations to 8 bits only, got " + std::to_string(bits));
  if (type != "int" && type != "float")
    f["type"].fail("expected int or float, got " + f["type"].shown());
  if (!symmetric) f["symmetric"].fail("asymmetric activation quantization is not supported");
  std::optional<int64_t> group;
  const std::string strategy = read_strategy(f, group);
  const bool fp8 = type == "float";
  if (strategy == "token") {
    if (!dynamic) f["dynamic"].fail("per-token activation quantization must be dynamic: true");
    return fp8 ? InputQuant::Fp8PerToken : InputQuant::Int8PerToken;
  }
  if (strategy == "tensor") {
    if (dynamic)
      f["dynamic"].fail(
          "dynamic per-tensor activation quantization is not supported (use strategy: token)");
    return fp8 ? InputQuant::Fp8Static : InputQuant::Int8Static;
  }
  f["strategy"].fail("activation strategy '" + strategy +
                     "' is not supported by squish (token or tensor)");
}

// kv_cache_scheme: FP8 E4M3 or INT8 with a static per-tensor scale, the ones squish calibrates.
KvCacheScheme read_kv_scheme(const Field& f) {
  if (!f.given()) return KvCacheScheme::None;
  f.check_keys({"num_bits", "type", "symmetric", "strategy", "dynamic", "observer"});
  int64_t bits = 8;
  std::string type, strategy = "tensor";
  bool symmetric = true, dynamic = false;
  f.get("num_bits", bits);
  f.get("type", type);
  f.get("strategy", strategy);
  f.get("symmetric", symmetric);
  f.get("dynamic", dynamic);
  if (bits != 8 || (lower(type) != "float" && lower(type) != "int") || lower(strategy) != "tensor" ||
      !symmetric || dynamic)
    f.fail("squish calibrates FP8 / INT8 KV caches with static per-tensor scales only (num_bits: 8, "
           "type: float | int, strategy: tensor, dynamic: false)");
  return lower(type) == "float" ? KvCacheScheme::Fp8 : KvCacheScheme::Int8;
}

// A QuantizationScheme body: weights, input_activations, output_activations, format.
void read_scheme_body(const Field& f, SchemeBlock& b, const Strings& extra_keys) {
  f.check_keys(concat(kSchemeBody, extra_keys));
  if (!f["weights"].given()) f["weights"].fail("missing: squish recipes quantize weights");
  b.weights = read_weight_args(f["weights"], b.actorder);
  b.acts = read_input_args(f["input_activations"]);
  if (f["output_activations"].given())
    f["output_activations"].fail("output activation quantization is not supported");
  if (f["format"].given()) f["format"].string();  // the checkpoint's packing: no effect here
  b.name = scheme_name_of(b.weights, b.acts);
  b.has_scheme = true;
}

void use_preset(const Field& at, const std::string& name, SchemeBlock& b) {
  const auto p = preset(name, -1);
  if (!p) at.fail(scheme_problem(name));
  b.has_scheme = true;
  b.name = p->scheme;
  b.weights = p->weights;
  b.acts = p->activations;
}

// `scheme`: a preset name, {PRESET: targets}, or a QuantizationScheme body.
void read_scheme(const Field& f, SchemeBlock& b) {
  if (f.node().IsScalar()) return use_preset(f, f.string(), b);
  const Strings keys = f.keys();
  const bool body = std::any_of(keys.begin(), keys.end(), [](const std::string& k) {
    return std::count(kSchemeBody.begin(), kSchemeBody.end(), k) > 0;
  });
  if (body) return read_scheme_body(f, b, {});
  if (keys.size() != 1)
    f.fail("squish runs one scheme per recipe, got " + std::to_string(keys.size()));
  use_preset(f[keys[0]], keys[0], b);
  b.targets = f[keys[0]].strings();
}

// `config_groups`: exactly one group {targets, weights, input_activations, ...}.
void read_config_groups(const Field& f, SchemeBlock& b) {
  const Strings keys = f.keys();
  if (keys.size() != 1)
    f.fail("squish runs one config group per recipe, got " + std::to_string(keys.size()));
  const Field g = f[keys[0]];
  read_scheme_body(g, b, {"targets"});
  if (!g["targets"].given()) g["targets"].fail("missing (e.g. targets: [Linear])");
  b.targets = g["targets"].strings();
}

// QuantizationMixin's keys of one modifier.
SchemeBlock read_scheme_block(const Field& args) {
  SchemeBlock b;
  b.path = args.path();
  if (!args.given()) return b;
  if (args["targets"].given()) b.targets = args["targets"].strings();
  if (args["ignore"].present())  // null: ignore nothing
    b.ignore = args["ignore"].given() ? args["ignore"].strings() : Strings{};
  b.kv = read_kv_scheme(args["kv_cache_scheme"]);
  const Field scheme = args["scheme"], groups = args["config_groups"];
  if (scheme.given() && groups.given())
    groups.fail("give either scheme or config_groups, not both");
  if (scheme.given()) read_scheme(scheme, b);
  if (groups.given()) read_config_groups(groups, b);
  return b;
}

// GPTQModifier.actorder as llm-compressor applies it: only grouped weights take it (an explicit
// value must agree with the scheme's weights.actorder; unset means "static", i.e. weight);
// other strategies keep their weights.actorder ("group" needs groups).
void resolve_actorder(const Field& args, const SchemeBlock& scheme, Modifier& m) {
  std::optional<std::string> mine;
  if (args["actorder"].present()) mine = read_actorder(args["actorder"]);
  std::string order = scheme.actorder.value_or("none");
  if (scheme.weights.granularity == Granularity::PerGroup) {
    if (mine && scheme.actorder && *mine != *scheme.actorder)
      args["actorder"].fail("'" + *mine + "' differs from the scheme's weights.actorder '" +
                            *scheme.actorder + "'");
    order = mine ? *mine : scheme.actorder.value_or("weight");
  } else if (order == "group") {
    args.fail("weights.actorder: group needs strategy: group");
  }
  m.act_order = order != "none";
  m.static_groups = order == "weight";
}

// The modifiers' schemes combined: one scheme for the whole recipe.
struct Combined {
  SchemeBlock scheme;
  KvCacheScheme kv = KvCacheScheme::None;
  std::string quantized_at;  // path of the first modifier that quantizes the weights
};

void merge_scheme(const Field& args, SchemeBlock b, Combined& c) {
  if (b.kv != KvCacheScheme::None) c.kv = b.kv;
  const SchemeBlock& a = c.scheme;
  if (!b.has_scheme) {
    const auto differs = [](const auto& x, const auto& y) { return x && y && *x != *y; };
    if (a.has_scheme && (differs(b.targets, a.targets) || differs(b.ignore, a.ignore)))
      args.fail("targets / ignore differ from the scheme's in " + a.path);
    return;
  }
  if (!a.has_scheme) {
    c.scheme = std::move(b);
    return;
  }
  const Strings linear = {"Linear"}, none;
  const bool same = a.name == b.name && describe(a.weights) == describe(b.weights) &&
                    a.acts == b.acts && a.targets.value_or(linear) == b.targets.value_or(linear) &&
                    a.ignore.value_or(none) == b.ignore.value_or(none);
  if (!same)
    args.fail("scheme " + b.name + " conflicts with " + a.name + " set in " + a.path +
              " (squish runs one scheme per recipe)");
}

Modifier read_smoothquant(const Field& args) {
  reject(args, {{"num_calibration_steps", "set calibration.samples"},
                {"calibration_function", "Python callables"}});
  args.check_keys({"smoothing_strength", "mappings", "ignore"}, true);
  Modifier m;
  m.kind = Modifier::Kind::SmoothQuant;
  args.get("smoothing_strength", m.smoothing_strength);
  if (args["mappings"].given()) m.mappings = read_smooth_mappings(args["mappings"]);
  if (args["ignore"].given()) m.mapping_ignore = args["ignore"].strings();
  return m;
}

void read_modifier(const std::string& type, const Field& args, Recipe& r, Combined& c) {
  if (std::find(kModifiers.begin(), kModifiers.end(), type) == kModifiers.end()) {
    const auto near = nearest(type, kModifiers);
    const std::string hint = near.empty() ? "" : "; did you mean " + join_or(near) + "?";
    args.fail("unknown modifier '" + type + "'" + hint + " (squish supports " +
              join_or(kModifiers) + ")");
  }
  const bool is_awq = type == "AWQModifier", is_gptq = type == "GPTQModifier";
  if ((is_awq || type == "SmoothQuantModifier") && !c.quantized_at.empty())
    args.fail(type + " must come before the modifier that quantizes the weights (" +
              c.quantized_at + ")");
  if (type == "SmoothQuantModifier") {
    r.modifiers.push_back(read_smoothquant(args));
    return;
  }
  Strings known = concat(kQuantKeys, kNoEffect);
  if (is_awq) known = concat(known, {"mappings", "duo_scaling", "n_grid"});
  if (is_gptq) known = concat(known, {"dampening_frac", "block_size", "actorder"});
  args.check_keys(known, true);
  SchemeBlock block = read_scheme_block(args);
  const bool kv_only = type == "QuantizationModifier" && !block.has_scheme && block.kv != KvCacheScheme::None;
  merge_scheme(args, std::move(block), c);
  Modifier m;
  if (is_awq) {
    m.kind = Modifier::Kind::Awq;
    if (args["mappings"].given()) m.mappings = read_awq_mappings(args["mappings"]);
    args.get("duo_scaling", m.awq_duo_scaling);
    if (args["n_grid"].present()) m.awq_grid = read_grid(args["n_grid"]);
    r.modifiers.push_back(m);
    return;  // its scheme may come from a later modifier
  }
  if (kv_only && !c.scheme.has_scheme) return;  // a QuantizationModifier for the KV cache alone
  if (!c.scheme.has_scheme)
    args.fail(
        "no quantization scheme: give scheme or config_groups here or in an earlier modifier");
  if (is_gptq) {
    m.kind = Modifier::Kind::Gptq;
    args.get("dampening_frac", m.dampening_frac);
    args.get("block_size", m.block_size);
    resolve_actorder(args, c.scheme, m);
    r.modifiers.push_back(m);
  }
  if (c.quantized_at.empty()) c.quantized_at = args.path();
}

// One <name>_modifiers map, in document order.
void read_group(const Field& group, Recipe& r, Combined& c) {
  for (const std::string& type : group.keys()) read_modifier(type, group[type], r, c);
}

}  // namespace

bool is_llmcompressor_layout(const YAML::Node& root) {
  for (const auto& kv : root) {
    const std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "";
    if (ends_with(k, "_stage") || ends_with(k, "_modifiers")) return true;
  }
  return false;
}

Recipe parse_llmcompressor(const Field& root) {
  Recipe r;
  Combined c;
  for (const std::string& key : root.keys()) {
    const Field v = root[key];
    if (key == "version") {
      v.string();
    } else if (key == "calibration") {
      read_calibration(v, r);
    } else if (ends_with(key, "_modifiers")) {
      read_group(v, r, c);
    } else if (ends_with(key, "_stage")) {
      for (const std::string& g : v.keys()) {
        if (ends_with(g, "_modifiers")) read_group(v[g], r, c);
        else if (g == "run_type") v[g].string();
        else v.fail("unknown key '" + g + "' (a stage holds <name>_modifiers groups)");
      }
    } else if (key == "args") {
      v.fail("not supported by squish (recipe variables)");
    } else {
      root.fail("unknown key '" + key +
                "' (an llm-compressor recipe holds version, <name>_stage and, for squish, "
                "calibration)");
    }
  }
  if (!c.scheme.has_scheme)
    root.fail("no modifier sets a quantization scheme (QuantizationModifier, GPTQModifier or "
              "AWQModifier with scheme or config_groups)");
  r.scheme = c.scheme.name;
  r.weights = c.scheme.weights;
  r.activations = c.scheme.acts;
  if (c.scheme.targets) r.targets = *c.scheme.targets;
  if (c.scheme.ignore) r.ignore = *c.scheme.ignore;
  r.kv_cache = c.kv;
  return r;
}

}  // namespace squish::recipe_detail
