// run_quantize(): `squish quantize IN OUT` into a GGUF file of a llama.cpp mix (`--type T`; `--method gptq` runs the
// layer-by-layer calibration engine and carries GPTQ out inside the blocks), or into an HF
// SafeTensors checkpoint of a scheme (`--scheme W4A16 --method gptq`, or `--recipe R.yaml`).
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "run/quantize.h"
#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/eval/eval_data.h"
#include "squish/export/calibrated_export.h"
#include "squish/export/gguf_quantize.h"
#include "squish/export/model_source.h"
#include "squish/quant/file_type.h"
#include "squish/quant/imatrix.h"
#include "squish/quant/recipe.h"

namespace squish::cli {
namespace {


// printf to a.log (nothing when it is null).
[[gnu::format(printf, 2, 3)]] void say(const QuantizeArgs& a, const char* fmt, ...) {
  if (!a.log) return;
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(a.log, fmt, ap);
  va_end(ap);
  std::fflush(a.log);
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}

FileType parse_type_or_throw(const std::string& name) {
  if (auto f = parse_file_type(name)) return *f;
  const auto near = suggest_file_types(name);
  std::string msg = "unknown quantization type";
  if (!near.empty()) msg += "; did you mean " + join(near, " or ") + "?";
  msg += " (valid: " + join(file_type_names(), ", ") + ")";
  throw Error("--type " + name, msg);
}

EngineOptions engine_options(const QuantizeArgs& a) {
  EngineOptions e;
  e.calib = {a.calib.empty() ? shared_data_path("calibration-mix.txt") : a.calib, a.samples, a.seq_len, a.seed};
  if (!a.max_memory.empty()) e.max_memory = parse_byte_size(a.max_memory, "--max-memory");
  e.resume = a.resume;
  return e;
}

void print_engine(const QuantizeArgs& a, const EngineReport& e, bool errors = true) {
  double err = 0, rtn = 0;
  int64_t n = 0, nr = 0;
  for (const auto& r : e.result.reports) {
    err += r.rel_error, ++n;
    if (r.rel_error_rtn >= 0) rtn += r.rel_error_rtn, ++nr;
  }
  if (e.n_samples == 0)
    say(a, "calibration: none (nothing reads activations), %lld layers resumed, %.1f s, peak RSS %.1f MiB\n",
                static_cast<long long>(e.resumed_layers), e.seconds, e.peak_rss / 1048576.0);
  else
    say(a, "calibration: %lld samples x %lld tokens, activations %.1f MiB%s, %lld layers resumed, %.1f s, peak RSS %.1f MiB\n",
                static_cast<long long>(e.n_samples), static_cast<long long>(e.seq_len),
                e.activation_bytes / 1048576.0, e.spilled ? " (spilled to a scratch file)" : " (in RAM)",
                static_cast<long long>(e.resumed_layers), e.seconds, e.peak_rss / 1048576.0);
  if (errors && nr > 0)
    say(a, "%lld linears: mean relative output error %.6f vs %.6f for plain rounding\n",
                static_cast<long long>(n), err / n, rtn / nr);
}

// Modifiers named by --method ("gptq", "awq", "smoothquant,gptq", "rtn") with the flags' settings.
std::vector<Modifier> modifiers_of(const QuantizeArgs& a) {
  std::vector<Modifier> mods = parse_methods(a.method, "--method " + a.method);
  for (Modifier& mod : mods) {
    mod.smoothing_strength = a.alpha;
    mod.dampening_frac = a.damp;
    mod.act_order = a.act_order != "off";
    mod.static_groups = a.act_order == "static";
    mod.awq_clip = a.awq_clip;
  }
  return mods;
}

void run_checkpoint(const QuantizeArgs& a) {
  Recipe r;
  if (!a.recipe.empty()) {
    if (!a.scheme.empty()) throw Error("--recipe " + a.recipe, "give either --recipe or --scheme, not both");
    r = parse_recipe_file(a.recipe);
  } else {
    r = recipe_from_scheme(a.scheme, a.group_size);
    r.modifiers = modifiers_of(a);
  }
  if (a.calib_set || r.calib_path.empty()) r.calib_path = a.calib;
  if (a.samples_set || a.recipe.empty()) r.samples = a.samples;
  if (a.seq_len_set || a.recipe.empty()) r.seq_len = a.seq_len;
  if (a.seed_set || a.recipe.empty()) r.seed = a.seed;
  if (a.kv_cache == "fp8") r.kv_cache = KvCacheScheme::Fp8;
  else if (a.kv_cache == "int8") r.kv_cache = KvCacheScheme::Int8;
  else if (a.kv_cache == "none") r.kv_cache = KvCacheScheme::None;
  validate_recipe(r, a.recipe.empty() ? "--scheme " + a.scheme : a.recipe);
  EngineOptions e = engine_options(a);
  e.calib = {r.calib_path.empty() ? shared_data_path("calibration-mix.txt") : r.calib_path, r.samples, r.seq_len, r.seed};
  CheckpointOptions c;
  c.out_dir = a.output;
  c.format = parse_checkpoint_format(a.format);
  c.overwrite = a.force;
  c.dtype = a.dtype;
  if (c.format == CheckpointFormat::Unquantized) throw Error("--format unquantized", "a scheme needs a quantized format");
  // compressed-tensors (0.19) no longer reads per-column group indices (actorder "group"): act-order
  // there fixes the groups before the solve, as llm-compressor's default "static" does.
  for (Modifier& m : r.modifiers)
    if (c.format == CheckpointFormat::CompressedTensors && m.kind == Modifier::Kind::Gptq && m.act_order &&
        !m.static_groups) {
      m.static_groups = true;
      std::fprintf(stderr, "squish: note: compressed-tensors act-order uses static groups (use --format gptq for g_idx)\n");
    }
  say(a, "%s\n", describe_recipe(r).c_str());
  const EngineReport rep = write_calibrated_checkpoint(a.input, r, c, e, a.verbose);
  if (a.verbose)
    for (const auto& l : rep.result.reports)
      std::fprintf(stderr, "%-28s %-18s relative output error %.6f (plain rounding %.6f)\n", l.tensor.c_str(),
                   l.method.c_str(), l.rel_error, l.rel_error_rtn);
  print_engine(a, rep);
  say(a, "wrote %s (%zu quantized linears, %s)\n", a.output.c_str(), rep.n_matrices, a.format.c_str());
}

void run_gguf(const QuantizeArgs& a) {
  const FileType ftype = parse_type_or_throw(a.type);
  std::optional<ImportanceMatrix> imatrix;
  if (!a.imatrix.empty()) imatrix = ImportanceMatrix::load(a.imatrix);
  if (a.method != "rtn" && a.method != "gptq")
    throw Error("--method " + a.method, "unknown method for GGUF output (valid: rtn, gptq)");
  QuantizeOptions opt;
  opt.ftype = ftype;
  opt.leave_output_tensor = a.leave_output;
  opt.pure = a.pure;
  opt.overwrite = a.force;
  opt.imatrix = imatrix ? &*imatrix : nullptr;
  opt.imatrix_path = a.imatrix;
  opt.on_warning = [](const std::string& w) { std::fprintf(stderr, "squish: warning: %s\n", w.c_str()); };
  opt.gptq_damp = a.damp;
  opt.gptq_measure = a.verbose;
  std::optional<EngineReport> engine;
  QuantizeReport r;
  if (a.method == "gptq") {
    EngineReport e;
    r = quantize_calibrated_gguf(a.input, a.output, opt, engine_options(a), &e);
    engine = std::move(e);
  } else {
    r = quantize_to_gguf(*open_model_source(a.input), a.output, opt);
  }
  int64_t n_elements = 0, n_imatrix = 0;
  for (const auto& t : r.tensors) {
    n_elements += static_cast<int64_t>(t.n_elements);
    n_imatrix += t.used_imatrix ? 1 : 0;
  }
  say(a, "%s -> %s (%s): %zu tensors, %.2f MiB -> %.2f MiB, %.3f bits per weight\n",
              a.input.c_str(), a.output.c_str(), file_type_name(ftype).c_str(), r.tensors.size(),
              r.input_bytes / 1048576.0, r.output_bytes / 1048576.0,
              n_elements ? 8.0 * r.output_bytes / n_elements : 0.0);
  if (imatrix)
    say(a, "importance matrix %s used for %lld tensors\n", a.imatrix.c_str(),
                static_cast<long long>(n_imatrix));
  if (engine) {
    if (a.verbose)
      for (const auto& l : engine->result.reports)
        std::fprintf(stderr, "%-28s %-5s relative output error %.6f (plain rounding %.6f)\n", l.tensor.c_str(),
                     l.method.c_str(), l.rel_error, l.rel_error_rtn);
    int64_t n_gptq = 0;
    double err = 0, rtn = 0;
    for (const auto& l : engine->result.reports)
      if (l.method == "gptq") ++n_gptq, err += l.rel_error, rtn += l.rel_error_rtn;
    if (a.verbose && n_gptq > 0)
      say(a, "GPTQ in %lld tensors: mean relative output error %.6f vs %.6f for plain rounding\n",
                  static_cast<long long>(n_gptq), err / n_gptq, rtn / n_gptq);
    else
      say(a, "GPTQ in %lld tensors, layer by layer on the quantized layers' outputs (-v for output errors vs plain rounding)\n",
                  static_cast<long long>(n_gptq));
    print_engine(a, *engine, false);
  }
  say(a, "%.2f s, %.1f MB/s of input, %d threads\n", r.seconds,
              r.seconds > 0 ? r.input_bytes / 1e6 / r.seconds : 0.0, num_threads());
}

}  // namespace

void run_quantize(const QuantizeArgs& a) {
  // The checks CLI11 makes on the command line, for callers without it (the Python module).
  if (a.act_order != "static" && a.act_order != "group" && a.act_order != "off")
    throw Error("--act-order " + a.act_order, "unknown column order (valid: static, group, off)");
  if (!a.kv_cache.empty() && a.kv_cache != "fp8" && a.kv_cache != "int8" && a.kv_cache != "none")
    throw Error("--kv-cache-scheme " + a.kv_cache, "unknown KV-cache scheme (valid: fp8, int8, none)");
  if (a.samples < 1) throw Error("--samples " + std::to_string(a.samples), "must be at least 1");
  if (a.seq_len < 2) throw Error("--seq-len " + std::to_string(a.seq_len), "must be at least 2");
  if (a.threads > 0) set_num_threads(a.threads);
  const bool checkpoint = !a.scheme.empty() || !a.recipe.empty();
  if (checkpoint == !a.type.empty())
    throw Error(a.output, checkpoint ? "give --type (GGUF) or --scheme/--recipe (SafeTensors), not both"
                                     : "give --type T for a GGUF file, or --scheme S / --recipe R for a SafeTensors checkpoint");
  if (checkpoint) run_checkpoint(a);
  else run_gguf(a);
}

}  // namespace squish::cli
