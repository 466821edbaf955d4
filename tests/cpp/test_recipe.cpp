// Quantization schemes and YAML recipes: the presets, both recipe layouts, the shipped examples,
// every bad-input error (naming the file and the key), and the checks against a model's linears.
#include <gtest/gtest.h>

#include <fstream>

#include "squish/common/error.h"
#include "squish/quant/recipe.h"
#include "test_support.h"

namespace squish {
namespace {

using Kind = Modifier::Kind;
const char* kSrc = "recipe.yaml";

// The problem text of the Error a recipe raises (fails the test when it parses).
std::string parse_error(const std::string& yaml) {
  try {
    parse_recipe_text(yaml, kSrc);
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), kSrc);
    return e.problem();
  }
  ADD_FAILURE() << "parsed without error:\n" << yaml;
  return "";
}

// The same for validate_recipe_for_model.
std::string model_error(const Recipe& r, const std::vector<RecipeTensor>& tensors) {
  try {
    validate_recipe_for_model(r, tensors, "model.gguf");
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "model.gguf");
    return e.problem();
  }
  ADD_FAILURE() << "validated without error";
  return "";
}

#define EXPECT_HAS(text, part) EXPECT_NE(std::string(text).find(part), std::string::npos) << (text)

void expect_same_spec(const QuantSpec& a, const QuantSpec& b) {
  EXPECT_EQ(describe(a), describe(b));
  EXPECT_EQ(a.symmetric, b.symmetric);
  EXPECT_EQ(a.group_size, b.group_size);
}

// Field-by-field equality of two recipes.
void expect_same(const Recipe& a, const Recipe& b) {
  EXPECT_EQ(a.scheme, b.scheme);
  expect_same_spec(a.weights, b.weights);
  EXPECT_EQ(a.activations, b.activations);
  ASSERT_EQ(a.modifiers.size(), b.modifiers.size());
  for (size_t i = 0; i < a.modifiers.size(); ++i) {
    const Modifier &x = a.modifiers[i], &y = b.modifiers[i];
    EXPECT_EQ(x.kind, y.kind) << i;
    EXPECT_DOUBLE_EQ(x.smoothing_strength, y.smoothing_strength);
    EXPECT_EQ(x.awq_grid, y.awq_grid);
    EXPECT_EQ(x.awq_clip, y.awq_clip);
    EXPECT_DOUBLE_EQ(x.dampening_frac, y.dampening_frac);
    EXPECT_EQ(x.block_size, y.block_size);
    EXPECT_EQ(x.act_order, y.act_order);
    EXPECT_EQ(x.static_groups, y.static_groups);
    ASSERT_EQ(x.mappings.size(), y.mappings.size());
    for (size_t j = 0; j < x.mappings.size(); ++j) {
      EXPECT_EQ(x.mappings[j].balance, y.mappings[j].balance);
      EXPECT_EQ(x.mappings[j].smooth, y.mappings[j].smooth);
    }
  }
  EXPECT_EQ(a.targets, b.targets);
  EXPECT_EQ(a.ignore, b.ignore);
  EXPECT_EQ(a.calib_path, b.calib_path);
  EXPECT_EQ(a.samples, b.samples);
  EXPECT_EQ(a.seq_len, b.seq_len);
  EXPECT_EQ(a.seed, b.seed);
  EXPECT_EQ(a.kv_cache, b.kv_cache);
}

// ---------------------------------------------------------------------------------------------
// Preset schemes (compressed-tensors' PRESET_SCHEMES).

TEST(RecipeScheme, PresetsMatchCompressedTensors) {
  struct Case {
    const char* name;
    ElementFormat format;
    int bits;
    bool symmetric;
    Granularity granularity;
    int64_t group;
    InputQuant acts;
  };
  const Case cases[] = {
      {"W4A16", ElementFormat::Int, 4, true, Granularity::PerGroup, 128, InputQuant::None},
      {"W4A16_ASYM", ElementFormat::Int, 4, false, Granularity::PerGroup, 128, InputQuant::None},
      {"W8A16", ElementFormat::Int, 8, true, Granularity::PerGroup, 128, InputQuant::None},
      {"W8A8", ElementFormat::Int, 8, true, Granularity::PerChannel, 0, InputQuant::Int8PerToken},
      {"INT8", ElementFormat::Int, 8, true, Granularity::PerChannel, 0, InputQuant::Int8PerToken},
      {"W4A8", ElementFormat::Int, 4, true, Granularity::PerGroup, 128, InputQuant::Int8PerToken},
      {"W4AFP8", ElementFormat::Int, 4, true, Granularity::PerGroup, 128, InputQuant::Fp8PerToken},
      {"FP8", ElementFormat::FP8_E4M3, 8, true, Granularity::PerTensor, 0, InputQuant::Fp8Static},
      {"FP8_DYNAMIC", ElementFormat::FP8_E4M3, 8, true, Granularity::PerChannel, 0, InputQuant::Fp8PerToken},
      {"W3A16", ElementFormat::Int, 3, true, Granularity::PerGroup, 128, InputQuant::None},
      {"W2A16", ElementFormat::Int, 2, true, Granularity::PerGroup, 128, InputQuant::None},
      {"W2A16_ASYM", ElementFormat::Int, 2, false, Granularity::PerGroup, 128, InputQuant::None},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Recipe r = recipe_from_scheme(c.name);
    EXPECT_EQ(r.scheme, c.name);
    EXPECT_EQ(r.weights.format, c.format);
    if (c.format == ElementFormat::Int) {
      EXPECT_EQ(r.weights.bits, c.bits);
    }
    EXPECT_EQ(r.weights.symmetric, c.symmetric);
    EXPECT_EQ(r.weights.method, c.symmetric ? ScaleMethod::AbsMax : ScaleMethod::MinMax);
    EXPECT_EQ(r.weights.granularity, c.granularity);
    if (c.granularity == Granularity::PerGroup) {
      EXPECT_EQ(r.weights.group_size, c.group);
    }
    EXPECT_EQ(r.activations, c.acts);
    EXPECT_TRUE(r.modifiers.empty());
    EXPECT_EQ(r.targets, std::vector<std::string>{"Linear"});
    EXPECT_EQ(r.ignore, std::vector<std::string>{"lm_head"});
    validate_recipe(r, c.name);
  }
  EXPECT_EQ(scheme_names().size(), 13u);
}

