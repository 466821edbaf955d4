// Subcommand registration: each cli/cmd_*.cpp adds its subcommand through a static registrar.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

namespace squish::cli {

// Adds a subcommand to the app; `setup` creates it and sets its callback.
using CommandSetup = std::function<void(CLI::App& app)>;

// Registers a subcommand at static-initialisation time; `order` sorts the help listing.
struct CommandRegistrar {
  CommandRegistrar(int order, CommandSetup setup);
};

// Runs every registered setup on `app` in order.
void setup_all_commands(CLI::App& app);

// The non-empty items of a comma-separated option value ("a,,b" -> {"a", "b"}).
inline std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');)
    if (!t.empty()) out.push_back(t);
  return out;
}

// Adds `--weights quantized|f32` (how a GGUF's weights are held while running) bound to `value`.
inline void add_weights_option(CLI::App* cmd, std::string& value) {
  cmd->add_option("--weights", value,
                  "quantized: run GGUF weights in their block format (quantized kernels); "
                  "f32: dequantize them to F32 at load")
      ->check(CLI::IsMember({"quantized", "f32"}))
      ->capture_default_str();
}

// Adds `--kv-cache-dtype f32|f16|bf16|fp8|int8|int4` bound to `value` (parsed when the command runs).
inline void add_kv_cache_option(CLI::App* cmd, std::string& value) {
  cmd->add_option("--kv-cache-dtype", value,
                  "KV cache element type: f32 (exact), f16, bf16, fp8 (E4M3, per-row scale), "
                  "int8 / int4 (Q8_0 / Q4_0 blocks of 32)")
      ->capture_default_str();
}

}  // namespace squish::cli
