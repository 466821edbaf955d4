// Recipe checks (without and with a model), which linears a recipe quantizes, its one-line
// description, and reading a recipe file.
#include "squish/quant/recipe.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <sstream>
#include <unordered_map>

#include "recipe_internal.h"
#include "squish/common/error.h"
#include "squish/common/name_pattern.h"

namespace squish {
namespace {

using Kind = Modifier::Kind;
using recipe_detail::ends_with;

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Rtn: return "rtn";
    case Kind::Gptq: return "gptq";
    case Kind::Awq: return "awq";
    case Kind::SmoothQuant: return "smoothquant";
  }
  return "?";
}

bool is_regex(const std::string& p) { return p.rfind("re:", 0) == 0; }

std::string strip_weight(const std::string& gguf) {
  return ends_with(gguf, ".weight") ? gguf.substr(0, gguf.size() - 7) : gguf;
}

bool is_lm_head(const RecipeTensor& t) {
  return t.hf_module == "lm_head" || t.gguf_name == "output.weight";
}
bool is_embedding(const RecipeTensor& t) {
  return ends_with(t.hf_module, "embed_tokens") || t.gguf_name == "token_embd.weight";
}

// A "re:" pattern's compiled form, kept per thread: a recipe is matched against every linear of a
// model with the same few patterns. The cache is dropped whole beyond 64 patterns.
const NamePattern& compiled_pattern(const std::string& regex) {
  thread_local std::unordered_map<std::string, NamePattern> cache;
  auto it = cache.find(regex);
  if (it != cache.end()) return it->second;
  if (cache.size() >= 64) cache.clear();
  return cache.emplace(regex, NamePattern(regex)).first->second;
}

// compressed-tensors' matching: "re:X" is re.match (anchored at the start, not the end) against
// the module name; anything else is an exact name. Both the HF and the GGUF name are tried.
bool name_matches(const std::string& pattern, const RecipeTensor& t) {
  if (is_regex(pattern)) {
    const NamePattern& re = compiled_pattern(pattern.substr(3));  // validated by check_patterns
    const auto search = [&](const std::string& s) { return !s.empty() && re.match_prefix(s); };
    return search(t.hf_module) || search(t.gguf_name);
  }
  return !pattern.empty() &&
         (pattern == t.hf_module || pattern == t.gguf_name || pattern == strip_weight(t.gguf_name));
}

// A target selects the tensor: "Linear" every decoder linear, regexes anything but embeddings,
// exact names anything.
bool target_selects(const std::string& target, const RecipeTensor& t) {
  if (target == "Linear") return !is_lm_head(t) && !is_embedding(t);
  if (is_regex(target) && is_embedding(t)) return false;
  return name_matches(target, t);
}

bool is_weight_quantizer(Kind k) { return k == Kind::Rtn || k == Kind::Gptq; }

std::string fmt_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// Divisors of g nearest to `want` (at most three, multiples of 8 preferred), for a hint.
std::vector<int64_t> divisor_hint(int64_t g, int64_t want) {
  std::vector<int64_t> d;
  for (int64_t k = 1; k <= g; ++k)
    if (g % k == 0 && (k % 8 == 0 || g < 8)) d.push_back(k);
  if (d.empty()) d.push_back(g);
  std::stable_sort(d.begin(), d.end(),
                   [&](int64_t a, int64_t b) { return std::abs(a - want) < std::abs(b - want); });
  if (d.size() > 3) d.resize(3);
  std::sort(d.begin(), d.end());
  return d;
}

void check_patterns(const std::vector<std::string>& list, const char* key,
                    const std::string& source) {
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = std::string(key) + "[" + std::to_string(i) + "]";
    check(!list[i].empty(), source, where + ": empty name");
    if (!is_regex(list[i])) continue;
    try {
      const NamePattern re(list[i].substr(3));
    } catch (const Error& e) {
      throw Error(source, where + ": invalid regex '" + list[i] + "' (" + e.problem() + ")");
    }
  }
}

}  // namespace