TEST(RecipeScheme, CaseInsensitiveWithGroupSize) {
  const Recipe a = recipe_from_scheme("w4a16", 64);
  EXPECT_EQ(a.scheme, "W4A16");
  EXPECT_EQ(a.weights.granularity, Granularity::PerGroup);
  EXPECT_EQ(a.weights.group_size, 64);
  const Recipe b = recipe_from_scheme("fp8_dynamic", 0);
  EXPECT_EQ(b.weights.granularity, Granularity::PerChannel);
  const Recipe c = recipe_from_scheme("W8A8", 128);
  EXPECT_EQ(c.weights.granularity, Granularity::PerGroup);
  EXPECT_EQ(c.weights.group_size, 128);
  EXPECT_EQ(recipe_from_scheme("W4A16", 0).weights.granularity, Granularity::PerChannel);
}

TEST(RecipeScheme, UnknownSchemeSuggests) {
  try {
    recipe_from_scheme("W4A61");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "--scheme W4A61");
    EXPECT_HAS(e.problem(), "unknown scheme 'W4A61'; did you mean W4A16");
    EXPECT_HAS(e.problem(), "supported: W4A16");
  }
  try {
    recipe_from_scheme("nvfp4");
    FAIL();
  } catch (const Error& e) {
    EXPECT_HAS(e.problem(), "scheme NVFP4 (NVFP4 weights and activations) is not supported by squish");
  }
  EXPECT_THROW(recipe_from_scheme(""), Error);
}

// ---------------------------------------------------------------------------------------------
// Both layouts.

const char* kFlat = R"(
scheme: W8A8
group_size: 128
methods: [smoothquant, gptq]
targets: ["re:.*mlp.*", "re:.*self_attn.*"]
ignore: [lm_head, "re:.*layers\\.0\\..*"]
kv_cache_fp8: true
calibration: {file: calib.txt, samples: 64, seq_len: 256, seed: 7}
smoothquant:
  alpha: 0.75
  mappings:
    - [["re:.*q_proj", "re:.*k_proj", "re:.*v_proj"], "re:.*input_layernorm"]
gptq: {damp: 0.05, block_size: 64, act_order: true, static_groups: true}
)";

const char* kLlmc = R"(
version: "1.0"
quant_stage:
  quant_modifiers:
    SmoothQuantModifier:
      smoothing_strength: 0.75
      mappings:
        - [["re:.*q_proj", "re:.*k_proj", "re:.*v_proj"], "re:.*input_layernorm"]
    GPTQModifier:
      ignore: [lm_head, "re:.*layers\\.0\\..*"]
      dampening_frac: 0.05
      block_size: 64
      actorder: weight
      kv_cache_scheme: {num_bits: 8, type: float, strategy: tensor, dynamic: false, symmetric: true}
      config_groups:
        group_0:
          targets: ["re:.*mlp.*", "re:.*self_attn.*"]
          weights: {num_bits: 8, type: int, symmetric: true, strategy: group, group_size: 128}
          input_activations: {num_bits: 8, type: int, symmetric: true, strategy: token, dynamic: true}
calibration: {file: calib.txt, samples: 64, seq_len: 256, seed: 7}
)";

