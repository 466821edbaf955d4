// make_plan(): the model shape, workload and hardware of `squish plan`'s flags, and the plan for them.
#include "run/plan.h"

#include <filesystem>
#include <fstream>
#include <string>

#include "squish/common/error.h"

namespace squish::cli {
namespace {

// Parses a non-negative number; "K"/"M" suffixes multiply by 1024 / 1024² when `binary`
// (context lengths: 128K = 131072), else by 1e3 / 1e6.
double parse_number(const std::string& opt, const std::string& text, bool binary = false) {
  if (text.empty()) return 0;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    throw Error(opt, "'" + text + "' is not a number");
  }
  const std::string suffix = text.substr(used);
  if (suffix == "k" || suffix == "K") v *= binary ? 1024 : 1e3;
  else if (suffix == "m" || suffix == "M") v *= binary ? 1048576 : 1e6;
  else if (!suffix.empty()) throw Error(opt, "'" + text + "' is not a number");
  if (!(v >= 0 && v <= 1e15)) throw Error(opt, "'" + text + "' is out of range");
  return v;
}

int64_t parse_int(const std::string& opt, const std::string& text, bool binary = false) {
  const double v = parse_number(opt, text, binary);
  if (v != static_cast<double>(static_cast<int64_t>(v))) throw Error(opt, "'" + text + "' is not a whole number");
  return static_cast<int64_t>(v);
}

bool looks_like_gguf(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  char magic[4] = {};
  f.read(magic, 4);
  return f && std::string(magic, 4) == "GGUF";
}

}  // namespace

plan::ModelShape resolve_plan_model(const PlanArgs& a) {
  namespace fs = std::filesystem;
  if (!a.model.empty() && !a.params.empty())
    throw Error("--params", "give either a model or --params, not both");
  if (!a.params.empty())
    return plan::shape_from_numbers(plan::parse_param_count(a.params), parse_int("--layers", a.layers),
                                    parse_int("--kv-heads", a.kv_heads), parse_int("--head-dim", a.head_dim),
                                    parse_int("--heads", a.heads), parse_int("--hidden", a.hidden),
                                    parse_int("--ffn", a.ffn), parse_int("--vocab", a.vocab));
  if (a.model.empty())
    throw Error("plan", "give a model (GGUF file, config.json, HF directory or built-in name) or --params");
  std::error_code ec;
  if (fs::is_directory(a.model, ec)) return plan::shape_from_hf_config(a.model);
  if (fs::exists(a.model, ec)) {
    if (looks_like_gguf(a.model)) return plan::shape_from_gguf(a.model);
    if (a.model.size() >= 5 && a.model.substr(a.model.size() - 5) == ".json")
      return plan::shape_from_hf_config(a.model);
    throw Error(a.model, "neither a GGUF file nor a config.json");
  }
  if (plan::is_builtin_model(a.model)) return plan::builtin_model(a.model);
  if (a.model.find('/') != std::string::npos || a.model.find('.') == a.model.size() - 5)
    throw Error(a.model, "no such file");
  return plan::builtin_model(a.model);  // throws with the list of built-in names
}

plan::Plan make_plan(const PlanArgs& a) {
  const plan::ModelShape model = resolve_plan_model(a);
  plan::Workload w;
  w.context = parse_int("--context", a.context, true);
  w.users = parse_int("--users", a.users);
  w.goal = plan::parse_goal(a.goal);
  const auto target = plan::make_target(a.hardware, parse_number("--vram", a.vram), parse_number("--ram", a.ram),
                                        static_cast<int>(parse_int("--gpus", a.gpus)),
                                        parse_number("--bandwidth", a.bandwidth));
  return plan::make_plan(model, w, target);
}

}  // namespace squish::cli
