// convert_linears: decoder linears into INT8 / FP8 / NF4 ScaledMatrix layouts at load.
#include "weight_conversion.h"

#include <vector>

#include "squish/common/error.h"
#include "squish/io/mapped_file.h"
#include "squish/kernels/quant_matmul.h"

namespace squish {

namespace {

using kernels::ScaledFormat;

std::vector<Weight*> decoder_linears(ModelWeights& w) {
  std::vector<Weight*> out;
  for (LayerWeights& l : w.layers)
    for (Weight* x : {&l.attn_q, &l.attn_k, &l.attn_v, &l.attn_output, &l.ffn_gate, &l.ffn_up, &l.ffn_down})
      if (!x->empty()) out.push_back(x);
  return out;
}

// The weight's values as a row-major F32 matrix: its own data, or its packed rows dequantized into
// `buf`.
const float* values(const Weight& w, std::vector<float>& buf) {
  if (!w.is_packed() && !w.is_scaled()) return w.data.data();
  buf.resize(static_cast<size_t>(w.rows() * w.cols()));
  for (int64_t r = 0; r < w.rows(); ++r) w.row_f32(r, buf.data() + r * w.cols());
  return buf.data();
}

ScaledFormat format_of(WeightConversion c) {
  switch (c) {
    case WeightConversion::Fp8: return ScaledFormat::Fp8E4M3;
    case WeightConversion::Nf4: return ScaledFormat::Nf4;
    default: return ScaledFormat::Int8;
  }
}

// Holds M as w's values: the layout itself, or its dequantized F32 copy.
void hold(Weight& w, std::shared_ptr<const kernels::ScaledMatrix> M, bool as_f32) {
  w.packed = nullptr;
  w.type = GGMLType::F32;
  if (as_f32) {
    w.data.resize(static_cast<size_t>(M->rows * M->cols));
    for (int64_t r = 0; r < M->rows; ++r) M->row_f32(r, w.data.data() + r * M->cols);
    w.scaled.reset();
  } else {
    w.data.clear();
    w.data.shrink_to_fit();
    w.scaled = std::move(M);
  }
}

// Whether M holds exactly the values v.
bool reproduces(const kernels::ScaledMatrix& M, const std::vector<float>& v) {
  std::vector<float> row(static_cast<size_t>(M.cols));
  for (int64_t r = 0; r < M.rows; ++r) {
    M.row_f32(r, row.data());
    for (int64_t t = 0; t < M.cols; ++t)
      if (row[static_cast<size_t>(t)] != v[static_cast<size_t>(r * M.cols + t)]) return false;
  }
  return true;
}

// Repacks w's GGUF rows for the panel kernel where it has one (Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q8_0 with
// AVX-512 VNNI or AVX2 (Q8_0 AVX-512 only), and Q2_K ... Q6_K with rows a multiple of 256 on AVX-512
// VNNI) under SQUISH_QUANT_PATH=auto|fast; int8|f32 keep the row kernels instead.
void add_panels(Weight& w, bool in_file_mapping) {
  const kernels::QuantPath path = kernels::default_quant_path();
  if (!w.is_packed() || w.panels || (path != kernels::QuantPath::Auto && path != kernels::QuantPath::Fast)) return;
  if (!kernels::block_panels_supported(w.type, w.cols())) return;
  w.panels = std::make_shared<kernels::BlockPanels>(
      kernels::make_block_panels(w.type, w.packed, w.rows(), w.cols()));
  // The products read the panels now; the file's rows (read again only for embedding lookups and
  // row dumps) leave memory instead of being held twice.
  if (in_file_mapping) release_mapped_pages(w.packed, static_cast<size_t>(w.rows()) * row_bytes(w.type, w.cols()));
}

}  // namespace

std::string conversion_name(WeightConversion c) {
  switch (c) {
    case WeightConversion::None: return "none";
    case WeightConversion::W8A8: return "w8a8";
    case WeightConversion::LlmInt8: return "llm-int8";
    case WeightConversion::Fp8: return "fp8";
    case WeightConversion::Nf4: return "nf4";
  }
  return "?";
}

WeightConversion parse_conversion(const std::string& name) {
  for (WeightConversion c : {WeightConversion::None, WeightConversion::W8A8, WeightConversion::LlmInt8,
                             WeightConversion::Fp8, WeightConversion::Nf4})
    if (conversion_name(c) == name) return c;
  throw Error("--convert", "unknown conversion '" + name + "' (none, w8a8, llm-int8, fp8, nf4)");
}

void convert_linears(ModelWeights& weights, const LoadOptions& o) {
  const bool as_f32 = !o.keep_quantized;
  if (o.convert == WeightConversion::None) {
    if (as_f32) return;
    for (Weight* w : decoder_linears(weights)) {  // checkpoints with quantized inputs
      if (w->is_packed() || w->input_quant == InputQuant::None) continue;
      const bool fp8 = w->input_quant == InputQuant::Fp8PerToken || w->input_quant == InputQuant::Fp8Static;
      auto M = std::make_shared<kernels::ScaledMatrix>(kernels::make_scaled_matrix(
          fp8 ? ScaledFormat::Fp8E4M3 : ScaledFormat::Int8, w->data.data(), w->rows(), w->cols()));
      if (reproduces(*M, w->data)) hold(*w, std::move(M), false);
    }
    if (!o.repack) return;
    const bool mapped = weights.packed_in_file_mapping;
    for (Weight* w : decoder_linears(weights)) add_panels(*w, mapped);
    add_panels(weights.output.empty() ? weights.token_embd : weights.output, mapped);  // the lm_head
    return;
  }
  const ScaledFormat f = format_of(o.convert);
  for (Weight* w : decoder_linears(weights)) {
    std::vector<float> buf;
    const float* v = values(*w, buf);
    const float threshold = o.convert == WeightConversion::LlmInt8 ? o.llm_int8_threshold : 0.0f;
    hold(*w, std::make_shared<kernels::ScaledMatrix>(kernels::make_scaled_matrix(f, v, w->rows(), w->cols(), threshold)),
         as_f32);
    // W8A8 quantizes each input to INT8 (per token, or with a checkpoint's static scale), in the
    // kernel and in its F32 reference alike; the other conversions take F32 inputs.
    if (o.convert != WeightConversion::W8A8) w->input_quant = InputQuant::None;
    else if (w->input_quant != InputQuant::Int8Static) w->input_quant = InputQuant::Int8PerToken;
  }
}

}  // namespace squish