TEST(RecipeParse, FlatLayout) {
  const Recipe r = parse_recipe_text(kFlat, kSrc);
  EXPECT_EQ(r.scheme, "W8A8");
  EXPECT_EQ(r.weights.format, ElementFormat::Int);
  EXPECT_EQ(r.weights.bits, 8);
  EXPECT_EQ(r.weights.granularity, Granularity::PerGroup);
  EXPECT_EQ(r.weights.group_size, 128);
  EXPECT_EQ(r.activations, InputQuant::Int8PerToken);
  ASSERT_EQ(r.modifiers.size(), 2u);
  EXPECT_EQ(r.modifiers[0].kind, Kind::SmoothQuant);
  EXPECT_DOUBLE_EQ(r.modifiers[0].smoothing_strength, 0.75);
  ASSERT_EQ(r.modifiers[0].mappings.size(), 1u);
  EXPECT_EQ(r.modifiers[0].mappings[0].balance.size(), 3u);
  EXPECT_EQ(r.modifiers[0].mappings[0].smooth, "re:.*input_layernorm");
  EXPECT_EQ(r.modifiers[1].kind, Kind::Gptq);
  EXPECT_DOUBLE_EQ(r.modifiers[1].dampening_frac, 0.05);
  EXPECT_EQ(r.modifiers[1].block_size, 64);
  EXPECT_TRUE(r.modifiers[1].act_order);
  EXPECT_TRUE(r.modifiers[1].static_groups);
  EXPECT_EQ(r.targets, (std::vector<std::string>{"re:.*mlp.*", "re:.*self_attn.*"}));
  EXPECT_EQ(r.ignore, (std::vector<std::string>{"lm_head", "re:.*layers\\.0\\..*"}));
  EXPECT_EQ(r.calib_path, "calib.txt");
  EXPECT_EQ(r.samples, 64);
  EXPECT_EQ(r.seq_len, 256);
  EXPECT_EQ(r.seed, 7u);
  EXPECT_EQ(r.kv_cache, KvCacheScheme::Fp8);
}

TEST(RecipeParse, LlmCompressorLayoutEqualsFlat) {
  expect_same(parse_recipe_text(kLlmc, kSrc), parse_recipe_text(kFlat, kSrc));
}

TEST(RecipeParse, FlatDefaultsAndRtnDropped) {
  const Recipe r = parse_recipe_text("scheme: w4a16_asym\ngroup_size: 32\nmethods: [awq, rtn]\nawq: {grid: 10}\n", kSrc);
  EXPECT_EQ(r.scheme, "W4A16_ASYM");
  EXPECT_FALSE(r.weights.symmetric);
  EXPECT_EQ(r.weights.group_size, 32);
  ASSERT_EQ(r.modifiers.size(), 1u);  // RTN is the default weight quantizer
  EXPECT_EQ(r.modifiers[0].kind, Kind::Awq);
  EXPECT_EQ(r.modifiers[0].awq_grid, 10);
  EXPECT_FALSE(r.modifiers[0].awq_clip);
  EXPECT_EQ(r.samples, 128);
  EXPECT_EQ(r.seq_len, 512);
  EXPECT_TRUE(parse_recipe_text("ignore: null\n", kSrc).ignore.empty());
  const Recipe d = parse_recipe_text("methods: gptq\n", kSrc);
  EXPECT_EQ(d.scheme, "W4A16");
  ASSERT_EQ(d.modifiers.size(), 1u);
  EXPECT_TRUE(d.modifiers[0].act_order && d.modifiers[0].static_groups);  // llm-compressor's "static"
  const Recipe off = parse_recipe_text("methods: gptq\ngptq: {act_order: false}\n", kSrc);
  EXPECT_FALSE(off.modifiers[0].act_order || off.modifiers[0].static_groups);
}

TEST(RecipeParse, ConfigGroupsAndPresetTargets) {
  const Recipe g = parse_recipe_text(R"(
quant_stage:
  quant_modifiers:
    GPTQModifier:
      ignore: [lm_head]
      config_groups:
        group_0:
          targets: [Linear]
          input_activations: null
          output_activations: null
          weights: {num_bits: 3, type: int, symmetric: false, strategy: group, group_size: 64, observer: mse}
)", kSrc);
  EXPECT_EQ(g.scheme, "W3A16_ASYM");
  EXPECT_EQ(g.weights.bits, 3);
  EXPECT_FALSE(g.weights.symmetric);
  EXPECT_EQ(g.weights.group_size, 64);
  EXPECT_EQ(g.weights.method, ScaleMethod::MseClip);
  ASSERT_EQ(g.modifiers.size(), 1u);
  EXPECT_TRUE(g.modifiers[0].act_order);  // llm-compressor's default actorder: static
  EXPECT_TRUE(g.modifiers[0].static_groups);

  const Recipe p = parse_recipe_text(R"(
quant_stage:
  quant_modifiers:
    QuantizationModifier:
      scheme: {FP8_DYNAMIC: ["re:.*mlp.*"]}
)", kSrc);
  EXPECT_EQ(p.scheme, "FP8_DYNAMIC");
  EXPECT_EQ(p.weights.format, ElementFormat::FP8_E4M3);
  EXPECT_EQ(p.activations, InputQuant::Fp8PerToken);
  EXPECT_EQ(p.targets, std::vector<std::string>{"re:.*mlp.*"});
  EXPECT_TRUE(p.modifiers.empty());  // QuantizationModifier is RTN

  const Recipe s = parse_recipe_text(R"(
oneshot_stage:
  quant_modifiers:
    QuantizationModifier:
      scheme:
        weights: {num_bits: 8, type: float, strategy: channel}
        input_activations: {num_bits: 8, type: float, strategy: tensor, dynamic: false, observer: static_minmax}
)", kSrc);
  EXPECT_EQ(s.scheme, "FP8");
  EXPECT_EQ(s.weights.granularity, Granularity::PerChannel);
  EXPECT_EQ(s.activations, InputQuant::Fp8Static);

  const Recipe i = parse_recipe_text(R"(
quant_stage:
  quant_modifiers:
    GPTQModifier:
      scheme: W8A8
      actorder: group
)", kSrc);  // per-channel weights take no GPTQModifier.actorder (llm-compressor)
  EXPECT_FALSE(i.modifiers[0].act_order);
  const Recipe j = parse_recipe_text("quant_stage:\n  quant_modifiers:\n    GPTQModifier: {scheme: W4A16, actorder: null}\n", kSrc);
  EXPECT_FALSE(j.modifiers[0].act_order);
  const Recipe k = parse_recipe_text("quant_stage:\n  quant_modifiers:\n    GPTQModifier: {scheme: W4A16, actorder: true}\n", kSrc);
  EXPECT_TRUE(k.modifiers[0].act_order);
  EXPECT_FALSE(k.modifiers[0].static_groups);
}

