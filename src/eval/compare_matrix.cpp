// The configurations of `squish compare`, expanded from its axes and checked before any work.
#include "compare_matrix.h"

#include <algorithm>

#include <fmt/format.h>

#include "squish/common/error.h"
#include "squish/export/calibrated_export.h"

namespace squish {

namespace {

// Short label of a checkpoint format for row names.
std::string format_tag(CheckpointFormat f) {
  switch (f) {
    case CheckpointFormat::CompressedTensors: return "ct";
    case CheckpointFormat::Gptq: return "gptq";
    case CheckpointFormat::Awq: return "awq";
    case CheckpointFormat::Unquantized: break;
  }
  return "f32";
}

bool weight_only_int(const Recipe& r) {
  return r.activations == InputQuant::None && r.weights.format == ElementFormat::Int;
}

// "TYPE" or "TYPE:METHOD" split at the first colon.
std::pair<std::string, std::string> split_entry(const std::string& entry) {
  const size_t colon = entry.find(':');
  if (colon == std::string::npos) return {entry, ""};
  return {entry.substr(0, colon), entry.substr(colon + 1)};
}

void add_gguf(const std::string& entry, const CompareOptions& o, CompareMatrix& m) {
  const auto [t, method] = split_entry(entry);
  const auto f = parse_file_type(t);
  if (!f) {
    std::string hint;
    for (const std::string& s : suggest_file_types(t)) hint += (hint.empty() ? "" : ", ") + s;
    throw Error(t, "unknown quantization type (did you mean " + hint + "?)");
  }
  if (!method.empty() && method != "rtn" && method != "gptq")
    throw Error(entry, "unknown method '" + method + "' for a GGUF mix (valid: rtn, gptq)");
  for (const std::string& meth : method.empty() ? o.methods : std::vector<std::string>{method}) {
    if (meth != "rtn" && meth != "gptq") {
      m.skipped.push_back(file_type_name(*f) + " " + meth + ": GGUF mixes take rtn or gptq");
      continue;
    }
    CompareConfig c;
    c.ftype = *f;
    c.method = meth;
    c.name = file_type_name(*f) + (meth == "gptq" ? " gptq" : "");
    c.stem = file_type_name(*f) + (meth == "gptq" ? "-gptq" : "");
    m.configs.push_back(c);
  }
}

// One checkpoint configuration: recipe, checks against the model; explicit ones throw.
void add_scheme_config(const std::string& model_path, const std::string& scheme, int64_t group,
                       const std::string& method, const std::string& format, bool explicit_entry,
                       const CompareOptions& o, CompareMatrix& m) {
  CompareConfig c;
  c.checkpoint = true;
  c.method = method;
  c.format = parse_checkpoint_format(format);
  c.recipe = recipe_from_scheme(scheme, group);
  c.recipe.modifiers = parse_methods(method, "--methods " + method);
  for (Modifier& mod : c.recipe.modifiers) mod.dampening_frac = o.gptq_damp;
  c.recipe.calib_path = o.calib.path;
  c.recipe.samples = o.calib.n_samples;
  c.recipe.seq_len = o.calib.seq_len;
  c.recipe.seed = o.calib.seed;
  const QuantSpec& w = c.recipe.weights;
  const std::string gtag = w.granularity == Granularity::PerGroup ? fmt::format("/g{}", w.group_size) : "";
  c.name = fmt::format("{}{} {} [{}]", c.recipe.scheme, gtag, method, format_tag(c.format));
  c.stem = fmt::format("ckpt-{}-{}-{}-{}", c.recipe.scheme,
                       gtag.empty() ? std::string("ch") : gtag.substr(1), method, format_tag(c.format));
  std::replace(c.stem.begin(), c.stem.end(), '+', '-');
  try {
    if (c.format == CheckpointFormat::Unquantized) throw Error("--formats unquantized", "not a quantized format");
    if (c.format != CheckpointFormat::CompressedTensors && !weight_only_int(c.recipe))
      throw Error("--formats " + format, format + " checkpoints hold weight-only INT schemes");
    check_recipe_for_input(model_path, c.recipe);
  } catch (const Error& e) {
    if (explicit_entry) throw;
    m.skipped.push_back(c.name + ": " + e.what());
    return;
  }
  m.configs.push_back(c);
}

void add_scheme(const std::string& model_path, const std::string& entry, const CompareOptions& o,
                CompareMatrix& m) {
  const auto [head, method] = split_entry(entry);
  std::string scheme = head;
  int64_t explicit_group = -2;  // none
  const size_t slash = head.find("/g");
  if (slash != std::string::npos) {
    scheme = head.substr(0, slash);
    try {
      size_t used = 0;
      explicit_group = std::stoll(head.substr(slash + 2), &used);
      if (used != head.size() - slash - 2 || explicit_group < 0) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw Error(entry, "group size after '/g' must be a non-negative integer (0 = per channel)");
    }
  }
  const Recipe probe = recipe_from_scheme(scheme, -1);  // unknown schemes throw with suggestions
  std::vector<int64_t> groups = {-1};                   // the scheme's default
  if (explicit_group >= 0) groups = {explicit_group};
  else if (weight_only_int(probe) && !o.group_sizes.empty()) groups = o.group_sizes;
  if (!method.empty()) parse_methods(method, entry);  // unknown methods throw
  const std::vector<std::string> methods = method.empty() ? o.methods : std::vector<std::string>{method};
  // An entry that names one combination fails loudly; a combination an axis produced is skipped.
  const bool single = groups.size() == 1 && methods.size() == 1 && o.formats.size() == 1;
  for (int64_t g : groups)
    for (const std::string& meth : methods)
      for (const std::string& f : o.formats)
        add_scheme_config(model_path, scheme, g, meth, f, single, o, m);
}

}  // namespace

CompareMatrix expand_compare_matrix(const std::string& model_path, const CompareOptions& o) {
  for (const std::string& meth : o.methods) parse_methods(meth, "--methods " + meth);
  for (const std::string& f : o.formats) parse_checkpoint_format(f);
  CompareMatrix m;
  for (const std::string& entry : o.types) add_gguf(entry, o, m);
  for (const std::string& entry : o.schemes) add_scheme(model_path, entry, o, m);
  if (m.configs.empty()) {
    std::string why = m.skipped.empty() ? "" : " (" + m.skipped.front() + ")";
    throw Error(model_path, "no configurations to compare" + why);
  }
  return m;
}

}  // namespace squish
