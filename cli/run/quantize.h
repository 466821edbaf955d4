// What `squish quantize` does, callable without the command line (the CLI and the Python module).
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>

namespace squish::cli {

// The settings of one `squish quantize` run, as its flags name them.
struct QuantizeArgs {
  std::string input, output, type, imatrix, scheme, recipe, format = "compressed-tensors";
  std::string method = "rtn", calib, max_memory, dtype = "bfloat16";
  int64_t samples = 128, seq_len = 512, group_size = -1;
  uint64_t seed = 0;
  double damp = 0.01, alpha = 0.5;
  int threads = 0;
  bool force = false, leave_output = false, pure = false, verbose = false, resume = false;
  std::string act_order = "static";
  std::string kv_cache;  // --kv-cache-scheme: "" (the recipe's), fp8, int8, none
  bool awq_clip = false;
  // Whether --calib / --samples / --seq-len / --seed were given (they then override a recipe's).
  bool calib_set = false, samples_set = false, seq_len_set = false, seed_set = false;
  std::FILE* log = stdout;  // the summary lines (nullptr: none)
};

// Quantizes a.input into a.output (a GGUF mix with a.type, a SafeTensors checkpoint with a.scheme or
// a.recipe); throws squish::Error with a one-line message on bad input.
void run_quantize(const QuantizeArgs& a);

}  // namespace squish::cli