TEST(RecipeParse, AwqThenQuantizationModifierAndStages) {
  const Recipe r = parse_recipe_text(R"(
smooth_stage:
  awq_modifiers:
    AWQModifier:
      duo_scaling: false
      n_grid: 8
      mappings:
        - smooth_layer: "re:.*input_layernorm"
          balance_layers: ["re:.*q_proj", "re:.*k_proj", "re:.*v_proj"]
quant_stage:
  quant_modifiers:
    QuantizationModifier:
      scheme: W4A16_ASYM
      ignore: [lm_head]
)", kSrc);
  EXPECT_EQ(r.scheme, "W4A16_ASYM");
  ASSERT_EQ(r.modifiers.size(), 1u);
  EXPECT_EQ(r.modifiers[0].kind, Kind::Awq);
  EXPECT_FALSE(r.modifiers[0].awq_duo_scaling);
  EXPECT_EQ(r.modifiers[0].awq_grid, 8);
  ASSERT_EQ(r.modifiers[0].mappings.size(), 1u);
  EXPECT_EQ(r.modifiers[0].mappings[0].smooth, "re:.*input_layernorm");
  EXPECT_EQ(r.modifiers[0].mappings[0].balance.size(), 3u);

  // A QuantizationModifier for the KV cache alone, then GPTQ with the scheme.
  const Recipe kv = parse_recipe_text(R"(
quant_stage:
  quant_modifiers:
    QuantizationModifier:
      kv_cache_scheme: {num_bits: 8, type: float, strategy: tensor, dynamic: false, symmetric: true}
    GPTQModifier: {scheme: W4A16, ignore: [lm_head]}
)", kSrc);
  EXPECT_EQ(kv.kv_cache, KvCacheScheme::Fp8);
  EXPECT_EQ(kv.modifiers.size(), 1u);
}

TEST(RecipeParse, ShippedExamples) {
  const std::string dir = test::source_dir() + "/docs/recipes/";
  const Recipe a = parse_recipe_file(dir + "w4a16_gptq.yaml");
  EXPECT_EQ(a.scheme, "W4A16");
  EXPECT_EQ(a.weights.group_size, 128);
  ASSERT_EQ(a.modifiers.size(), 1u);
  EXPECT_EQ(a.modifiers[0].kind, Kind::Gptq);
  EXPECT_TRUE(a.modifiers[0].act_order && a.modifiers[0].static_groups);
  EXPECT_EQ(describe_recipe(a), "W4A16 int4-sym/g128, gptq(damp 0.01, act-order static-groups)");

  const Recipe b = parse_recipe_file(dir + "w8a8_smoothquant_gptq.yaml");
  EXPECT_EQ(b.scheme, "W8A8");
  EXPECT_EQ(b.activations, InputQuant::Int8PerToken);
  ASSERT_EQ(b.modifiers.size(), 2u);
  EXPECT_EQ(b.modifiers[0].kind, Kind::SmoothQuant);
  EXPECT_DOUBLE_EQ(b.modifiers[0].smoothing_strength, 0.8);
  EXPECT_EQ(b.modifiers[0].mappings.size(), 2u);
  EXPECT_EQ(b.modifiers[1].kind, Kind::Gptq);
  EXPECT_FALSE(b.modifiers[1].act_order);
  EXPECT_EQ(describe_recipe(b),
            "W8A8 int8-sym/channel + int8-per-token activations, gptq(damp 0.01) after smoothquant(0.8)");

  const Recipe c = parse_recipe_file(dir + "w4a16_asym_awq.yaml");
  EXPECT_EQ(c.scheme, "W4A16_ASYM");
  EXPECT_EQ(c.weights.group_size, 64);
  ASSERT_EQ(c.modifiers.size(), 1u);
  EXPECT_TRUE(c.modifiers[0].awq_clip);
  EXPECT_EQ(c.samples, 64);
  EXPECT_EQ(describe_recipe(c), "W4A16_ASYM int4-asym/g64, rtn after awq(grid 20, clip)");
}

TEST(RecipeParse, MissingFile) {
  try {
    parse_recipe_file("/nonexistent/recipe.yaml");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.file(), "/nonexistent/recipe.yaml");
    EXPECT_HAS(e.problem(), "cannot open");
  }
}

// ---------------------------------------------------------------------------------------------
// Bad input: every error names the file (checked in parse_error) and the key.

