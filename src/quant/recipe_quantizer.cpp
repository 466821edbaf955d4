// RecipeQuantizer: modifiers in order over the layer's four input groups.
#include "squish/quant/recipe_quantizer.h"

#include <algorithm>
#include <cmath>

#include "squish/common/error.h"
#include "squish/arch/tensor_names.h"
#include "squish/formats/activation_quant.h"
#include "squish/quant/awq.h"
#include "squish/quant/gptq.h"
#include "squish/quant/gptq_int.h"
#include "squish/quant/smoothquant.h"

namespace squish {

namespace {

// Linears reading one input, and what precedes them (a norm, or a linear whose output rows are
// this input's channels).
struct Group {
  LayerInput input;
  Weight* norm;
  Weight* prev;
  std::vector<Weight*> linears;
};

std::vector<Group> layer_groups(LayerWeights& L, const ModelConfig& c) {
  const bool mha = c.n_head == c.n_head_kv && c.head_dim_k == c.head_dim_v;
  return {{LayerInput::Attn, &L.attn_norm, nullptr, {&L.attn_q, &L.attn_k, &L.attn_v}},
          {LayerInput::AttnOut, nullptr, mha ? &L.attn_v : nullptr, {&L.attn_output}},
          {LayerInput::Ffn, &L.ffn_norm, nullptr, {&L.ffn_gate, &L.ffn_up}},
          {LayerInput::FfnOut, nullptr, &L.ffn_up, {&L.ffn_down}}};
}

// Scales the input channels of `w` by s (W·diag(s)).
void scale_columns(Weight& w, const std::vector<float>& s) {
  const int64_t rows = w.rows(), cols = w.cols();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) w.data[r * cols + j] *= s[j];
}

// Divides what produces channel j by s[j]: a norm's weight, or a linear's output row j (and its
// bias, when it has one).
void fold_into_producer(Group& g, const std::vector<float>& s, Weight* bias, LayerResult& r) {
  if (g.norm) {
    for (size_t j = 0; j < s.size(); ++j) g.norm->data[j] /= s[j];
    r.replaced[g.norm->name] = g.norm->data;
    return;
  }
  Weight& p = *g.prev;
  const int64_t cols = p.cols();
  for (int64_t row = 0; row < p.rows(); ++row)
    for (int64_t k = 0; k < cols; ++k) p.data[row * cols + k] /= s[row];
  if (bias && !bias->empty()) {
    for (size_t j = 0; j < s.size(); ++j) bias->data[j] /= s[j];
    r.replaced[bias->name] = bias->data;
  }
}

std::vector<const float*> data_of(const std::vector<Weight*>& ws) {
  std::vector<const float*> d;
  for (const Weight* w : ws) d.push_back(w->data.data());
  return d;
}
std::vector<int64_t> rows_of(const std::vector<Weight*>& ws) {
  std::vector<int64_t> d;
  for (const Weight* w : ws) d.push_back(w->rows());
  return d;
}

bool has(const Recipe& r, Modifier::Kind k) {
  return std::any_of(r.modifiers.begin(), r.modifiers.end(), [k](const Modifier& m) { return m.kind == k; });
}

}  // namespace

RecipeQuantizer::RecipeQuantizer(Recipe recipe, const ModelConfig& config, bool measure, STDType scale_dtype)
    : recipe_(std::move(recipe)), config_(config), arch_(arch_name(config.arch)), measure_(measure),
      scale_dtype_(scale_dtype) {}

LayerStatsOptions RecipeQuantizer::stats_options() const {
  LayerStatsOptions o;
  o.hessian = measure_ || has(recipe_, Modifier::Kind::Gptq);
  o.keep_rows = has(recipe_, Modifier::Kind::Awq) ? 4096 : 0;
  // Plain rounding of weights with dynamic (or no) activation scales reads no statistics.
  const bool static_inputs = recipe_.activations == InputQuant::Int8Static || recipe_.activations == InputQuant::Fp8Static;
  o.observe = o.hessian || o.keep_rows > 0 || has(recipe_, Modifier::Kind::SmoothQuant) || static_inputs;
  o.propagate = o.observe || recipe_.kv_cache != KvCacheScheme::None;
  return o;
}

std::string RecipeQuantizer::fingerprint() const {
  return describe_recipe(recipe_) + " | scales " + st_dtype_name(scale_dtype_);
}

