// `squish inspect FILE|DIR [--json]`: architecture, metadata and tensors of a model file.
#include <cstdio>
#include <memory>
#include <string>

#include "command.h"
#include "squish/eval/inspect.h"

namespace squish::cli {
namespace {

struct InspectArgs {
  std::string path;
  bool json = false;
};

void run_inspect(const InspectArgs& a) {
  const InspectReport r = inspect_model(a.path);
  if (a.json) {
    const std::string s = inspect_to_json(r).dump(1, ' ', false, nlohmann::json::error_handler_t::replace);
    std::fwrite(s.data(), 1, s.size(), stdout);
    std::fputc('\n', stdout);
  } else {
    const std::string s = format_inspect_text(r);
    std::fwrite(s.data(), 1, s.size(), stdout);
  }
}

CommandRegistrar reg(20, [](CLI::App& app) {
  auto args = std::make_shared<InspectArgs>();
  CLI::App* cmd = app.add_subcommand(
      "inspect", "Show a model's architecture, metadata and tensors (GGUF, SafeTensors or HF directory)");
  add_model_argument(cmd, args->path, "GGUF file, .safetensors file or HF model directory");
  cmd->add_flag("--json", args->json, "Print JSON");
  cmd->callback([args] { run_inspect(*args); });
});

}  // namespace
}  // namespace squish::cli
