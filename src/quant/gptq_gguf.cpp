// GPTQ with ggml's legacy symmetric block grids.
#include "squish/quant/gptq_gguf.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "squish/formats/half.h"
#include "squish/formats/quantize.h"

namespace squish {

namespace {

constexpr int64_t kBlock = 32;

// ggml's scale rule per type: Q4_0 d = max/-8 (q+8 in 0..15), Q5_0 d = max/-16 (q+16 in 0..31),
// Q8_0 d = amax/127 (q in -127..127); "max" is the element of largest magnitude, with its sign.
class LegacyBlockQuantizer : public ColumnQuantizer {
 public:
  LegacyBlockQuantizer(GGMLType t, int64_t rows, int64_t cols)
      : t_(t), rows_(rows), cols_(cols), d_(static_cast<size_t>(rows)),
        scales_(static_cast<size_t>(rows * (cols / kBlock))), codes_(static_cast<size_t>(rows * cols)) {
    if (t == GGMLType::Q4_0) offset_ = 8, qmax_ = 15, qmin_ = 0;
    else if (t == GGMLType::Q5_0) offset_ = 16, qmax_ = 31, qmin_ = 0;
    else offset_ = 0, qmax_ = 127, qmin_ = -128;
  }
  int64_t group_size() const override { return kBlock; }

  void begin_group(int64_t c0, const float* wt, int64_t rows) override {
    for (int64_t r = 0; r < rows; ++r) {
      float amax = 0, max = 0;
      for (int64_t c = c0; c < c0 + kBlock; ++c) {
        const float v = wt[c * rows + r];
        if (std::fabs(v) > amax) amax = std::fabs(v), max = v;
      }
      const float d = t_ == GGMLType::Q8_0 ? amax / 127.0f : max / static_cast<float>(-offset_);
      d_[r] = fp16_to_fp32(fp32_to_fp16(d));  // the scale as stored
      scales_[r * (cols_ / kBlock) + c0 / kBlock] = d;
    }
  }

  void quantize_column(int64_t c, const float* w, float* out, int64_t rows) override {
    for (int64_t r = 0; r < rows; ++r) {
      const float d = d_[r], id = d != 0 ? 1.0f / d : 0.0f;
      int q = static_cast<int>(std::lround(w[r] * id)) + offset_;
      q = std::clamp(q, qmin_, qmax_);
      codes_[r * cols_ + c] = q;
      out[r] = static_cast<float>(q - offset_) * d;
    }
  }

  // Writes the blocks of every row.
  void encode(uint8_t* out) const {
    const size_t rb = row_bytes(t_, cols_), bb = type_traits(t_).type_size;
    for (int64_t r = 0; r < rows_; ++r)
      for (int64_t b = 0; b < cols_ / kBlock; ++b)
        encode_legacy_block(t_, scales_[r * (cols_ / kBlock) + b], codes_.data() + r * cols_ + b * kBlock,
                            out + r * rb + b * bb);
  }

 private:
  GGMLType t_;
  int64_t rows_, cols_;
  int offset_ = 0, qmin_ = 0, qmax_ = 0;
  std::vector<float> d_;        // per row: the current block's stored scale
  std::vector<float> scales_;   // per row and block: the scale before F16 rounding
  std::vector<int32_t> codes_;  // stored codes, rows × cols
};

}  // namespace

bool gptq_supports(GGMLType t) {
  return t == GGMLType::Q4_0 || t == GGMLType::Q5_0 || t == GGMLType::Q8_0;
}

GptqReport gptq_encode_gguf(GGMLType t, const float* W, int64_t rows, int64_t cols,
                            const std::vector<double>& H, const GptqOptions& options, uint8_t* out,
                            bool compare_rtn) {
  if (!gptq_supports(t)) throw std::invalid_argument("GPTQ inside " + type_name(t) + " blocks is not supported");
  if (cols % kBlock != 0) throw std::invalid_argument("row length is not a multiple of 32");
  std::vector<float> w(W, W + rows * cols);
  LegacyBlockQuantizer q(t, rows, cols), rtn(t, rows, cols);
  const GptqReport rep = gptq_quantize(w.data(), rows, cols, H, q, options, compare_rtn ? &rtn : nullptr);
  q.encode(out);
  return rep;
}

}  // namespace squish