TEST(RecipeErrors, FlatLayout) {
  const std::pair<const char*, const char*> cases[] = {
      {"gruop_size: 64\n", "unknown key 'gruop_size' (did you mean group_size?) (line 1)"},
      {"methods: [gptq]\ngptq:\n  act_order: yes please\n", "gptq.act_order: expected a boolean, got 'yes please' (line 3)"},
      {"methods: [gptq]\ngptq: {act_order: 3}\n", "gptq.act_order: expected a boolean"},
      {"methods: [gptq]\ngptq:\n  act_order:\n", "gptq.act_order: expected a boolean, got null"},
      {"methods: [gptq]\ngptq: {damp: abc}\n", "gptq.damp: expected a number, got 'abc'"},
      {"methods: [gptq]\ngptq: {block_size: 1.5}\n", "gptq.block_size: expected an integer"},
      {"methods: [gptq]\ngptq: {dmap: 0.1}\n", "gptq: unknown key 'dmap' (did you mean damp?)"},
      {"methods: [gptq]\ngptq: {act_order: false, static_groups: true}\n", "gptq.static_groups: needs act_order"},
      {"methods: [gptq]\ngptq: {block_size: 100}\n", "gptq.block_size: 100 and group_size 128"},
      {"methods: [gptq]\ngptq: {damp: 1.5}\n", "gptq.damp: must be in [0, 1)"},
      {"methods: [gptq]\ngptq: [1, 2]\n", "gptq: expected a map, got a list"},
      {"gptq: {damp: 0.1}\n", "gptq: settings given but 'gptq' is not in methods"},
      {"methods: [gptqq]\n", "methods[0]: unknown method 'gptqq'; did you mean gptq?"},
      {"methods: [gptq, gptq]\n", "methods[1]: 'gptq' is listed twice"},
      {"methods: [rtn, gptq]\n", "rtn and gptq both quantize the weights"},
      {"scheme: W8A8\nmethods: [gptq, smoothquant]\n", "smoothquant must come before the weight quantizer"},
      {"methods: {a: 1}\n", "methods: expected a string or a list of strings, got a map"},
      {"scheme: W4A61\n", "scheme: unknown scheme 'W4A61'; did you mean W4A16"},
      {"scheme: NVFP4A16\n", "scheme: scheme NVFP4A16 (NVFP4 weights) is not supported by squish"},
      {"scheme: [W4A16]\n", "scheme: expected a string, got a list"},
      {"group_size: -5\n", "group_size: must be > 0, or 0 for per channel; got -5"},
      {"group_size: big\n", "group_size: expected an integer, got 'big'"},
      {"scheme: W8A8\nmethods: [awq]\n", "awq: needs a weight-only scheme (W4A16, W8A16, ...); W8A8 quantizes activations"},
      {"scheme: FP8\nmethods: [awq]\n", "awq: needs a weight-only scheme"},
      {"scheme: W4A16\nmethods: [smoothquant]\n", "smoothquant: needs a scheme that quantizes activations"},
      {"scheme: W8A8\nmethods: [smoothquant]\nsmoothquant: {alpha: 1.5}\n", "smoothquant.alpha: must be in [0, 1]"},
      {"scheme: W8A8\nmethods: [smoothquant]\nsmoothquant: {mappings: [[a, b, c]]}\n", "smoothquant.mappings[0]: expected a [[balance layers...], smooth layer] pair"},
      {"methods: [awq]\nawq: {grid: 0}\n", "awq.grid: must be 1..1000, got 0"},
      {"methods: [awq]\nawq: {clip: maybe}\n", "awq.clip: expected a boolean, got 'maybe'"},
      {"calibration: {samples: 0}\n", "calibration.samples: must be 1..1048576, got 0"},
      {"calibration: {samples: 1073741824}\n", "calibration.samples: must be 1..1048576, got 1073741824"},
      {"calibration: {seq_len: 1}\n", "calibration.seq_len: must be 2..1048576, got 1"},
      {"calibration: {seed: -1}\n", "calibration.seed: expected a non-negative integer, got '-1'"},
      {"calibration: {fille: x.txt}\n", "calibration: unknown key 'fille' (did you mean file?)"},
      {"calibration: {file: [a, b]}\n", "calibration.file: expected a string, got a list"},
      {"targets: {a: b}\n", "targets: expected a string or a list of strings, got a map"},
      {"targets: [\"re:((\"]\n", "targets[0]: invalid regex 're:(('"},
      {"ignore: [Linear, [x]]\n", "ignore[1]: expected a string, got a list"},
      {"targets: []\n", "targets: empty"},
      {"kv_cache_fp8: fp8\n", "kv_cache_fp8: expected a boolean, got 'fp8'"},
      {"scheme: W4A16\nscheme: W8A8\n", "duplicate key 'scheme'"},
      {"scheme: [W4A16\n", "YAML syntax error"},
      {"", "empty recipe"},
      {"# only a comment\n", "empty recipe"},
      {"hello\n", "a recipe is a map of keys, got 'hello'"},
  };
  for (const auto& [yaml, want] : cases) {
    SCOPED_TRACE(yaml);
    EXPECT_HAS(parse_error(yaml), want);
  }
}

