// Fuzzes recipe YAML (llm-compressor's staged layout and squish's flat one) as `squish quantize
// --recipe` reads it: parse, validate, describe, and check against the linears of a small Llama.
#include "fuzz_support.h"

#include <vector>

#include "squish/quant/recipe.h"

namespace {

// The decoder linears of a two-layer Llama with hidden size 64, as recipes see them.
std::vector<squish::RecipeTensor> tiny_llama_linears() {
  std::vector<squish::RecipeTensor> out;
  const struct { const char *gguf, *hf; int64_t rows, cols; } kinds[] = {
      {"attn_q", "self_attn.q_proj", 64, 64},   {"attn_k", "self_attn.k_proj", 32, 64},
      {"attn_v", "self_attn.v_proj", 32, 64},   {"attn_output", "self_attn.o_proj", 64, 64},
      {"ffn_gate", "mlp.gate_proj", 128, 64},   {"ffn_up", "mlp.up_proj", 128, 64},
      {"ffn_down", "mlp.down_proj", 64, 128}};
  for (int l = 0; l < 2; ++l)
    for (const auto& k : kinds)
      out.push_back({"blk." + std::to_string(l) + "." + k.gguf + ".weight",
                     "model.layers." + std::to_string(l) + "." + k.hf, k.rows, k.cols});
  out.push_back({"output.weight", "lm_head", 256, 64});
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::vector<squish::RecipeTensor> linears = tiny_llama_linears();
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  squish::fuzz::expect_clean([&] {
    const squish::Recipe r = squish::parse_recipe_text(yaml, "fuzz.yaml");
    squish::validate_recipe(r, "fuzz.yaml");
    (void)squish::describe_recipe(r);
    size_t n = 0;
    for (const auto& t : linears) n += squish::recipe_targets(r, t);
    squish::validate_recipe_for_model(r, linears, "fuzz.yaml");
    (void)n;
  });
  return 0;
}
