// Subcommand registration: each cli/cmd_*.cpp adds its subcommand through a static registrar.
#pragma once
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "run/split_list.h"
#include "squish/model/model.h"

namespace squish::cli {

// Adds a subcommand to the app; `setup` creates it and sets its callback.
using CommandSetup = std::function<void(CLI::App& app)>;

// Registers a subcommand at static-initialisation time; `order` sorts the help listing.
struct CommandRegistrar {
  CommandRegistrar(int order, CommandSetup setup);
};

// Runs every registered setup on `app` in order.
void setup_all_commands(CLI::App& app);

// How a command holds the model's weights: --weights, --convert, --llm-int8-threshold.
struct WeightArgs {
  std::string weights;         // "quantized" or "f32"
  std::string convert = "none";
  float llm_int8_threshold = 6.0f;
  // The LoadOptions these name (throws squish::Error for an unknown conversion).
  LoadOptions options() const {
    LoadOptions o;
    o.keep_quantized = weights == "quantized";
    o.convert = parse_conversion(convert);
    o.llm_int8_threshold = llm_int8_threshold;
    return o;
  }
  // "quantized", "f32", "quantized, converted to nf4" ...
  std::string describe() const { return convert == "none" ? weights : weights + ", converted to " + convert; }
};

// Adds `--weights quantized|f32`, `--convert none|w8a8|llm-int8|fp8|nf4` and
// `--llm-int8-threshold T`, bound to `value`.
inline void add_weights_option(CLI::App* cmd, WeightArgs& value) {
  cmd->add_option("--weights", value.weights,
                  "quantized: run GGUF weights in their block format (quantized kernels) and "
                  "converted weights in their layout; f32: dequantize them to F32 at load")
      ->check(CLI::IsMember({"quantized", "f32"}))
      ->capture_default_str();
  cmd->add_option("--convert", value.convert,
                  "convert the decoder linears at load: w8a8 (INT8 weights and per-token INT8 "
                  "inputs, integer dots), llm-int8 (w8a8 with LLM.int8() outlier columns in F32), "
                  "fp8 (E4M3 weights), nf4 (NormalFloat-4 in blocks of 64)")
      ->check(CLI::IsMember({"none", "w8a8", "llm-int8", "fp8", "nf4"}))
      ->capture_default_str();
  cmd->add_option("--llm-int8-threshold", value.llm_int8_threshold,
                  "llm-int8: input columns with any |x| above this go through F32")
      ->check(CLI::Validator(
          [](const std::string& v) {
            char* end = nullptr;
            const double x = std::strtod(v.c_str(), &end);
            return end != v.c_str() && *end == '\0' && x > 0 ? std::string() : "must be a positive number, got " + v;
          },
          "POSITIVE"))
      ->capture_default_str();
}

// Adds `--kv-cache-dtype f32|f16|bf16|fp8|int8|int4` bound to `value` (parsed when the command runs).
inline void add_kv_cache_option(CLI::App* cmd, std::string& value) {
  cmd->add_option("--kv-cache-dtype", value,
                  "KV cache element type: f32 (exact), f16, bf16, fp8 (E4M3, per-row scale), "
                  "int8 / int4 (Q8_0 / Q4_0 blocks of 32)")
      ->capture_default_str();
}

// The options every subcommand spells the same way, with llama.cpp's short flags where squish has
// the same option (-m model, -t threads, -f text file, -o output, -c context); earlier spellings stay
// as aliases and are named in --help.

// The model, as the first positional argument or with -m/--model (llama.cpp's spelling).
inline CLI::Option* add_model_argument(CLI::App* cmd, std::string& value, const std::string& what) {
  return cmd->add_option("model,-m,--model", value, what)->required();
}

// -t/--threads: worker threads (0: all cores).
inline CLI::Option* add_threads_option(CLI::App* cmd, int& value) {
  return cmd->add_option("-t,--threads", value, "Worker threads (default: all cores)");
}

// -f/--file: a text file; `old` is an earlier long spelling kept as an alias ("" for none).
inline CLI::Option* add_text_file_option(CLI::App* cmd, std::string& value, const std::string& what,
                                         const std::string& old = "") {
  return cmd->add_option(old.empty() ? "-f,--file" : "-f,--file," + old, value,
                         old.empty() ? what : what + " (" + old + ": earlier spelling)");
}

// -o/--output: where results go; `old` as above.
inline CLI::Option* add_output_option(CLI::App* cmd, std::string& value, const std::string& what,
                                      const std::string& old = "") {
  return cmd->add_option(old.empty() ? "-o,--output" : "-o,--output," + old, value,
                         old.empty() ? what : what + " (" + old + ": earlier spelling)");
}

// -c/--ctx-size (llama.cpp's name; --ctx, the earlier spelling, is an alias): tokens per chunk.
template <class Int>
CLI::Option* add_ctx_option(CLI::App* cmd, Int& value, int min_tokens = 4) {
  return cmd->add_option("-c,--ctx-size,--ctx", value, "Tokens per chunk (--ctx: earlier spelling)")
      ->capture_default_str()
      ->check(CLI::Range(min_tokens, 1 << 20));
}

// --force: overwrite an existing output (no short flag: -f is a file everywhere).
inline CLI::Option* add_force_flag(CLI::App* cmd, bool& value, const std::string& what = "Overwrite an existing output") {
  return cmd->add_flag("--force", value, what);
}

}  // namespace squish::cli
