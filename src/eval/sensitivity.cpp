// Sensitivity analysis: quantize one tensor in memory, measure KLD against the model, restore.
#include "squish/eval/sensitivity.h"

#include <algorithm>
#include <filesystem>
#include <limits>
#include <unistd.h>

#include <fmt/format.h>

#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/common/progress.h"
#include "squish/eval/evaluate.h"
#include "squish/formats/quantize.h"
#include "squish/model/model.h"
#include "squish/model/weights.h"
#include "squish/quant/type_mix.h"

namespace squish {

namespace {

// The linear of `kind`; in a mixture of experts, ffn_gate / ffn_up / ffn_down are every expert's
// (the stacked ffn_*_exps, quantized together).
Weight& linear_of(LayerWeights& l, const std::string& kind) {
  if (kind == "attn_q") return l.attn_q;
  if (kind == "attn_k") return l.attn_k;
  if (kind == "attn_v") return l.attn_v;
  if (kind == "attn_output") return l.attn_output;
  const bool moe = !l.ffn_gate_exps.empty();
  if (kind == "ffn_gate") return moe ? l.ffn_gate_exps : l.ffn_gate;
  if (kind == "ffn_up") return moe ? l.ffn_up_exps : l.ffn_up;
  return moe ? l.ffn_down_exps : l.ffn_down;
}

// Replaces w's values by their round trip through `type`; returns the type used.
GGMLType fake_quantize(Weight& w, GGMLType type) {
  const int64_t cols = w.cols(), rows = w.rows();
  const GGMLType t = block_fallback(type, cols);
  parallel_for(rows, [&](int64_t r0, int64_t r1) {
    std::vector<uint8_t> buf(row_bytes(t, cols));
    for (int64_t r = r0; r < r1; ++r) {
      float* row = w.data.data() + r * cols;
      quantize_row(t, row, buf.data(), cols);
      dequantize_row(t, buf.data(), row, cols);
    }
  });
  return t;
}

}  // namespace

const std::vector<std::string>& linear_kinds() {
  static const std::vector<std::string> k = {"attn_q", "attn_k", "attn_v", "attn_output",
                                             "ffn_gate", "ffn_up", "ffn_down"};
  return k;
}

SensitivityReport run_sensitivity(const std::string& model_path, const SensitivityOptions& o) {
  if (!can_quantize(o.type)) throw Error(type_name(o.type), "squish cannot quantize to this type");
  SensitivityReport rep;
  rep.model_path = model_path;
  rep.kinds = o.kinds.empty() ? linear_kinds() : o.kinds;
  for (const std::string& k : rep.kinds)
    if (std::find(linear_kinds().begin(), linear_kinds().end(), k) == linear_kinds().end())
      throw Error(k, "unknown linear kind (valid: attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down)");
  std::shared_ptr<Model> model = Model::load(model_path);
  const int64_t n_layer = static_cast<int64_t>(model->weights().layers.size());
  rep.layers = o.layers;
  if (rep.layers.empty())
    for (int64_t l = 0; l < n_layer; ++l) rep.layers.push_back(l);
  for (int64_t l : rep.layers)
    if (l < 0 || l >= n_layer)
      throw Error(model_path, fmt::format("layer {} out of range (the model has {} layers)", l, n_layer));

  const std::string base = (std::filesystem::temp_directory_path() /
                            fmt::format("squish-sensitivity-{}.sqlogits", ::getpid())).string();
  struct Cleanup {
    std::string path;
    ~Cleanup() { std::filesystem::remove(path); }
  } cleanup{base};
  EvalOptions eo;
  eo.text_path = o.text_path;
  eo.n_ctx = o.n_ctx;
  eo.max_chunks = o.chunks;
  eo.progress = false;
  eo.overwrite = true;
  eo.save_base_logits = base;
  evaluate(model, eo);
  eo.save_base_logits.clear();
  eo.base_logits = base;

  Progress bar("sensitivity", static_cast<int64_t>(rep.layers.size() * rep.kinds.size()));
  for (int64_t l : rep.layers)
    for (const std::string& kind : rep.kinds) {
      Weight& w = linear_of(model->edit_weights().layers[l], kind);
      SensitivityCell cell;
      cell.layer = l;
      cell.kind = kind;
      if (w.empty()) {
        cell.kld = std::numeric_limits<double>::quiet_NaN();
      } else {
        const std::vector<float> original = w.data;
        cell.type = type_name(fake_quantize(w, o.type));
        const EvalReport r = evaluate(model, eo);
        w.data = original;
        cell.kld = r.kld->kld_mean.value;
        cell.kld_stderr = r.kld->kld_mean.error;
        cell.same_top = r.kld->same_top.value;
      }
      rep.cells.push_back(cell);
      bar.add();
    }
  bar.finish();
  return rep;
}

nlohmann::json SensitivityReport::to_json() const {
  nlohmann::json cells_j = nlohmann::json::array(), by_tensor = nlohmann::json::object();
  for (const SensitivityCell& c : cells) {
    cells_j.push_back({{"layer", c.layer}, {"kind", c.kind}, {"type", c.type}, {"kld", c.kld},
                       {"kld_stderr", c.kld_stderr}, {"same_top", c.same_top}});
    by_tensor[fmt::format("blk.{}.{}.weight", c.layer, c.kind)] = c.kld;
  }
  return {{"model", model_path}, {"cells", cells_j}, {"kld_by_tensor", by_tensor}};
}

std::string SensitivityReport::to_markdown() const {
  std::string s = fmt::format("# squish sensitivity: {}\n\nMean KLD vs the model when only that tensor is quantized.\n\n| layer |", model_path);
  for (const std::string& k : kinds) s += " " + k + " |";
  s += "\n|---|";
  for (size_t i = 0; i < kinds.size(); ++i) s += "---:|";
  s += "\n";
  for (size_t i = 0; i < layers.size(); ++i) {
    s += fmt::format("| {} |", layers[i]);
    for (size_t k = 0; k < kinds.size(); ++k) s += fmt::format(" {:.5f} |", cells[i * kinds.size() + k].kld);
    s += "\n";
  }
  return s;
}

}  // namespace squish
