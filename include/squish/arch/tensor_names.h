// GGUF <-> Hugging Face tensor names of the supported architectures.
#pragma once
#include <string>

namespace squish {

// HF name of a GGUF tensor ("blk.0.attn_q.weight" -> "model.layers.0.self_attn.q_proj.weight") for
// architecture "llama" | "qwen2" | "gemma3"; throws squish::Error for names without a mapping.
std::string hf_tensor_name(const std::string& arch, const std::string& gguf_name);

}  // namespace squish
