// ModelSource over an HF SafeTensors directory: HFModelDir's tensors (GGUF names, ggml layout, the
// converter's transformations, quantized linears dequantized) as F32, with the GGUF metadata
// llama.cpp's convert_hf_to_gguf.py writes (hf_gguf_metadata.cpp, hf_gguf_tokenizer.cpp).
#include <algorithm>
#include <filesystem>
#include <vector>

#include "hf_gguf.h"
#include "squish/arch/rope_scaling.h"
#include "squish/common/error.h"
#include "squish/export/model_source.h"

namespace squish {

namespace {

// The whole tensor converted once, then served row by row.
class HFRows final : public TensorRows {
 public:
  HFRows(const HFModelDir& dir, const HFTensorInfo& t)
      : cols_(t.shape[0]), data_(static_cast<size_t>(t.n_elements())) {
    dir.tensor_f32(t, data_.data());
  }
  void read(int64_t row0, int64_t n_rows, float* out) const override {
    std::copy_n(data_.data() + row0 * cols_, n_rows * cols_, out);
  }

 private:
  int64_t cols_;
  std::vector<float> data_;
};

// A tensor the converter generates from config.json (rope_freqs).
class GeneratedRows final : public TensorRows {
 public:
  explicit GeneratedRows(const std::vector<float>& values) : values_(values) {}
  void read(int64_t row0, int64_t n_rows, float* out) const override {
    std::copy_n(values_.data() + row0 * static_cast<int64_t>(values_.size()),
                n_rows * static_cast<int64_t>(values_.size()), out);
  }

 private:
  const std::vector<float>& values_;
};

class HFSource final : public ModelSource {
 public:
  explicit HFSource(const std::string& dir) : dir_(dir) {
    add_hf_model_metadata(dir_, metadata_);
    add_hf_tokenizer_metadata(dir_, metadata_);
    // As the converter: generated tensors first.
    if (const auto& factors = dir_.config().rope_freq_factors; !factors.empty()) {
      tensors_.push_back({kRopeFreqsTensor, GGMLType::F32, {static_cast<int64_t>(factors.size())}});
      info_.push_back(nullptr);
    }
    for (const HFTensorInfo& t : dir_.tensors()) {
      tensors_.push_back({t.gguf_name, GGMLType::F32, t.shape});
      info_.push_back(&t);
    }
    for (const auto& f : std::filesystem::directory_iterator(dir))
      if (f.path().extension() == ".safetensors") input_bytes_ += f.file_size();
  }
  const std::string& path() const override { return dir_.path(); }
  const std::vector<std::pair<std::string, GGUFValue>>& metadata() const override { return metadata_; }
  const std::vector<SourceTensor>& tensors() const override { return tensors_; }
  const uint8_t* raw_data(size_t) const override { return nullptr; }
  std::unique_ptr<TensorRows> rows_f32(size_t i) const override {
    if (!info_[i]) return std::make_unique<GeneratedRows>(dir_.config().rope_freq_factors);
    return std::make_unique<HFRows>(dir_, *info_[i]);
  }
  uint64_t input_bytes() const override { return input_bytes_; }

 private:
  HFModelDir dir_;
  GGUFMetadata metadata_;
  std::vector<SourceTensor> tensors_;
  std::vector<const HFTensorInfo*> info_;
  uint64_t input_bytes_ = 0;
};

}  // namespace

std::unique_ptr<ModelSource> open_hf_source(const std::string& dir) {
  return std::make_unique<HFSource>(dir);
}

}  // namespace squish
