// Named quantization schemes: compressed-tensors' PRESET_SCHEMES (W4A16, W4A16_ASYM, W8A16, W8A8
// / INT8, W4A8, W4AFP8, FP8, FP8_DYNAMIC) plus squish's low-bit W3A16 / W2A16, and the "did you
// mean" suggestions for names that are none of them.
#include <algorithm>
#include <cctype>

#include "recipe_internal.h"
#include "squish/common/edit_distance.h"
#include "squish/common/error.h"

namespace squish {
namespace recipe_detail {
namespace {

// One preset: INT or FP8 weights with a default granularity, and the activation quantization.
struct Preset {
  const char* name;
  ElementFormat format;
  int bits;
  bool symmetric;
  Granularity granularity;  // the default (PerGroup means g128)
  InputQuant activations;
};

// compressed-tensors' definitions (src/compressed_tensors/quantization/quant_scheme.py): W8A16 is
// INT8 g128 there today (it was per channel in early releases); FP8 is per-tensor weights with a
// static per-tensor activation scale.
constexpr Preset kPresets[] = {
    {"W4A16", ElementFormat::Int, 4, true, Granularity::PerGroup, InputQuant::None},
    {"W4A16_ASYM", ElementFormat::Int, 4, false, Granularity::PerGroup, InputQuant::None},
    {"W8A16", ElementFormat::Int, 8, true, Granularity::PerGroup, InputQuant::None},
    {"W8A8", ElementFormat::Int, 8, true, Granularity::PerChannel, InputQuant::Int8PerToken},
    {"INT8", ElementFormat::Int, 8, true, Granularity::PerChannel, InputQuant::Int8PerToken},
    {"W4A8", ElementFormat::Int, 4, true, Granularity::PerGroup, InputQuant::Int8PerToken},
    {"W4AFP8", ElementFormat::Int, 4, true, Granularity::PerGroup, InputQuant::Fp8PerToken},
    {"FP8", ElementFormat::FP8_E4M3, 8, true, Granularity::PerTensor, InputQuant::Fp8Static},
    {"FP8_DYNAMIC", ElementFormat::FP8_E4M3, 8, true, Granularity::PerChannel,
     InputQuant::Fp8PerToken},
    // squish's additions for low-bit research (same layout as W4A16).
    {"W3A16", ElementFormat::Int, 3, true, Granularity::PerGroup, InputQuant::None},
    {"W3A16_ASYM", ElementFormat::Int, 3, false, Granularity::PerGroup, InputQuant::None},
    {"W2A16", ElementFormat::Int, 2, true, Granularity::PerGroup, InputQuant::None},
    {"W2A16_ASYM", ElementFormat::Int, 2, false, Granularity::PerGroup, InputQuant::None},
};
constexpr int64_t kDefaultGroup = 128;

// compressed-tensors presets squish has no element format or layout for.
struct Unsupported {
  const char* name;
  const char* why;
};
constexpr Unsupported kUnsupported[] = {
    {"UNQUANTIZED", "quantizes nothing"},
    {"FP8_BLOCK", "128x128 block weight scales"},
    {"NVFP4A16", "NVFP4 weights"},
    {"NVFP4", "NVFP4 weights and activations"},
    {"NVFP4A16_46", "NVFP4 weights"},
    {"NVFP4_46", "NVFP4 weights and activations"},
    {"MXFP4A16", "MXFP4 weights"},
    {"MXFP4", "MXFP4 weights and activations"},
    {"MXFP8A16", "MXFP8 weights"},
    {"MXFP8", "MXFP8 weights and activations"},
};

std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::optional<Recipe> preset(const std::string& name, int64_t group_size) {
  const std::string key = upper(name);
  for (const Preset& p : kPresets) {
    if (key != p.name) continue;
    Recipe r;
    r.scheme = p.name;
    r.weights = QuantSpec{};
    r.weights.format = p.format;
    r.weights.bits = p.bits;
    r.weights.symmetric = p.symmetric;
    r.weights.method = p.symmetric ? ScaleMethod::AbsMax : ScaleMethod::MinMax;
    r.weights.granularity = p.granularity;
    r.weights.group_size = p.granularity == Granularity::PerGroup ? kDefaultGroup : 0;
    if (group_size == 0) {
      r.weights.granularity = Granularity::PerChannel;
      r.weights.group_size = 0;
    } else if (group_size > 0) {
      r.weights.granularity = Granularity::PerGroup;
      r.weights.group_size = group_size;
    }
    r.activations = p.activations;
    return r;
  }
  return std::nullopt;
}

std::string scheme_problem(const std::string& name) {
  const std::string key = upper(name);
  const std::string valid = " (supported: " + join_or(scheme_names()) + ")";
  for (const Unsupported& u : kUnsupported)
    if (key == u.name)
      return "scheme " + std::string(u.name) + " (" + u.why + ") is not supported by squish" +
             valid;
  std::vector<std::string> all = scheme_names();
  for (const Unsupported& u : kUnsupported) all.push_back(u.name);
  const auto near = nearest(key, all);
  std::string msg = "unknown scheme '" + name + "'";
  if (!near.empty()) msg += "; did you mean " + join_or(near) + "?";
  return msg + valid;
}

std::string scheme_name_of(const QuantSpec& w, InputQuant a) {
  const bool fp8_acts = a == InputQuant::Fp8PerToken || a == InputQuant::Fp8Static;
  if (w.format == ElementFormat::FP8_E4M3) {
    if (a == InputQuant::None) return "FP8A16";
    return a == InputQuant::Fp8PerToken ? "FP8_DYNAMIC" : "FP8";
  }
  const char* acts = a == InputQuant::None ? "A16" : fp8_acts ? "AFP8" : "A8";
  std::string n = "W" + std::to_string(w.bits) + acts;
  if (!w.symmetric || w.method == ScaleMethod::MinMax) n += "_ASYM";
  return n;
}

std::vector<std::string> nearest(const std::string& name,
                                 const std::vector<std::string>& candidates) {
  const std::string key = upper(name);
  const size_t limit = std::max<size_t>(2, key.size() / 3);
  size_t best = limit + 1;
  std::vector<std::string> out;
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(key, upper(c));
    if (d < best) {
      best = d;
      out.clear();
    }
    if (d == best && std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  return out;
}

std::string join_or(const std::vector<std::string>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i)
    s += (i == 0 ? "" : i + 1 == v.size() ? " or " : ", ") + v[i];
  return s;
}

}  // namespace recipe_detail

std::vector<std::string> scheme_names() {
  std::vector<std::string> names;
  for (const auto& p : recipe_detail::kPresets) names.push_back(p.name);
  return names;
}

Recipe recipe_from_scheme(const std::string& scheme, int64_t group_size) {
  auto r = recipe_detail::preset(scheme, group_size);
  if (!r) throw Error("--scheme " + scheme, recipe_detail::scheme_problem(scheme));
  return *r;
}

}  // namespace squish
