// GPTQ checkpoint adapter (AutoGPTQ v1 "gptq" format): qweight int32 [in·bits/32, out] packed along
// the input dimension (low bits first), qzeros int32 [groups, out·bits/32] holding zero − 1,
// scales fp16 [groups, out], g_idx int32 [in]; quantize_config.json mirrors quantization_config.
#include <cmath>
#include <optional>

#include "checkpoint_adapter.h"
#include "squish/common/error.h"
#include "squish/formats/half.h"

namespace squish {

namespace {

using ojson = nlohmann::ordered_json;

std::vector<uint8_t> fp16_bytes(const std::vector<float>& v) {
  std::vector<uint16_t> h(v.size());
  for (size_t i = 0; i < v.size(); ++i) h[i] = fp32_to_fp16(v[i]);
  return to_bytes(h);
}

class GptqAdapter : public CheckpointAdapter {
 public:
  explicit GptqAdapter(const CheckpointOptions& opt) : opt_(opt) {}

  void check(const QuantizedLinear& l) const override {
    const QuantSpec& s = l.q->spec;
    if (s.format != ElementFormat::Int || (s.bits != 2 && s.bits != 4 && s.bits != 8))
      throw Error(opt_.out_dir, l.module + ": GPTQ checkpoints hold INT2/4/8 only, not " + describe(s));
    if (s.granularity != Granularity::PerGroup && s.granularity != Granularity::PerChannel)
      throw Error(opt_.out_dir, l.module + ": GPTQ checkpoints need per-group or per-channel scales");
    if (s.double_quant) throw Error(opt_.out_dir, l.module + ": double-quantized scales are not supported");
    if (l.q->rows * s.bits % 32) throw Error(opt_.out_dir, l.module + ": output size not packable");
    if (l.q->cols * s.bits % 32) throw Error(opt_.out_dir, l.module + ": input size not packable");
    for (float z : l.q->zeros)
      if (std::lround(z) == 0)
        throw Error(opt_.out_dir, l.module + ": a zero point of 0 cannot be stored in GPTQ v1 (zero − 1)");
    if (spec_.has_value() && describe(*spec_) != describe(s))
      throw Error(opt_.out_dir, "GPTQ checkpoints need one spec for all layers");
    spec_ = s;
    if (!l.q->g_idx.empty()) desc_act_ = true;
  }

  void add(SafeTensorsWriter& w, const QuantizedLinear& l) const override {
    const QuantizedMatrix& q = *l.q;
    const int bits = q.spec.bits;
    const int64_t out = q.rows, in = q.cols, ng = static_cast<int64_t>(q.scales.size()) / out;
    const int per = 32 / bits;
    const int offset = q.spec.symmetric ? 1 << (bits - 1) : 0;
    const uint32_t mask = (1u << bits) - 1;
    std::vector<int32_t> qweight(static_cast<size_t>(in / per * out), 0);
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        const uint32_t u = static_cast<uint32_t>(q.codes[o * in + i] + offset) & mask;
        auto& word = qweight[(i / per) * out + o];
        word = static_cast<int32_t>(static_cast<uint32_t>(word) | (u << (bits * (i % per))));
      }
    std::vector<int32_t> qzeros(static_cast<size_t>(ng * out / per), 0);
    std::vector<float> scales(static_cast<size_t>(ng * out));
    for (int64_t g = 0; g < ng; ++g)
      for (int64_t o = 0; o < out; ++o) {
        scales[g * out + o] = q.scales[o * ng + g];
        const int64_t zero = q.spec.symmetric ? offset : std::lround(q.zeros[o * ng + g]);
        const uint32_t u = static_cast<uint32_t>(zero - 1) & mask;
        auto& word = qzeros[g * (out / per) + o / per];
        word = static_cast<int32_t>(static_cast<uint32_t>(word) | (u << (bits * (o % per))));
      }
    std::vector<int32_t> g_idx = q.g_idx;
    if (g_idx.empty()) {
      g_idx.resize(static_cast<size_t>(in));
      for (int64_t i = 0; i < in; ++i) g_idx[i] = static_cast<int32_t>(i / (in / ng));
    }
    w.add({l.module + ".qweight", STDType::I32, {in / per, out}, to_bytes(qweight)});
    w.add({l.module + ".qzeros", STDType::I32, {ng, out / per}, to_bytes(qzeros)});
    w.add({l.module + ".scales", STDType::F16, {ng, out}, fp16_bytes(scales)});
    w.add({l.module + ".g_idx", STDType::I32, {in}, to_bytes(g_idx)});
  }

  ojson config(const std::vector<QuantizedLinear>& ls, const std::vector<std::string>& unq) const override {
    for (const auto& m : unq)
      if (m != "lm_head") throw Error(opt_.out_dir, "GPTQ checkpoints need every decoder linear quantized; " + m + " is not");
    if (ls.empty()) throw Error(opt_.out_dir, "no quantized tensors");
    const QuantSpec& s = ls.front().q->spec;
    ojson c;
    c["bits"] = s.bits;
    c["group_size"] = s.granularity == Granularity::PerGroup ? s.group_size : -1;
    c["damp_percent"] = 0.01;
    c["desc_act"] = desc_act_;
    c["static_groups"] = false;
    c["sym"] = s.symmetric;
    c["true_sequential"] = true;
    c["model_name_or_path"] = nullptr;
    c["model_file_base_name"] = "model";
    c["quant_method"] = "gptq";
    c["checkpoint_format"] = "gptq";
    return c;
  }

  std::map<std::string, std::string> extra_files(const ojson& qc) const override {
    return {{"quantize_config.json", qc.dump(2)}};
  }

 private:
  CheckpointOptions opt_;
  mutable std::optional<QuantSpec> spec_;
  mutable bool desc_act_ = false;
};

}  // namespace

std::unique_ptr<CheckpointAdapter> make_gptq_adapter(const CheckpointOptions& opt) {
  return std::make_unique<GptqAdapter>(opt);
}

}  // namespace squish
