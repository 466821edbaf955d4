// The quantized linears of an HF directory repacked once, at load, into GGUF block rows the
// quantized kernels run (see HFQuantizedLinear::packed_type): ggml row order, with the
// converter's llama q/k RoPE permutation applied to whole rows. Linears without an exact block
// type, and dense tensors, stay on the F32 path.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "squish/formats/ggml_type.h"
#include "squish/io/hf_model_dir.h"

namespace squish {

// Owner of repacked weights; keep it alive while anything points into it. Not thread-safe.
class HFPackedWeights {
 public:
  // Repacks weight `gguf_name` of `dir` when it is a quantized linear with a block type: sets
  // *type and *data (rows of row_bytes(*type, shape[0]) bytes, valid while this object lives) and
  // returns true; returns false otherwise.
  bool get(const HFModelDir& dir, const std::string& gguf_name, GGMLType* type, const uint8_t** data);
  // Bytes of repacked rows held.
  size_t bytes() const { return bytes_; }

 private:
  std::deque<std::vector<uint8_t>> buffers_;
  size_t bytes_ = 0;
};

}  // namespace squish
