// `squish plan`: memory breakdown, fit check and quantization/engine recommendation for a
// model on given hardware and workload.
#include <cstdio>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "command.h"
#include "run/plan.h"
#include "squish/common/error.h"
#include "squish/plan/planner.h"

namespace squish::cli {
namespace {

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
  const plan::Plan p = make_plan(a);
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