TEST(RecipeErrors, LlmCompressorLayout) {
  const std::string stage = "quant_stage:\n  quant_modifiers:\n";
  const std::pair<std::string, const char*> cases[] = {
      {stage + "    GPTQModifer: {scheme: W4A16}\n",
       "quant_stage.quant_modifiers.GPTQModifer: unknown modifier 'GPTQModifer'; did you mean GPTQModifier?"},
      {stage + "    SparseGPTModifier: {sparsity: 0.5}\n", "unknown modifier 'SparseGPTModifier'"},
      {stage + "    GPTQModifier: {scheme: W4A16, dampening_frac: x}\n",
       "quant_stage.quant_modifiers.GPTQModifier.dampening_frac: expected a number, got 'x'"},
      {stage + "    GPTQModifier: {scheme: W4A16, dampening_fraction: 0.1}\n",
       "quant_stage.quant_modifiers.GPTQModifier: unknown key 'dampening_fraction' (did you mean dampening_frac?)"},
      {stage + "    GPTQModifier: {scheme: W4A16, block_size: [1]}\n", "GPTQModifier.block_size: expected an integer, got a list"},
      {stage + "    GPTQModifier: {scheme: W4A16, actorder: sideways}\n",
       "GPTQModifier.actorder: expected weight, static, group, dynamic, a boolean or null; got 'sideways'"},
      {stage + "    GPTQModifier: {scheme: W4A61}\n", "GPTQModifier.scheme: unknown scheme 'W4A61'; did you mean W4A16"},
      {stage + "    GPTQModifier: {dampening_frac: 0.1}\n",
       "GPTQModifier: no quantization scheme: give scheme or config_groups here or in an earlier modifier"},
      {stage + "    SmoothQuantModifier: {smoothing_strength: 0.5}\n", "no modifier sets a quantization scheme"},
      {stage + "    SmoothQuantModifier: {smoothing_strength: high}\n    GPTQModifier: {scheme: W8A8}\n",
       "SmoothQuantModifier.smoothing_strength: expected a number, got 'high'"},
      {stage + "    SmoothQuantModifier: {num_calibration_steps: 10}\n    GPTQModifier: {scheme: W8A8}\n",
       "SmoothQuantModifier.num_calibration_steps: not supported by squish (set calibration.samples)"},
      {stage + "    GPTQModifier: {scheme: W8A8}\n    SmoothQuantModifier: {}\n",
       "quant_stage.quant_modifiers.SmoothQuantModifier: SmoothQuantModifier must come before the modifier that quantizes the weights"},
      {stage + "    SmoothQuantModifier: {}\n    GPTQModifier: {scheme: W4A16}\n",
       "smoothquant: needs a scheme that quantizes activations"},
      {stage + "    AWQModifier: {scheme: W8A8}\n", "awq: needs a weight-only scheme"},
      {stage + "    AWQModifier: {scheme: W4A16, n_grid: -1}\n", "AWQModifier.n_grid: must be 1..1000, got -1"},
      {stage + "    AWQModifier: {scheme: W4A16, mappings: [{smooth_layer: a}]}\n",
       "AWQModifier.mappings[0]: needs smooth_layer and balance_layers"},
      {stage + "    QuantizationModifier: {scheme: W8A8}\n    GPTQModifier: {scheme: W4A16}\n",
       "GPTQModifier: scheme W4A16 conflicts with W8A8 set in quant_stage.quant_modifiers.QuantizationModifier"},
      {stage + "    QuantizationModifier: {scheme: W4A16, config_groups: {g: {}}}\n",
       "QuantizationModifier.config_groups: give either scheme or config_groups, not both"},
      {stage + "    QuantizationModifier: {scheme: {W4A16: [Linear], W8A8: [re:.*mlp.*]}}\n",
       "QuantizationModifier.scheme: squish runs one scheme per recipe, got 2"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        a: {targets: [Linear], weights: {num_bits: 4}}\n        b: {targets: [Linear], weights: {num_bits: 8}}\n",
       "QuantizationModifier.config_groups: squish runs one config group per recipe, got 2"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        g: {weights: {num_bits: 4, group_size: 128}}\n",
       "config_groups.g.targets: missing"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        g: {targets: Linear, weights: {num_bits: 16}}\n",
       "config_groups.g.weights.num_bits: squish supports INT2..8 weights, got 16"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        g: {targets: Linear, weights: {num_bits: 4, type: float, group_size: 16}}\n",
       "config_groups.g.weights.num_bits: squish supports float weights of 8 bits (FP8 E4M3) only, got 4"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        g: {targets: Linear, weights: {num_bits: 4, type: fixed}}\n",
       "config_groups.g.weights.type: expected int or float, got 'fixed'"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        g: {targets: Linear, weights: {num_bits: 4, strategy: group}}\n",
       "config_groups.g.weights.group_size: strategy group needs a group_size > 0"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        g: {targets: Linear, weights: {num_bits: 4, strategy: channel, group_size: 64}}\n",
       "config_groups.g.weights.group_size: a group_size needs strategy: group"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        g: {targets: Linear, weights: {num_bits: 8, type: float, strategy: block, block_structure: [128, 128]}}\n",
       "config_groups.g.weights.block_structure: not supported by squish (block scales)"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        g: {targets: Linear, weights: {num_bits: 4, grup_size: 64}}\n",
       "config_groups.g.weights: unknown key 'grup_size' (did you mean group_size?)"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        g: {targets: Linear, weights: {num_bits: 4, group_size: 64, observer: hessian}}\n",
       "config_groups.g.weights.observer: unsupported observer 'hessian'"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        g:\n          targets: Linear\n          weights: {num_bits: 8, strategy: channel}\n          input_activations: {num_bits: 8, strategy: token, dynamic: false}\n",
       "config_groups.g.input_activations.dynamic: per-token activation quantization must be dynamic: true"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        g:\n          targets: Linear\n          weights: {num_bits: 8, strategy: channel}\n          input_activations: {num_bits: 4, strategy: token, dynamic: true}\n",
       "input_activations.num_bits: squish quantizes activations to 8 bits only, got 4"},
      {stage + "    QuantizationModifier:\n      config_groups:\n        g:\n          targets: Linear\n          weights: {num_bits: 8, strategy: channel}\n          output_activations: {num_bits: 8, strategy: token, dynamic: true}\n",
       "output_activations: output activation quantization is not supported"},
      {stage + "    QuantizationModifier:\n      scheme: W4A16\n      kv_cache_scheme: {num_bits: 4, type: int}\n",
       "QuantizationModifier.kv_cache_scheme: squish calibrates FP8 / INT8 KV caches with static per-tensor scales only"},
      {stage + "    GPTQModifier:\n      config_groups:\n        g: {targets: Linear, weights: {num_bits: 4, group_size: 128, actorder: group}}\n      actorder: weight\n",
       "GPTQModifier.actorder: 'weight' differs from the scheme's weights.actorder 'group'"},
      {"quant_stage:\n  quant_modifers:\n    GPTQModifier: {scheme: W4A16}\n",
       "quant_stage: unknown key 'quant_modifers' (a stage holds <name>_modifiers groups)"},
      {"scheme: W4A16\n" + stage + "    GPTQModifier: {scheme: W4A16}\n", "unknown key 'scheme' (an llm-compressor recipe holds"},
      {stage + "    GPTQModifier: [W4A16]\n", "quant_stage.quant_modifiers.GPTQModifier: expected a map, got a list"},
      {"quant_stage: [1]\n", "quant_stage: expected a map, got a list"},
  };
  for (const auto& [yaml, want] : cases) {
    SCOPED_TRACE(yaml);
    EXPECT_HAS(parse_error(yaml), want);
  }
}

