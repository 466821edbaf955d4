// Quantization recipes: a named scheme (weights + activations, llm-compressor / compressed-tensors'
// presets), the steps that produce it (SmoothQuant, AWQ, GPTQ, RTN), which linears they apply to
// and the calibration data — built from a scheme name or parsed from a YAML file in either
// llm-compressor's own recipe layout or squish's flat one, and checked before any long work.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "squish/formats/activation_quant.h"
#include "squish/formats/number_formats.h"

namespace squish {

// Which layers a smoothing step balances: the linears reading one activation and the layer whose
// output is that activation (module names or "re:" regexes).
struct SmoothMapping {
  std::vector<std::string> balance;  // e.g. {"re:.*q_proj", "re:.*k_proj", "re:.*v_proj"}
  std::string smooth;                // e.g. "re:.*input_layernorm"
};

// One step of a recipe, in order.
struct Modifier {
  enum class Kind { Rtn, Gptq, Awq, SmoothQuant };
  Kind kind = Kind::Rtn;
  double smoothing_strength = 0.5;   // SmoothQuant α
  int awq_grid = 20; bool awq_clip = false;          // AWQ
  double dampening_frac = 0.01; int64_t block_size = 128;                        // GPTQ
  bool act_order = true, static_groups = true;  // GPTQ column order: llm-compressor's default actorder "static"
  bool awq_duo_scaling = true;              // AWQ: scales from activations and weights
  std::vector<SmoothMapping> mappings;      // SmoothQuant / AWQ; empty: the architecture's
  std::vector<std::string> mapping_ignore;  // SmoothQuant: smooth layers left alone
};

// Static per-tensor KV-cache quantization, its scales calibrated per layer (compressed-tensors'
// kv_cache_scheme: k_scale / v_scale of each attention module).
enum class KvCacheScheme { None, Fp8, Int8 };
// "fp8" | "int8" | "none".
std::string kv_cache_scheme_name(KvCacheScheme s);

// Upper bound on calibration samples and on tokens per sample (recipes and the CLI's --samples /
// --seq-len): the calibration buffers grow with both.
inline constexpr int64_t kMaxCalibrationCount = int64_t{1} << 20;

// A whole recipe: the scheme (weights + activations), the steps, what they apply to, calibration.
struct Recipe {
  std::string scheme = "W4A16";      // W4A16, W4A16_ASYM, W8A16, W8A8 (INT8), FP8 (E4M3 W8A8), FP8_DYNAMIC, W3A16, W2A16 ...
  QuantSpec weights;                  // from number_formats.h (bits, symmetric, granularity, group_size, format)
  InputQuant activations = InputQuant::None;   // from activation_quant.h
  std::vector<Modifier> modifiers;    // e.g. {SmoothQuant, Gptq}; RTN when empty
  std::vector<std::string> targets = {"Linear"};   // "Linear" or regexes "re:.*mlp.*" over HF module names
  std::vector<std::string> ignore = {"lm_head"};   // module names or "re:" regexes (embeddings never quantized)
  std::string calib_path; int64_t samples = 128; int64_t seq_len = 512; uint64_t seed = 0;
  KvCacheScheme kv_cache = KvCacheScheme::None;  // calibrate static KV-cache scales
};

// Named scheme (case-insensitive) with a group size (0 = per channel; the scheme's default when
// < 0): W4A16 → INT4 sym g128, W8A8 → INT8 per-channel weights + Int8PerToken, FP8 → FP8_E4M3
// per-tensor + Fp8Static, FP8_DYNAMIC → FP8_E4M3 per-channel + Fp8PerToken, ... as
// compressed-tensors' PRESET_SCHEMES define them, plus W3A16 / W2A16 (and _ASYM). Throws
// Error("--scheme X", "unknown scheme; did you mean …") with suggestions.
Recipe recipe_from_scheme(const std::string& scheme, int64_t group_size = -1);
// Names of the schemes recipe_from_scheme accepts, in a stable order.
std::vector<std::string> scheme_names();

// Parses a YAML recipe file: llm-compressor's layout (<name>_stage → <name>_modifiers →
// SmoothQuantModifier / GPTQModifier / AWQModifier / QuantizationModifier) or squish's flat one
// ({scheme, group_size, methods, targets, ignore, calibration, smoothquant, gptq, awq}); see
// docs/recipes/README.md. Unknown keys, unknown modifiers, wrong value types and impossible
// combinations throw Error(path, "<key path>: <problem>") one-liners.
Recipe parse_recipe_file(const std::string& path);
// The same for YAML text; `source` names it in errors.
Recipe parse_recipe_text(const std::string& yaml, const std::string& source);

// Checks combinations that need no model: INT bits 2..8, group size > 0 or per channel, AWQ only
// with weight-only INT schemes, SmoothQuant only with activation-quantized schemes, GPTQ static
// groups need act-order, samples ≥ 1, seq_len ≥ 2, valid regexes ... Throws Error(source, ...).
void validate_recipe(const Recipe& r, const std::string& source);

// A linear of a model as recipes see it: GGUF name ("blk.0.attn_q.weight"), HF module name
// ("model.layers.0.self_attn.q_proj"), rows = output size, cols = input size.
struct RecipeTensor { std::string gguf_name, hf_module; int64_t rows = 0, cols = 0; };
// Checks the recipe against a model's linears before any long work: every target matches a
// linear, something is quantized, each targeted input size divisible by the group size, ...
void validate_recipe_for_model(const Recipe& r, const std::vector<RecipeTensor>& tensors, const std::string& source);
// Whether the recipe quantizes this linear (targets minus ignore; "Linear" matches every decoder
// linear; lm_head only when a target names or matches it; embeddings only when named exactly).
bool recipe_targets(const Recipe& r, const RecipeTensor& t);

// The steps named by a method string ("rtn", "gptq", "awq", "smoothquant", combined with ',' or '+'
// in order, e.g. "smoothquant+gptq"), with default settings; RTN adds no step. Throws
// Error(source, "unknown method ...") naming the valid ones.
std::vector<Modifier> parse_methods(const std::string& methods, const std::string& source);

// One-line description ("W4A16 int4-sym/g128, gptq(damp 0.01, act-order) after smoothquant(0.5)").
std::string describe_recipe(const Recipe& r);

}  // namespace squish