LayerResult RecipeQuantizer::quantize(int64_t il, LayerWeights& L, LayerStats& stats) {
  LayerResult res;
  // Scales rounded as the output stores them, then the weights the next layers see from those.
  auto store_scales = [this](QuantizedMatrix& q, Weight& w) {
    round_scales(q, scale_dtype_);
    dequantize_matrix(q, w.data.data());
  };
  std::vector<Group> groups = layer_groups(L, config_);
  auto targeted = [&](const Weight& w) {
    RecipeTensor t{w.name, "", w.rows(), w.cols()};
    const std::string hf = hf_tensor_name(arch_, w.name);
    t.hf_module = hf.substr(0, hf.size() - 7);
    return recipe_targets(recipe_, t);
  };
  auto all_targeted = [&](const Group& g) {
    return std::all_of(g.linears.begin(), g.linears.end(), [&](const Weight* w) { return targeted(*w); });
  };
  // Original weights, for the error figures.
  std::map<std::string, std::vector<float>> original;
  std::map<std::string, std::string> method;
  std::map<std::string, std::vector<float>> scale_of_input;  // accumulated folds per input group

  for (const Modifier& m : recipe_.modifiers) {
    if (m.kind == Modifier::Kind::SmoothQuant) {
      for (Group& g : groups) {
        if (!g.norm || !all_targeted(g)) continue;
        InputStats& st = stats.input(g.input);
        const std::vector<float> s = smoothquant_scales(st.max_abs, data_of(g.linears), rows_of(g.linears),
                                                        st.cols, m.smoothing_strength);
        fold_into_producer(g, s, nullptr, res);
        for (Weight* w : g.linears) scale_columns(*w, s);
        st.scale_channels(s);
        for (Weight* w : g.linears) method[w->name] += "smoothquant+";
      }
    } else if (m.kind == Modifier::Kind::Awq) {
      AwqOptions ao;
      ao.grid = m.awq_grid;
      ao.clip_search = m.awq_clip;
      ao.duo_scaling = m.awq_duo_scaling;
      for (Group& g : groups) {
        if (!all_targeted(g)) continue;
        InputStats& st = stats.input(g.input);
        if (g.norm || g.prev) {
          const AwqResult a = awq_search_scales(st.rows.data(), st.n_rows(), st.cols, data_of(g.linears),
                                                rows_of(g.linears), st.mean_abs(), recipe_.weights, ao);
          Weight* bias = g.prev == &L.attn_v ? &L.attn_v_bias : nullptr;
          fold_into_producer(g, a.scales, bias, res);
          for (Weight* w : g.linears) scale_columns(*w, a.scales);
          st.scale_channels(a.scales);
        }
        if (m.awq_clip)
          for (Weight* w : g.linears)
            awq_clip(w->data.data(), w->rows(), w->cols(), st.rows.data(), st.n_rows(), recipe_.weights, ao);
        for (Weight* w : g.linears) method[w->name] += "awq+";
      }
    }
  }
  // The weights as smoothing/AWQ left them are the reference of the error figures.
  for (Group& g : groups)
    for (Weight* w : g.linears)
      if (targeted(*w) && measure_) original[w->name] = w->data;

  const Modifier* gptq = nullptr;
  for (const Modifier& m : recipe_.modifiers)
    if (m.kind == Modifier::Kind::Gptq) gptq = &m;
  for (Group& g : groups) {
    InputStats& st = stats.input(g.input);
    for (Weight* w : g.linears) {
      if (!targeted(*w)) continue;
      const int64_t rows = w->rows(), cols = w->cols();
      LinearReport rep{w->name, method[w->name] + (gptq ? "gptq" : "rtn"), 0, -1};
      if (gptq) {
        GptqIntOptions go;
        go.solver.damp = gptq->dampening_frac;
        go.solver.block = gptq->block_size;
        go.solver.measure = false;
        go.act_order = gptq->act_order;
        go.static_groups = gptq->static_groups;
        QuantizedMatrix q = gptq_quantize_int(w->data.data(), rows, cols, st.h, recipe_.weights, go);
        store_scales(q, *w);
        res.matrices.emplace(w->name, std::move(q));
      } else {
        QuantizedMatrix q = quantize_matrix(w->data.data(), rows, cols, recipe_.weights);
        store_scales(q, *w);
        res.matrices.emplace(w->name, std::move(q));
      }
      if (measure_ && !st.h.empty()) {
        const std::vector<float>& o = original[w->name];
        rep.rel_error = relative_output_error(o.data(), w->data.data(), rows, cols, st.h);
        std::vector<float> rtn(o.size());
        fake_quantize(o.data(), rows, cols, recipe_.weights, rtn.data());
        rep.rel_error_rtn = relative_output_error(o.data(), rtn.data(), rows, cols, st.h);
      }
      if (recipe_.activations != InputQuant::None) {
        w->input_quant = recipe_.activations;
        if (recipe_.activations == InputQuant::Int8Static || recipe_.activations == InputQuant::Fp8Static) {
          const float amax = st.max_abs.empty() ? 0.0f : *std::max_element(st.max_abs.begin(), st.max_abs.end());
          w->input_scale = input_quant_scale(recipe_.activations, amax);
          res.input_scales[w->name] = w->input_scale;
        }
      }
      res.reports.push_back(std::move(rep));
    }
  }
  // A producer linear changed by a fold but not quantized itself is written as changed F32.
  for (Group& g : groups)
    if (g.prev && !targeted(*g.prev) && !method[g.linears.front()->name].empty())
      res.replaced[g.prev->name] = g.prev->data;
  (void)il;
  return res;
}

}  // namespace squish