void validate_recipe(const Recipe& r, const std::string& source) {
  const QuantSpec& w = r.weights;
  const std::string scheme = r.scheme.empty() ? "the scheme" : r.scheme;
  if (w.format == ElementFormat::Int) {
    check(w.bits >= 2 && w.bits <= 8, source,
          "weights: INT width must be 2..8 bits, got " + std::to_string(w.bits));
  } else {
    check(w.format == ElementFormat::FP8_E4M3, source,
          "weights: recipes quantize weights to INT2..8 or FP8 (E4M3) only");
    check(w.symmetric && w.method != ScaleMethod::MinMax, source,
          "weights: FP8 weights are symmetric");
  }
  check(w.granularity != Granularity::PerToken, source,
        "weights: per-token granularity is for activations");
  if (w.granularity == Granularity::PerGroup)
    check(w.group_size > 0, source,
          "group_size: must be > 0 (or 0 for per channel), got " + std::to_string(w.group_size));
  check(w.scale_bits == 32 || w.scale_bits == 16, source, "weights: scale_bits must be 16 or 32");

  const bool acts = r.activations != InputQuant::None;
  int weight_quantizers = 0;
  bool seen[4] = {false, false, false, false};
  for (size_t i = 0; i < r.modifiers.size(); ++i) {
    const Modifier& m = r.modifiers[i];
    const std::string name = kind_name(m.kind);
    check(!seen[static_cast<int>(m.kind)], source, "methods: " + name + " is listed twice");
    seen[static_cast<int>(m.kind)] = true;
    if (is_weight_quantizer(m.kind)) {
      check(++weight_quantizers == 1, source,
            "methods: rtn and gptq both quantize the weights; choose one");
    } else {
      check(weight_quantizers == 0, source,
            "methods: " + name + " must come before the weight quantizer");
    }
    switch (m.kind) {
      case Kind::SmoothQuant:
        check(acts, source,
              "smoothquant: needs a scheme that quantizes activations (W8A8, W4A8, FP8, "
              "FP8_DYNAMIC); " + scheme + " is weight-only");
        check(m.smoothing_strength >= 0 && m.smoothing_strength <= 1, source,
              "smoothquant.alpha: must be in [0, 1], got " + fmt_number(m.smoothing_strength));
        break;
      case Kind::Awq:
        check(!acts, source,
              "awq: needs a weight-only scheme (W4A16, W8A16, ...); " + scheme +
                  " quantizes activations");
        check(w.format == ElementFormat::Int, source,
              "awq: needs INT weights; " + scheme + " has FP8 weights");
        check(m.awq_grid >= 1 && m.awq_grid <= 1000, source,
              "awq.grid: must be 1..1000, got " + std::to_string(m.awq_grid));
        break;
      case Kind::Gptq:
        check(m.dampening_frac >= 0 && m.dampening_frac < 1, source,
              "gptq.damp: must be in [0, 1), got " + fmt_number(m.dampening_frac));
        check(m.block_size >= 1, source,
              "gptq.block_size: must be >= 1, got " + std::to_string(m.block_size));
        check(!m.static_groups || m.act_order, source, "gptq.static_groups: needs act_order");
        check(!m.act_order || m.static_groups || w.granularity == Granularity::PerGroup, source,
              "gptq.act_order: group-wise act-order (g_idx) needs a grouped scheme; set "
              "static_groups (llm-compressor's actorder: static)");
        if (w.granularity == Granularity::PerGroup)
          check(m.block_size % w.group_size == 0 || w.group_size % m.block_size == 0, source,
                "gptq.block_size: " + std::to_string(m.block_size) + " and group_size " +
                    std::to_string(w.group_size) + " must be multiples of one another");
        break;
      case Kind::Rtn: break;
    }
  }
  // The CLI's --samples / --seq-len bounds: the calibration buffers grow with both.
  const std::string bound = std::to_string(kMaxCalibrationCount);
  check(r.samples >= 1 && r.samples <= kMaxCalibrationCount, source,
        "calibration.samples: must be 1.." + bound + ", got " + std::to_string(r.samples));
  check(r.seq_len >= 2 && r.seq_len <= kMaxCalibrationCount, source,
        "calibration.seq_len: must be 2.." + bound + ", got " + std::to_string(r.seq_len));
  check(!r.targets.empty(), source, "targets: empty (nothing would be quantized)");
  check_patterns(r.targets, "targets", source);
  check_patterns(r.ignore, "ignore", source);
}

bool recipe_targets(const Recipe& r, const RecipeTensor& t) {
  bool selected = false;
  for (const std::string& target : r.targets) selected = selected || target_selects(target, t);
  if (!selected) return false;
  for (const std::string& ig : r.ignore)
    if (ig == "Linear" || name_matches(ig, t)) return false;
  return true;
}

