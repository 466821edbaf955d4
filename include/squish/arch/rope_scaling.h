// Llama 3's RoPE frequency scaling (config.json rope_type "llama3"): the per-pair frequency
// divisors llama.cpp's converter stores as the rope_freqs tensor, and their inverse (the config
// that gives a rope_freqs, for SafeTensors exports of a GGUF).
#pragma once
#include <cstdint>
#include <optional>
#include <vector>

namespace squish {

// GGUF name of the per-pair frequency divisors (a model-wide tensor; no HF tensor: config.json).
inline constexpr const char* kRopeFreqsTensor = "rope_freqs.weight";

// The llama3 rope_scaling parameters of config.json.
struct Llama3RopeScaling {
  double factor = 8.0;
  double low_freq_factor = 1.0;
  double high_freq_factor = 4.0;
  double original_context = 8192.0;  // original_max_position_embeddings
};

// rope_freqs for head dimension `dim` and RoPE base `base` (dim/2 divisors), computed in float32
// the way convert_hf_to_gguf.py's LlamaModel.generate_extra_tensors computes them with torch.
std::vector<float> llama3_rope_factors(const Llama3RopeScaling& s, double base, int64_t dim);

// Parameters whose llama3_rope_factors equal `factors` to within float rounding (only the two
// band-edge wavelengths are identifiable, so original_context is fixed at `original_context`);
// nullopt when the factors are no llama3 scaling.
std::optional<Llama3RopeScaling> fit_llama3_rope_scaling(const std::vector<float>& factors, double base,
                                                         int64_t dim, double original_context = 8192.0);

}  // namespace squish
