// AWQ GEMM checkpoint adapter (AutoAWQ "gemm"): qweight int32 [in, out/8] with eight 4-bit output
// columns per word in AWQ's interleaved order (0, 2, 4, 6, 1, 3, 5, 7), qzeros int32 [groups, out/8]
// in the same order (zero stored as is), scales fp16 [groups, out].
#include <cmath>
#include <optional>

#include "checkpoint_adapter.h"
#include "squish/common/error.h"
#include "squish/formats/half.h"

namespace squish {

namespace {

using ojson = nlohmann::ordered_json;

// Position k of a word holds column kAwqOrder[k] of its block of eight.
constexpr int kAwqOrder[8] = {0, 2, 4, 6, 1, 3, 5, 7};

class AwqAdapter : public CheckpointAdapter {
 public:
  explicit AwqAdapter(const CheckpointOptions& opt) : opt_(opt) {}

  void check(const QuantizedLinear& l) const override {
    const QuantSpec& s = l.q->spec;
    if (s.format != ElementFormat::Int || s.bits != 4 || s.granularity != Granularity::PerGroup)
      throw Error(opt_.out_dir, l.module + ": AWQ GEMM checkpoints hold INT4 per-group only, not " + describe(s));
    if (!l.q->g_idx.empty()) throw Error(opt_.out_dir, l.module + ": AWQ checkpoints have no act-order");
    if (s.double_quant) throw Error(opt_.out_dir, l.module + ": double-quantized scales are not supported");
    if (l.q->rows % 8) throw Error(opt_.out_dir, l.module + ": output size not a multiple of 8");
    if (spec_.has_value() && describe(*spec_) != describe(s))
      throw Error(opt_.out_dir, "AWQ checkpoints need one spec for all layers");
    spec_ = s;
  }

  void add(SafeTensorsWriter& w, const QuantizedLinear& l) const override {
    const QuantizedMatrix& q = *l.q;
    const int64_t out = q.rows, in = q.cols, ng = static_cast<int64_t>(q.scales.size()) / out;
    const int offset = q.spec.symmetric ? 8 : 0;
    std::vector<int32_t> qweight(static_cast<size_t>(in * out / 8), 0);
    for (int64_t i = 0; i < in; ++i)
      for (int64_t b = 0; b < out / 8; ++b) {
        uint32_t word = 0;
        for (int k = 0; k < 8; ++k) {
          const int64_t o = b * 8 + kAwqOrder[k];
          word |= (static_cast<uint32_t>(q.codes[o * in + i] + offset) & 0xf) << (4 * k);
        }
        qweight[i * (out / 8) + b] = static_cast<int32_t>(word);
      }
    std::vector<int32_t> qzeros(static_cast<size_t>(ng * out / 8), 0);
    std::vector<uint16_t> scales(static_cast<size_t>(ng * out));
    for (int64_t g = 0; g < ng; ++g) {
      for (int64_t o = 0; o < out; ++o) scales[g * out + o] = fp32_to_fp16(q.scales[o * ng + g]);
      for (int64_t b = 0; b < out / 8; ++b) {
        uint32_t word = 0;
        for (int k = 0; k < 8; ++k) {
          const int64_t o = b * 8 + kAwqOrder[k];
          const long z = q.spec.symmetric ? offset : std::lround(q.zeros[o * ng + g]);
          word |= (static_cast<uint32_t>(z) & 0xf) << (4 * k);
        }
        qzeros[g * (out / 8) + b] = static_cast<int32_t>(word);
      }
    }
    w.add({l.module + ".qweight", STDType::I32, {in, out / 8}, to_bytes(qweight)});
    w.add({l.module + ".qzeros", STDType::I32, {ng, out / 8}, to_bytes(qzeros)});
    w.add({l.module + ".scales", STDType::F16, {ng, out}, to_bytes(scales)});
  }

  ojson config(const std::vector<QuantizedLinear>& ls, const std::vector<std::string>& unq) const override {
    if (ls.empty()) throw Error(opt_.out_dir, "no quantized tensors");
    ojson c;
    c["quant_method"] = "awq";
    c["bits"] = 4;
    c["group_size"] = ls.front().q->spec.group_size;
    c["zero_point"] = true;
    c["version"] = "gemm";
    ojson skip = ojson::array();
    for (const auto& m : unq)
      if (m != "lm_head") skip.push_back(m);
    c["modules_to_not_convert"] = skip.empty() ? ojson(nullptr) : skip;
    return c;
  }

 private:
  CheckpointOptions opt_;
  mutable std::optional<QuantSpec> spec_;
};

}  // namespace

std::unique_ptr<CheckpointAdapter> make_awq_adapter(const CheckpointOptions& opt) {
  return std::make_unique<AwqAdapter>(opt);
}

}  // namespace squish
