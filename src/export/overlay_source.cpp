// OverlaySource: replaced tensors served from memory as F32, the rest from the base source.
#include "squish/export/overlay_source.h"

#include <algorithm>

#include "squish/common/error.h"

namespace squish {

namespace {

class VectorRows final : public TensorRows {
 public:
  VectorRows(const std::vector<float>& v, int64_t cols) : v_(v), cols_(cols) {}
  void read(int64_t row0, int64_t n_rows, float* out) const override {
    std::copy_n(v_.data() + row0 * cols_, n_rows * cols_, out);
  }

 private:
  const std::vector<float>& v_;
  int64_t cols_;
};

class OverlaySource final : public ModelSource {
 public:
  OverlaySource(const ModelSource& base, std::map<std::string, std::vector<float>> replaced)
      : base_(base), replaced_(std::move(replaced)), tensors_(base.tensors()) {
    for (const auto& [name, v] : replaced_) {
      const auto it = std::find_if(tensors_.begin(), tensors_.end(), [&](const SourceTensor& t) { return t.name == name; });
      if (it == tensors_.end()) throw Error(base.path(), "replaced tensor " + name + " is not in the model");
      if (static_cast<int64_t>(v.size()) != it->n_elements())
        throw Error(base.path(), "replaced tensor " + name + " has the wrong size");
      it->type = GGMLType::F32;
    }
  }
  const std::string& path() const override { return base_.path(); }
  const std::vector<std::pair<std::string, GGUFValue>>& metadata() const override { return base_.metadata(); }
  const std::vector<SourceTensor>& tensors() const override { return tensors_; }
  const uint8_t* raw_data(size_t i) const override {
    return replaced_.count(tensors_[i].name) ? nullptr : base_.raw_data(i);
  }
  std::unique_ptr<TensorRows> rows_f32(size_t i) const override {
    if (const auto it = replaced_.find(tensors_[i].name); it != replaced_.end())
      return std::make_unique<VectorRows>(it->second, tensors_[i].shape[0]);
    return base_.rows_f32(i);
  }
  uint64_t input_bytes() const override { return base_.input_bytes(); }

 private:
  const ModelSource& base_;
  std::map<std::string, std::vector<float>> replaced_;
  std::vector<SourceTensor> tensors_;
};

}  // namespace

std::unique_ptr<ModelSource> overlay_source(const ModelSource& base,
                                            std::map<std::string, std::vector<float>> replaced) {
  return std::make_unique<OverlaySource>(base, std::move(replaced));
}

}  // namespace squish
