// GPTQ with ggml's block grids: a ColumnQuantizer that, at each block (legacy: 32 columns,
// k-quant: a 256-column super-block), chooses every row's grid with the formats layer's own block
// quantizer, rounds each column onto that fixed grid, and packs the codes into the blocks at the end.
#include "squish/quant/gptq_gguf.h"

#include <algorithm>
#include <stdexcept>

#include "../formats/quantize_internal.h"
#include "squish/common/parallel.h"
#include "squish/formats/quantize.h"

namespace squish {

namespace {

bool is_kquant(GGMLType t) {
  return t == GGMLType::Q2_K || t == GGMLType::Q3_K || t == GGMLType::Q4_K || t == GGMLType::Q5_K ||
         t == GGMLType::Q6_K;
}

class BlockGridQuantizer : public ColumnQuantizer {
 public:
  // Writes the scale fields of its blocks into out (rows × row_bytes(t, cols) bytes) as it goes.
  BlockGridQuantizer(GGMLType t, int64_t rows, int64_t cols, const float* importance, uint8_t* out)
      : t_(t), kquant_(is_kquant(t)), rows_(rows), cols_(cols), block_(type_traits(t).block_size),
        rb_(row_bytes(t, cols)), bb_(type_traits(t).type_size), imp_(uses_importance(t) ? importance : nullptr),
        out_(out), grids_(static_cast<size_t>(rows)), codes_(static_cast<size_t>(rows * cols)) {}
  int64_t group_size() const override { return block_; }

  void begin_group(int64_t c0, const float* wt, int64_t rows) override {
    c0_ = c0;
    uint8_t* dst = out_ + (c0 / block_) * bb_;
    const float* qw = imp_ ? imp_ + c0 : nullptr;
    parallel_for(rows, [&](int64_t r0, int64_t r1) {
      std::vector<float> x(static_cast<size_t>(kquant_ ? block_ : (r1 - r0) * block_));
      if (kquant_) {
        for (int64_t r = r0; r < r1; ++r) {
          for (int64_t k = 0; k < block_; ++k) x[k] = wt[(c0 + k) * rows + r];
          detail::choose_kquant_grid(t_, x.data(), qw, dst + r * rb_, grids_[r], codes_.data() + r * cols_ + c0);
        }
        return;
      }
      // Legacy: the rows' blocks searched together; importance weights use each row's current
      // mean square, as quantize_row uses the row's.
      std::vector<float> sigma2(static_cast<size_t>(r1 - r0)), row(static_cast<size_t>(qw ? cols_ : 0));
      std::vector<uint8_t> L(static_cast<size_t>((r1 - r0) * block_));
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t k = 0; k < block_; ++k) x[(r - r0) * block_ + k] = wt[(c0 + k) * rows + r];
        if (!qw) continue;
        for (int64_t c = 0; c < cols_; ++c) row[c] = wt[c * rows + r];
        sigma2[r - r0] = detail::row_mean_square(row.data(), cols_);
      }
      detail::choose_legacy_grids(t_, x.data(), r1 - r0, qw, 0, sigma2.data(), 1, dst + r0 * rb_,
                                  static_cast<int64_t>(rb_), grids_.data() + r0, L.data());
      for (int64_t r = r0; r < r1; ++r)
        std::copy_n(L.data() + (r - r0) * block_, block_, codes_.data() + r * cols_ + c0);
    });
  }

  void quantize_column(int64_t c, const float* w, float* out, int64_t rows) override {
    const int j = static_cast<int>((c - c0_) / grids_[0].sub_size);
    for (int64_t r = 0; r < rows; ++r) {
      uint8_t& L = codes_[r * cols_ + c];
      L = static_cast<uint8_t>(detail::grid_code(grids_[r], j, w[r], L));
      out[r] = detail::grid_value(grids_[r], j, L);
    }
  }

  // Packs the codes of every block into out (whose scale fields are already written).
  void finish() const {
    for (int64_t r = 0; r < rows_; ++r)
      for (int64_t b = 0; b < cols_ / block_; ++b) {
        const uint8_t* L = codes_.data() + r * cols_ + b * block_;
        uint8_t* dst = out_ + r * rb_ + b * bb_;
        if (kquant_) detail::pack_kquant_codes(t_, L, dst);
        else detail::pack_legacy_codes(t_, L, dst);
      }
  }

 private:
  GGMLType t_;
  bool kquant_;
  int64_t rows_, cols_, block_;
  size_t rb_, bb_;
  const float* imp_;
  uint8_t* out_;
  int64_t c0_ = 0;
  std::vector<detail::BlockGrid> grids_;  // per row: the current block's grid
  std::vector<uint8_t> codes_;           // stored codes, rows × cols
};

}  // namespace

bool gptq_supports(GGMLType t) {
  return is_kquant(t) || t == GGMLType::Q4_0 || t == GGMLType::Q4_1 || t == GGMLType::Q5_0 ||
         t == GGMLType::Q5_1 || t == GGMLType::Q8_0;
}

GptqReport gptq_encode_gguf(GGMLType t, const float* W, int64_t rows, int64_t cols,
                            const std::vector<double>& H, const GptqOptions& options, uint8_t* out,
                            bool compare_rtn, const float* importance, float* quantized) {
  if (!gptq_supports(t)) throw std::invalid_argument("GPTQ inside " + type_name(t) + " blocks is not supported");
  const int64_t block = type_traits(t).block_size;
  if (cols % block != 0)
    throw std::invalid_argument("row length " + std::to_string(cols) + " is not a multiple of " +
                                std::to_string(block) + " (" + type_name(t) + ")");
  std::vector<float> w(W, W + rows * cols);
  std::vector<uint8_t> scratch(compare_rtn ? static_cast<size_t>(rows) * row_bytes(t, cols) : 0);
  BlockGridQuantizer q(t, rows, cols, importance, out), rtn(t, rows, cols, importance, scratch.data());
  const GptqReport rep = gptq_quantize(w.data(), rows, cols, H, q, options, compare_rtn ? &rtn : nullptr);
  q.finish();
  if (quantized) std::copy(w.begin(), w.end(), quantized);
  return rep;
}

}  // namespace squish
