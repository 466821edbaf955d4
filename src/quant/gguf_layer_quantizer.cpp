// GgufLayerQuantizer: GPTQ in blocks where supported, ggml rounding elsewhere, per decoder linear.
#include "squish/quant/gguf_layer_quantizer.h"

#include "squish/formats/quantize.h"
#include "squish/quant/gptq.h"
#include "squish/quant/gptq_gguf.h"
#include "squish/quant/imatrix.h"

namespace squish {

GgufLayerQuantizer::GgufLayerQuantizer(std::map<std::string, GGMLType> types,
                                       const ImportanceMatrix* imatrix, double damp, bool measure)
    : types_(std::move(types)), imatrix_(imatrix), damp_(damp), measure_(measure) {}

LayerStatsOptions GgufLayerQuantizer::stats_options() const { return LayerStatsOptions{}; }

std::string GgufLayerQuantizer::fingerprint() const {
  std::string f = "gguf-gptq damp " + std::to_string(damp_) + (imatrix_ ? " imatrix" : "");
  for (const auto& [name, t] : types_) f += " " + name + ":" + type_name(t);
  return f;
}

LayerResult GgufLayerQuantizer::quantize(int64_t il, LayerWeights& L, LayerStats& stats) {
  LayerResult res;
  const std::pair<Weight*, LayerInput> linears[] = {
      {&L.attn_q, LayerInput::Attn},   {&L.attn_k, LayerInput::Attn},    {&L.attn_v, LayerInput::Attn},
      {&L.attn_output, LayerInput::AttnOut}, {&L.ffn_gate, LayerInput::Ffn}, {&L.ffn_up, LayerInput::Ffn},
      {&L.ffn_down, LayerInput::FfnOut}};
  for (const auto& [w, input] : linears) {
    const auto it = types_.find(w->name);
    if (it == types_.end() || !type_traits(it->second).quantized) continue;
    const GGMLType t = it->second;
    const int64_t rows = w->rows(), cols = w->cols();
    const InputStats& st = stats.input(input);
    std::vector<float> importance;
    if (imatrix_) importance = imatrix_->importance(w->name);
    if (importance.empty() && st.tokens > 0) {
      importance.resize(static_cast<size_t>(cols));
      for (int64_t j = 0; j < cols; ++j) importance[j] = static_cast<float>(st.h[j * cols + j] / st.tokens);
    }
    const float* imp = static_cast<int64_t>(importance.size()) == cols ? importance.data() : nullptr;
    EncodedTensor enc{t, std::vector<uint8_t>(row_bytes(t, cols) * static_cast<size_t>(rows))};
    LinearReport rep{w->name, "rtn", 0, -1};
    const std::vector<float> original = measure_ ? w->data : std::vector<float>{};
    if (gptq_supports(t)) {
      GptqOptions go;
      go.damp = damp_;
      go.measure = false;
      gptq_encode_gguf(t, w->data.data(), rows, cols, st.h, go, enc.bytes.data(), false, imp);
      rep.method = "gptq";
    } else {
      const size_t rb = row_bytes(t, cols);
      for (int64_t r = 0; r < rows; ++r) quantize_row(t, w->data.data() + r * cols, enc.bytes.data() + r * rb, cols, imp);
    }
    const size_t rb = row_bytes(t, cols);
    for (int64_t r = 0; r < rows; ++r) dequantize_row(t, enc.bytes.data() + r * rb, w->data.data() + r * cols, cols);
    if (measure_) {
      rep.rel_error = relative_output_error(original.data(), w->data.data(), rows, cols, st.h);
      std::vector<float> plain(original.size());
      std::vector<uint8_t> row(rb);
      for (int64_t r = 0; r < rows; ++r) {
        quantize_row(t, original.data() + r * cols, row.data(), cols, nullptr);
        dequantize_row(t, row.data(), plain.data() + r * cols, cols);
      }
      rep.rel_error_rtn = relative_output_error(original.data(), plain.data(), rows, cols, st.h);
    }
    res.blocks.emplace(w->name, std::move(enc));
    res.reports.push_back(std::move(rep));
  }
  (void)il;
  return res;
}

}  // namespace squish