// ---------------------------------------------------------------------------------------------
// Against a model: SmolLM2-135M's shapes (hidden 576, kv 192, intermediate 1536).

std::vector<RecipeTensor> smol_linears(int layers = 2) {
  std::vector<RecipeTensor> t;
  const struct {
    const char *gguf, *hf;
    int64_t rows, cols;
  } kinds[] = {{"attn_q", "self_attn.q_proj", 576, 576},   {"attn_k", "self_attn.k_proj", 192, 576},
               {"attn_v", "self_attn.v_proj", 192, 576},   {"attn_output", "self_attn.o_proj", 576, 576},
               {"ffn_gate", "mlp.gate_proj", 1536, 576},   {"ffn_up", "mlp.up_proj", 1536, 576},
               {"ffn_down", "mlp.down_proj", 576, 1536}};
  for (int l = 0; l < layers; ++l)
    for (const auto& k : kinds)
      t.push_back({"blk." + std::to_string(l) + "." + k.gguf + ".weight",
                   "model.layers." + std::to_string(l) + "." + k.hf, k.rows, k.cols});
  return t;
}

TEST(RecipeModel, GroupSizeMustDivideEveryInput) {
  const auto linears = smol_linears();
  validate_recipe_for_model(recipe_from_scheme("W4A16", 64), linears, "model.gguf");
  validate_recipe_for_model(recipe_from_scheme("W4A16", 192), linears, "model.gguf");
  validate_recipe_for_model(recipe_from_scheme("W4A16", 0), linears, "model.gguf");
  validate_recipe_for_model(recipe_from_scheme("FP8"), linears, "model.gguf");
  const std::string e100 = model_error(recipe_from_scheme("W4A16", 100), linears);
  EXPECT_HAS(e100, "group_size: 100 does not divide the input size 576 of model.layers.0.self_attn.q_proj "
                   "(blk.0.attn_q.weight) (sizes that divide every input: 48, 64, 96, or 0 for per channel)");
  // 576 = 4.5 × 128: the W4A16 default group does not fit SmolLM2's hidden size.
  EXPECT_HAS(model_error(recipe_from_scheme("W4A16"), linears), "group_size: 128 does not divide the input size 576");
  // Only targeted tensors count: the down projections (input 1536 = 12 × 128) alone are fine.
  Recipe down = recipe_from_scheme("W4A16");
  down.targets = {"re:.*down_proj"};
  validate_recipe_for_model(down, linears, "model.gguf");
}

