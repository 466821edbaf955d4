// ModelSource over a memory-mapped GGUF file.
#include <filesystem>

#include "squish/common/shape.h"

#include "squish/common/error.h"
#include "squish/export/model_source.h"
#include "squish/io/gguf_reader.h"

namespace squish {
namespace {

// Dequantizes rows on demand straight from the mapping.
class GGUFRows final : public TensorRows {
 public:
  GGUFRows(const GGUFFile& f, const GGUFTensor& t) : t_(t) {
    if (!can_dequantize(t.type))
      throw Error(f.path(), "tensor '" + t.name + "' has type " + type_name(t.type) +
                                ", which squish cannot dequantize");
  }
  void read(int64_t row0, int64_t n_rows, float* out) const override {
    const int64_t cols = t_.row_length();
    const size_t rb = row_bytes(t_.type, cols);
    for (int64_t r = 0; r < n_rows; ++r)
      dequantize_row(t_.type, t_.data + static_cast<size_t>(row0 + r) * rb, out + r * cols, cols);
  }

 private:
  const GGUFTensor& t_;
};

class GGUFSource final : public ModelSource {
 public:
  explicit GGUFSource(const std::string& path) : file_(path) {
    for (const auto& t : file_.tensors()) tensors_.push_back({t.name, t.type, t.shape});
  }
  const std::string& path() const override { return file_.path(); }
  const std::vector<std::pair<std::string, GGUFValue>>& metadata() const override {
    return file_.metadata();
  }
  const std::vector<SourceTensor>& tensors() const override { return tensors_; }
  const uint8_t* raw_data(size_t i) const override { return file_.tensors()[i].data; }
  std::unique_ptr<TensorRows> rows_f32(size_t i) const override {
    return std::make_unique<GGUFRows>(file_, file_.tensors()[i]);
  }
  uint64_t input_bytes() const override { return file_.file_size(); }

 private:
  GGUFFile file_;
  std::vector<SourceTensor> tensors_;
};

}  // namespace

int64_t SourceTensor::n_elements() const { return shape_elements(shape); }

int64_t SourceTensor::n_rows() const { return shape_rows(shape); }

const GGUFValue* ModelSource::find(const std::string& key) const {
  for (const auto& [k, v] : metadata())
    if (k == key) return &v;
  return nullptr;
}

std::unique_ptr<ModelSource> open_gguf_source(const std::string& path) {
  return std::make_unique<GGUFSource>(path);
}

}  // namespace squish