void validate_recipe_for_model(const Recipe& r, const std::vector<RecipeTensor>& tensors,
                               const std::string& source) {
  validate_recipe(r, source);
  check(!tensors.empty(), source, "the model has no linear layers to quantize");
  for (size_t i = 0; i < r.targets.size(); ++i) {
    const std::string& target = r.targets[i];
    if (target == "Linear") continue;
    bool any = false;
    for (const RecipeTensor& t : tensors) any = any || target_selects(target, t);
    const RecipeTensor& ex = tensors.front();
    check(any, source, "targets[" + std::to_string(i) + "]: '" + target +
                           "' matches no linear of the model (names look like " +
                           (ex.hf_module.empty() ? ex.gguf_name : ex.hf_module) + ")");
  }
  std::vector<const RecipeTensor*> chosen;
  for (const RecipeTensor& t : tensors)
    if (recipe_targets(r, t)) chosen.push_back(&t);
  check(!chosen.empty(), source,
        "the recipe quantizes none of the model's " + std::to_string(tensors.size()) +
            " linears (check targets and ignore)");

  const QuantSpec& w = r.weights;
  int64_t common = 0;
  for (const RecipeTensor* t : chosen) common = std::gcd(common, t->cols);
  for (const RecipeTensor* t : chosen) {
    const std::string name = t->hf_module.empty() ? t->gguf_name
                             : t->gguf_name.empty() ? t->hf_module
                                                    : t->hf_module + " (" + t->gguf_name + ")";
    check(t->rows > 0 && t->cols > 0, source, name + ": empty shape");
    if (w.granularity != Granularity::PerGroup || t->cols % w.group_size == 0) continue;
    std::string hint;
    for (int64_t d : divisor_hint(common, w.group_size))
      hint += (hint.empty() ? "" : ", ") + std::to_string(d);
    throw Error(source, "group_size: " + std::to_string(w.group_size) +
                            " does not divide the input size " + std::to_string(t->cols) + " of " +
                            name + " (sizes that divide every input: " + hint +
                            ", or 0 for per channel)");
  }
  if (r.kv_cache != KvCacheScheme::None) {
    bool kv = false;
    for (const RecipeTensor& t : tensors)
      kv = kv || t.hf_module.find("k_proj") != std::string::npos ||
           t.gguf_name.find("attn_k.") != std::string::npos;
    check(kv, source, "kv_cache: the model has no k_proj / v_proj linears to calibrate");
  }
}

std::vector<Modifier> parse_methods(const std::string& methods, const std::string& source) {
  std::vector<Modifier> mods;
  size_t p = 0;
  while (p <= methods.size()) {
    const size_t q = std::min(methods.find_first_of(",+", p), methods.size());
    const std::string m = methods.substr(p, q - p);
    Modifier mod;
    if (m == "gptq") mod.kind = Kind::Gptq;
    else if (m == "awq") mod.kind = Kind::Awq;
    else if (m == "smoothquant") mod.kind = Kind::SmoothQuant;
    else if (m != "rtn")
      throw Error(source, "unknown method '" + m + "' (rtn, gptq, awq, smoothquant; combine with '+')");
    if (m != "rtn") mods.push_back(mod);
    p = q + 1;
  }
  return mods;
}

std::string kv_cache_scheme_name(KvCacheScheme s) {
  return s == KvCacheScheme::Fp8 ? "fp8" : s == KvCacheScheme::Int8 ? "int8" : "none";
}

std::string describe_recipe(const Recipe& r) {
  std::string spec = describe(r.weights);
  for (const char* dflt : {"/absmax", "/minmax"}) {
    const size_t at = spec.find(dflt);
    if (at != std::string::npos) spec.erase(at, std::string(dflt).size());
  }
  std::string s = r.scheme + " " + spec;
  if (r.activations != InputQuant::None)
    s += " + " + input_quant_name(r.activations) + " activations";
  if (r.kv_cache != KvCacheScheme::None) s += " + " + kv_cache_scheme_name(r.kv_cache) + " kv-cache";

  std::string quantizer = "rtn";
  std::vector<std::string> before;
  for (const Modifier& m : r.modifiers) {
    switch (m.kind) {
      case Kind::Rtn: quantizer = "rtn"; break;
      case Kind::Gptq: {
        quantizer = "gptq(damp " + fmt_number(m.dampening_frac);
        if (m.block_size != 128) quantizer += ", block " + std::to_string(m.block_size);
        if (m.act_order) quantizer += m.static_groups ? ", act-order static-groups" : ", act-order";
        quantizer += ")";
        break;
      }
      case Kind::Awq:
        before.push_back("awq(grid " + std::to_string(m.awq_grid) + (m.awq_clip ? ", clip" : "") +
                         (m.awq_duo_scaling ? "" : ", no-duo") + ")");
        break;
      case Kind::SmoothQuant:
        before.push_back("smoothquant(" + fmt_number(m.smoothing_strength) + ")");
        break;
    }
  }
  s += ", " + quantizer;
  // Read backwards from the weight quantizer: "gptq(...) after awq(...) after smoothquant(...)".
  for (auto it = before.rbegin(); it != before.rend(); ++it) s += " after " + *it;
  const auto list = [](const std::vector<std::string>& v) {
    std::string o;
    for (const std::string& x : v) o += (o.empty() ? "" : " ") + x;
    return o;
  };
  if (r.targets != std::vector<std::string>{"Linear"}) s += "; targets " + list(r.targets);
  if (r.ignore != std::vector<std::string>{"lm_head"})
    s += r.ignore.empty() ? "; ignore nothing" : "; ignore " + list(r.ignore);
  return s;
}

Recipe parse_recipe_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(static_cast<bool>(in), path, "cannot open recipe file");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_recipe_text(text.str(), path);
}

}  // namespace squish