TEST(RecipeModel, TargetsMustMatchAndSomethingIsQuantized) {
  const auto linears = smol_linears();
  Recipe r = recipe_from_scheme("W4A16", 64);
  r.targets = {"Linear", "re:.*mlpp.*"};
  EXPECT_HAS(model_error(r, linears),
             "targets[1]: 're:.*mlpp.*' matches no linear of the model (names look like model.layers.0.self_attn.q_proj)");
  r.targets = {"Linear"};
  r.ignore = {"re:model\\.layers"};
  EXPECT_HAS(model_error(r, linears), "the recipe quantizes none of the model's 14 linears");
  EXPECT_HAS(model_error(recipe_from_scheme("W4A16", 64), {}), "the model has no linear layers");
  Recipe kv = recipe_from_scheme("W4A16", 64);
  kv.kv_cache = KvCacheScheme::Fp8;
  validate_recipe_for_model(kv, linears, "model.gguf");
  std::vector<RecipeTensor> mlp_only;
  for (const auto& t : linears)
    if (t.hf_module.find("mlp") != std::string::npos) mlp_only.push_back(t);
  EXPECT_HAS(model_error(kv, mlp_only), "kv_cache: the model has no k_proj / v_proj linears");
  Recipe bad = recipe_from_scheme("W4A16", 64);
  bad.modifiers.push_back({});
  bad.modifiers.back().kind = Kind::SmoothQuant;
  EXPECT_HAS(model_error(bad, linears), "smoothquant: needs a scheme that quantizes activations");
}

TEST(RecipeModel, Targeting) {
  const RecipeTensor q{"blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj", 576, 576};
  const RecipeTensor down{"blk.1.ffn_down.weight", "model.layers.1.mlp.down_proj", 576, 1536};
  const RecipeTensor head{"output.weight", "lm_head", 49152, 576};
  const RecipeTensor embed{"token_embd.weight", "model.embed_tokens", 49152, 576};
  Recipe r = recipe_from_scheme("W4A16");
  EXPECT_TRUE(recipe_targets(r, q));
  EXPECT_TRUE(recipe_targets(r, down));
  EXPECT_FALSE(recipe_targets(r, head));
  EXPECT_FALSE(recipe_targets(r, embed));
  r.ignore = {};
  EXPECT_FALSE(recipe_targets(r, head));  // "Linear" never picks lm_head up
  r.targets = {"Linear", "lm_head"};
  EXPECT_TRUE(recipe_targets(r, head));
  r.ignore = {"lm_head"};
  EXPECT_FALSE(recipe_targets(r, head));

  r = recipe_from_scheme("W4A16");
  r.targets = {"re:.*mlp.*"};
  EXPECT_FALSE(recipe_targets(r, q));
  EXPECT_TRUE(recipe_targets(r, down));
  r.targets = {"re:.*"};
  r.ignore = {};
  EXPECT_TRUE(recipe_targets(r, head));    // a regex may pick lm_head up
  EXPECT_FALSE(recipe_targets(r, embed));  // but embeddings only by name
  r.targets = {"model.embed_tokens"};
  EXPECT_TRUE(recipe_targets(r, embed));

  // re: is anchored at the start (Python's re.match), not the end.
  r = recipe_from_scheme("W4A16");
  r.targets = {"re:model\\.layers\\.1\\."};
  EXPECT_FALSE(recipe_targets(r, q));
  EXPECT_TRUE(recipe_targets(r, down));
  r.targets = {"re:layers"};
  EXPECT_FALSE(recipe_targets(r, down));
  // Ignore by exact HF or GGUF name, or a regex over either.
  r = recipe_from_scheme("W4A16");
  r.ignore = {"model.layers.0.self_attn.q_proj"};
  EXPECT_FALSE(recipe_targets(r, q));
  r.ignore = {"blk.0.attn_q.weight"};
  EXPECT_FALSE(recipe_targets(r, q));
  r.ignore = {"re:blk\\.1\\."};
  EXPECT_FALSE(recipe_targets(r, down));
  EXPECT_TRUE(recipe_targets(r, q));
  // A tensor known by its GGUF name only.
  const RecipeTensor gguf_only{"blk.0.ffn_up.weight", "", 1536, 576};
  EXPECT_TRUE(recipe_targets(recipe_from_scheme("W4A16"), gguf_only));
  EXPECT_FALSE(recipe_targets(recipe_from_scheme("W4A16"), RecipeTensor{"output.weight", "", 10, 576}));
}

TEST(RecipeDescribe, OneLine) {
  Recipe r = recipe_from_scheme("W4A16");
  EXPECT_EQ(describe_recipe(r), "W4A16 int4-sym/g128, rtn");
  Modifier sq;
  sq.kind = Kind::SmoothQuant;
  Modifier gptq;
  gptq.kind = Kind::Gptq;
  gptq.static_groups = false;  // act-order with g_idx
  r.modifiers = {sq, gptq};
  EXPECT_EQ(describe_recipe(r), "W4A16 int4-sym/g128, gptq(damp 0.01, act-order) after smoothquant(0.5)");
  Recipe f = recipe_from_scheme("FP8_DYNAMIC");
  f.kv_cache = KvCacheScheme::Fp8;
  f.targets = {"re:.*mlp.*"};
  f.ignore = {};
  gptq.act_order = false;
  gptq.block_size = 64;
  gptq.dampening_frac = 0.1;
  f.modifiers = {gptq};
  EXPECT_EQ(describe_recipe(f),
            "FP8_DYNAMIC fp8-e4m3/channel + fp8-per-token activations + fp8 kv-cache, gptq(damp 0.1, block 64); "
            "targets re:.*mlp.*; ignore nothing");
}

}  // namespace
}  // namespace squish
