// `squish sensitivity MODEL`: per-layer, per-linear KLD when only that tensor is quantized.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>

#include "command.h"
#include "squish/common/atomic_file.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/eval/eval_data.h"
#include "squish/eval/heatmap.h"
#include "squish/eval/sensitivity.h"

namespace squish::cli {
namespace {

struct SensitivityArgs {
  SensitivityOptions opt;
  std::string model, type = "Q2_K", layers, kinds, out_dir;
  int threads = 0;
  bool force = false;
};

void run(SensitivityArgs& a) {
  if (a.threads > 0) set_num_threads(a.threads);
  const auto t = parse_type_name(a.type);
  if (!t) throw squish::Error(a.type, "unknown tensor type (e.g. Q2_K, Q3_K, Q4_0, Q4_K, Q8_0)");
  a.opt.type = *t;
  for (const std::string& l : split_list(a.layers)) {
    try {
      a.opt.layers.push_back(std::stoll(l));
    } catch (const std::exception&) {
      throw squish::Error(l, "not a layer number");
    }
  }
  a.opt.kinds = split_list(a.kinds);
  if (a.opt.text_path.empty()) a.opt.text_path = shared_data_path("wikitext-2-test.txt");
  const SensitivityReport r = run_sensitivity(a.model, a.opt);
  const std::string md = r.to_markdown();
  std::fputs(md.c_str(), stdout);
  if (a.out_dir.empty()) return;
  HeatMap map;
  map.title = "Sensitivity: KLD when one tensor is " + a.type;
  map.legend = "mean KLD (nats)";
  for (int64_t l : r.layers) map.rows.push_back("blk." + std::to_string(l));
  map.cols = r.kinds;
  for (const SensitivityCell& c : r.cells) map.values.push_back(c.kld);
  const std::string d = a.out_dir + "/";
  std::filesystem::create_directories(a.out_dir);
  write_file_atomic(d + "sensitivity.json", r.to_json().dump(1), a.force);
  write_file_atomic(d + "sensitivity.md", md, a.force);
  write_file_atomic(d + "sensitivity.svg", render_heatmap_svg(map), a.force);
  const auto png = render_heatmap_png(map);
  write_file_atomic(d + "sensitivity.png", std::string_view(reinterpret_cast<const char*>(png.data()), png.size()), a.force);
  std::printf("\nwritten: %s{sensitivity.json,sensitivity.md,sensitivity.svg,sensitivity.png}\n", d.c_str());
}

CommandRegistrar reg(58, [](CLI::App& app) {
  auto a = std::make_shared<SensitivityArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sensitivity", "Per-layer sensitivity: KLD when only one linear tensor is quantized (table + heat map)");
  add_model_argument(cmd, a->model, "GGUF file or HF model directory");
  cmd->add_option("--type", a->type, "Tensor type applied to the probed tensor")->capture_default_str();
  cmd->add_option("--layers", a->layers, "Comma-separated layer numbers (default: all)");
  cmd->add_option("--kinds", a->kinds, "Comma-separated linears: attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down");
  add_text_file_option(cmd, a->opt.text_path, "Evaluation text (default: ../shared/data/wikitext-2-test.txt)");
  add_ctx_option(cmd, a->opt.n_ctx);
  cmd->add_option("--chunks", a->opt.chunks, "Chunks per probe")->capture_default_str()->check(CLI::Range(1, 1 << 20));
  add_output_option(cmd, a->out_dir, "Write JSON, Markdown, SVG and PNG here", "--out");
  add_threads_option(cmd, a->threads);
  add_force_flag(cmd, a->force, "Overwrite existing outputs");
  cmd->callback([a] { run(*a); });
});

}  // namespace
}  // namespace squish::cli
