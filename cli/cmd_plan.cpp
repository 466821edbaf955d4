// `squish plan`: memory breakdown, fit check and quantization/engine recommendation for a
// model on given hardware and workload.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "command.h"
#include "squish/common/error.h"
#include "squish/plan/planner.h"

namespace squish::cli {
namespace {

struct PlanArgs {
  std::string model, params, layers, kv_heads, head_dim, heads, hidden, ffn, vocab;
  std::string hardware, vram, ram, gpus = "1", bandwidth, context = "4096", users = "1", goal = "balanced";
  bool json = false, list = false;
};

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

plan::ModelShape resolve_model(const PlanArgs& a) {
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

void print(const std::string& s) { std::fwrite(s.data(), 1, s.size(), stdout); }

void list_tables() {
  std::string o = "Built-in models:\n";
  for (const std::string& n : plan::builtin_model_names()) {
    const plan::ModelShape m = plan::builtin_model(n);
    o += fmt::format("  {:<16} {:>8.3f} B params, {} layers, {} KV heads × {} head dim  ({})\n", n,
                     m.n_params / 1e9, m.n_layer, m.n_head_kv, m.head_dim, m.source);
  }
  o += "\nHardware:\n";
  for (const plan::Hardware& h : plan::hardware_table())
    o += fmt::format("  {:<12} {:<5} {:>6} GB {:>7g} GB/s  FP8 {:<3} INT8 {:<3} {}\n", h.name,
                     plan::device_kind_name(h.kind),
                     h.memory_gb > 0 ? fmt::format("{:g}", h.memory_gb) : "--ram", h.bandwidth_gbs,
                     h.fp8 ? "yes" : "no", h.int8 ? "yes" : "no", h.note);
  print(o);
}

void run_plan(const PlanArgs& a) {
  if (a.list) return list_tables();
  const plan::ModelShape model = resolve_model(a);
  plan::Workload w;
  w.context = parse_int("--context", a.context, true);
  w.users = parse_int("--users", a.users);
  w.goal = plan::parse_goal(a.goal);
  const auto target = plan::make_target(a.hardware, parse_number("--vram", a.vram), parse_number("--ram", a.ram),
                                        static_cast<int>(parse_int("--gpus", a.gpus)),
                                        parse_number("--bandwidth", a.bandwidth));
  const plan::Plan p = plan::make_plan(model, w, target);
  if (a.json) print(plan::render_json(p).dump(1) + "\n");
  else print(plan::render_markdown(p));
}

CommandRegistrar reg(80, [](CLI::App& app) {
  auto a = std::make_shared<PlanArgs>();
  CLI::App* cmd = app.add_subcommand("plan", "Plan a deployment: memory per scheme, what fits, what to use");
  cmd->add_option("model,-m,--model", a->model, "GGUF file, HF config.json / directory, or built-in name (see --list)");
  cmd->add_option("--params", a->params, "Parameter count instead of a model (70e9, 70B, 135M)");
  cmd->add_option("--layers", a->layers, "Layers (with --params)");
  cmd->add_option("--kv-heads", a->kv_heads, "Key/value heads (with --params)");
  cmd->add_option("--head-dim", a->head_dim, "Head dimension (with --params)");
  cmd->add_option("--heads", a->heads, "Attention heads (optional, with --params)");
  cmd->add_option("--hidden", a->hidden, "Hidden size (optional, with --params)");
  cmd->add_option("--ffn", a->ffn, "FFN size (optional, with --params)");
  cmd->add_option("--vocab", a->vocab, "Vocabulary size (optional, with --params)");
  cmd->add_option("--hardware", a->hardware, "Hardware name (see --list): H100, A100-80, RTX 4090, M2 Max, CPU …");
  cmd->add_option("--vram", a->vram, "GPU memory per device, GB");
  cmd->add_option("--ram", a->ram, "RAM / unified memory, GB");
  cmd->add_option("--gpus", a->gpus, "Number of GPUs (tensor parallel)");
  cmd->add_option("--bandwidth", a->bandwidth, "Memory bandwidth override, GB/s");
  cmd->add_option("--context", a->context, "Context length in tokens (128K = 131072)");
  cmd->add_option("--users,--batch", a->users, "Concurrent sequences");
  cmd->add_option("--goal", a->goal, "latency | throughput | balanced");
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->add_flag("--list", a->list, "List built-in models and hardware");
  cmd->callback([a] { run_plan(*a); });
});

}  // namespace
}  // namespace squish::cli
