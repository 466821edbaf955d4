// HF model directories seen through llama.cpp's convert_hf_to_gguf.py: tensor names mapped to
// GGUF's, shapes reversed to ggml order, and the converter's value transformations:
//   llama  q_proj / k_proj rows permuted from HF's half-split RoPE layout to interleaved pairs;
//   gemma3 every *norm.weight gets +1 (Gemma3RMSNorm multiplies by 1 + w), computed in the
//          stored dtype as torch does; token_embd cut to the tokenizer's vocabulary.
// A quantization_config makes each quantized linear (its qweight / weight_packed / … tensors) one
// mapped weight, dequantized on read by its format reader (hf_quantized_*.cpp).
#include "squish/io/hf_model_dir.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hf_quantized_internal.h"
#include "squish/arch/tensor_registry.h"
#include "squish/common/error.h"

namespace squish {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr uintmax_t kMaxTokenizerBytes = 512ull << 20;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool starts_with(const std::string& s, const std::string& prefix) {
  return s.rfind(prefix, 0) == 0;
}

using hfq::read_json_limited;

// The HF name normalised to "model.…" / "lm_head.…"; "" for tensors the text converter skips.
std::string normalise_hf_name(const std::string& name) {
  if (ends_with(name, ".rotary_emb.inv_freq")) return "";
  static const char* kSkip[] = {"vision_tower.", "multi_modal_projector.", "model.vision_tower.",
                                "model.multi_modal_projector.", "vision_model.", "audio_tower."};
  for (const char* p : kSkip)
    if (starts_with(name, p)) return "";
  if (starts_with(name, "language_model.")) return name.substr(15);            // gemma3 (old)
  if (starts_with(name, "model.language_model."))                              // gemma3 (new)
    return "model." + name.substr(21);
  return name;
}

// Expected ggml shape of a mapped tensor (the registry's formula), or empty when any is accepted.
std::vector<int64_t> expected_shape(const ArchSpec& a, const ModelConfig& c, const std::string& gguf_name) {
  const TensorSpec* t = tensor_by_gguf_name(a, gguf_name);
  return t ? tensor_shape(*t, c) : std::vector<int64_t>{};
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Number of tokens the converter keeps in gemma3's token_embd (tokenizer.json vocab + added
// tokens), or 0 when unknown.
int64_t gemma3_tokenizer_vocab(const std::string& dir, const std::string& tokenizer_json) {
  if (fs::exists(fs::path(dir) / "tokenizer.model") || tokenizer_json.empty()) return 0;
  const json tj = read_json_limited(tokenizer_json, kMaxTokenizerBytes);
  const auto model = tj.find("model");
  if (model == tj.end() || !model->is_object() || !model->contains("vocab"))
    throw Error(tokenizer_json, "no model.vocab");
  const auto& vocab = (*model)["vocab"];
  int64_t n = static_cast<int64_t>(vocab.size());
  if (const auto at = tj.find("added_tokens"); at != tj.end() && at->is_array())
    n += static_cast<int64_t>(at->size());
  return n;
}

}  // namespace

int64_t HFTensorInfo::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

HFModelDir::HFModelDir(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(dir, "not a directory");
  const fs::path d(dir);
  const std::string config_path = (d / "config.json").string();
  if (!fs::exists(config_path)) throw Error(config_path, "missing (not an HF model directory)");
  config_ = read_hf_config(config_path, &extras_);
  if (fs::exists(d / "generation_config.json"))
    gen_ = read_hf_generation_config((d / "generation_config.json").string());
  if (fs::exists(d / "tokenizer.json")) tokenizer_json_ = (d / "tokenizer.json").string();
  if (fs::exists(d / "tokenizer_config.json")) {
    tokenizer_config_ = (d / "tokenizer_config.json").string();
    const json tc = read_json_limited(tokenizer_config_, 64ull << 20);
    if (tc.is_object() && tc.contains("chat_template")) {
      const json& ct = tc["chat_template"];
      if (ct.is_string()) {
        chat_template_ = ct.get<std::string>();
      } else if (ct.is_array()) {  // [{name, template}, …]: the default one
        for (const auto& e : ct)
          if (e.is_object() && e.value("name", "") == "default" && e.contains("template") &&
              e["template"].is_string())
            chat_template_ = e["template"].get<std::string>();
      }
    }
  }
  if (chat_template_.empty() && fs::exists(d / "chat_template.jinja")) {
    std::ifstream in(d / "chat_template.jinja", std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    chat_template_ = ss.str();
  }

  st_ = SafeTensorsSet::open(dir);
  const std::string& where = st_.path();
  const Arch arch = config_.arch;
  const ArchSpec& spec = arch_spec(arch);
  if (const json qc = read_hf_quantization_config(dir); !qc.is_null())
    quant_ = std::make_unique<HFQuantization>(read_hf_quantization(dir, qc, st_));

  // Map every tensor; anything the converter would not know is an error, as it is there. A
  // quantized linear is mapped at its packed weight; its other tensors are part of it.
  for (const SafeTensor* t : st_.tensors()) {
    const HFQuantizedLinear* ql = quant_ ? quant_->by_weight(t->name) : nullptr;
    if (!ql && quant_ && quant_->owns(t->name)) continue;
    const std::string hf = normalise_hf_name(ql ? ql->module + ".weight" : t->name);
    if (hf.empty()) continue;
    std::string gg;
    int64_t expert = -1;
    if (const TensorSpec* g = global_tensor_by_hf(spec, hf)) gg = g->gguf;
    else if (starts_with(hf, "model.layers.")) {
      const size_t dot = hf.find('.', 13);
      const std::string num = hf.substr(13, dot == std::string::npos ? std::string::npos : dot - 13);
      if (dot != std::string::npos && !num.empty() && num.size() <= 6 &&
          std::all_of(num.begin(), num.end(), [](char ch) { return ch >= '0' && ch <= '9'; })) {
        const int64_t layer = std::stoll(num);
        if (layer >= config_.n_layer)
          throw Error(t->file, "tensor '" + t->name + "' is for layer " + num + " but config.json has " +
                                   std::to_string(config_.n_layer) + " layers");
        if (const TensorSpec* l = layer_tensor_by_hf(spec, hf.substr(dot + 1), &expert))
          gg = "blk." + num + "." + l->gguf;
      }
    }
    if (gg.empty()) throw Error(t->file, "cannot map tensor '" + t->name + "' to a GGUF name");
    if (ql && !ends_with(gg, ".weight"))
      throw Error(dir, "quantized module " + ql->module + " is not a linear weight squish knows");
    if (!ql && t->dtype != STDType::F32 && t->dtype != STDType::F16 && t->dtype != STDType::BF16 &&
        t->dtype != STDType::F8_E4M3 && t->dtype != STDType::F8_E5M2)
      throw Error(t->file, "tensor '" + t->name + "' has integer dtype " + st_dtype_name(t->dtype) +
                               (quant_ ? " and is no quantized linear of the quantization_config"
                                      : " but config.json has no quantization_config"));
    if (!ql && (t->shape.empty() || t->shape.size() > 2))
      throw Error(t->file, "tensor '" + t->name + "' has rank " + std::to_string(t->shape.size()) +
                               ", expected 1 or 2");
    if (expert >= 0) {
      add_expert(gg, expert, t, ql != nullptr);
      continue;
    }
    HFTensorInfo info;
    info.gguf_name = gg;
    info.hf_name = ql ? ql->module + ".weight" : t->name;
    if (ql) info.shape = {ql->in_features, ql->out_features};
    else info.shape.assign(t->shape.rbegin(), t->shape.rend());
    info.source = t;
    info.quant = ql;
    if (!index_.emplace(gg, tensors_.size()).second)
      throw Error(t->file, "tensor '" + t->name + "' maps to " + gg + " twice");
    tensors_.push_back(std::move(info));
  }

  for (const HFTensorInfo& t : tensors_)
    for (size_t e = 0; e < t.experts.size(); ++e)
      if (!t.experts[e])
        throw Error(where, "missing expert " + std::to_string(e) + " of " + t.gguf_name + " (" + t.hf_name + ")");

  const HFTensorInfo* embd = find("token_embd.weight");
  if (!embd) throw Error(where, "missing tensor model.embed_tokens.weight (token_embd.weight)");
  if (embd->shape.size() != 2) throw Error(where, "model.embed_tokens.weight is not a matrix");
  // gemma3: the converter drops embedding rows beyond the tokenizer's vocabulary.
  if (arch == Arch::Gemma3) {
    const int64_t n_real = gemma3_tokenizer_vocab(dir, tokenizer_json_);
    if (n_real > 0 && n_real < embd->shape[1]) tensors_[index_.at("token_embd.weight")].shape[1] = n_real;
  }
  config_.n_vocab = find("token_embd.weight")->shape[1];
  config_.tied_embeddings = find("output.weight") == nullptr;
  config_.validate(config_path);

  // Every tensor the architecture needs, with the shape config.json implies.
  std::vector<std::string> required;
  for (const GlobalTensorSpec& g : spec.global_tensors)
    if (g.spec.required) required.push_back(g.spec.gguf);
  for (int64_t il = 0; il < config_.n_layer; ++il)
    for_each_layer_tensor(spec, [&](LayerTensor, const TensorSpec& t) {
      if (t.required) required.push_back(layer_tensor_name(il, t));
    });
  for (const auto& name : required)
    if (!find(name)) throw Error(where, "missing tensor " + name);
  for (auto& t : tensors_) {
    const auto want = expected_shape(spec, config_, t.gguf_name);
    if (!want.empty() && want != t.shape)
      throw Error(t.source->file, "tensor '" + t.hf_name + "' has ggml shape " + shape_str(t.shape) +
                                      ", expected " + shape_str(want) + " from config.json");
  }
}

void HFModelDir::add_expert(const std::string& gguf_name, int64_t expert, const SafeTensor* t, bool quantized) {
  if (quantized) throw Error(t->file, "tensor '" + t->name + "': quantized expert tensors are not supported");
  if (expert >= config_.n_expert)
    throw Error(t->file, "tensor '" + t->name + "' is for expert " + std::to_string(expert) + " but config.json has " +
                             std::to_string(config_.n_expert) + " experts");
  if (t->shape.size() != 2) throw Error(t->file, "expert tensor '" + t->name + "' is not a matrix");
  const std::vector<int64_t> shape = {t->shape[1], t->shape[0], config_.n_expert};
  auto [it, added] = index_.emplace(gguf_name, tensors_.size());
  if (added) {
    HFTensorInfo info;
    info.gguf_name = gguf_name;
    info.hf_name = t->name;
    info.shape = shape;
    info.source = t;
    info.experts.assign(static_cast<size_t>(config_.n_expert), nullptr);
    tensors_.push_back(std::move(info));
  }
  HFTensorInfo& info = tensors_[it->second];
  if (info.experts.empty()) throw Error(t->file, "tensor '" + t->name + "' maps to " + gguf_name + " twice");
  if (info.shape != shape || info.experts[static_cast<size_t>(expert)] || t->dtype != info.source->dtype)
    throw Error(t->file, "expert tensor '" + t->name + "' repeats an expert or differs in shape or dtype from '" +
                             info.hf_name + "'");
  info.experts[static_cast<size_t>(expert)] = t;
}

std::vector<int32_t> HFModelDir::eos_token_ids() const {
  return gen_.eos_token_ids.empty() ? extras_.eos_token_ids : gen_.eos_token_ids;
}

const HFTensorInfo* HFModelDir::find(const std::string& gguf_name) const {
  const auto it = index_.find(gguf_name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const HFTensorInfo& HFModelDir::tensor(const std::string& gguf_name) const {
  const HFTensorInfo* t = find(gguf_name);
  if (!t) throw Error(st_.path(), "missing tensor " + gguf_name);
  return *t;
}

std::vector<float> HFModelDir::tensor_f32(const std::string& gguf_name) const {
  const HFTensorInfo& t = tensor(gguf_name);
  std::vector<float> out(static_cast<size_t>(t.n_elements()));
  tensor_f32(t, out.data());
  return out;
}

void HFModelDir::tensor_f32(const HFTensorInfo& t, float* dst) const {
  const SafeTensor& src = *t.source;
  const size_t n = static_cast<size_t>(t.n_elements());
  if (!t.experts.empty()) {  // experts stacked in expert order, each as stored
    const size_t per = n / t.experts.size();
    for (size_t e = 0; e < t.experts.size(); ++e) {
      if (static_cast<size_t>(t.experts[e]->n_elements()) != per)
        throw Error(t.experts[e]->file, "tensor '" + t.experts[e]->name + "' is smaller than its mapped shape");
      t.experts[e]->to_f32(dst + e * per);
    }
    return;
  }
  const LoadTransform transform = tensor_transform(arch_spec(config_.arch), t.gguf_name);
  const bool q = transform == LoadTransform::RopePermuteQ;
  const bool permute = q || transform == LoadTransform::RopePermuteK;
  // A quantized linear: dequantized in HF row order (into dst, or first a copy when permuted).
  std::vector<float> dequantized;
  if (t.quant) {
    if (!permute) return t.quant->dequantize(dst);
    dequantized.resize(n);
    t.quant->dequantize(dequantized.data());
  }
  if (permute) {
    // HF stores each head's rotary pairs as (first half, second half); ggml's interleaved RoPE
    // wants them adjacent: out row h*hd + 2i + j <- in row h*hd + j*hd/2 + i.
    const int64_t heads = q ? config_.n_head : config_.n_head_kv;
    const int64_t rows = t.shape.size() == 2 ? t.shape[1] : t.shape[0];
    const int64_t cols = t.shape.size() == 2 ? t.shape[0] : 1;
    const int64_t hd = rows / heads, half = hd / 2;
    if (hd * heads != rows || half * 2 != hd)
      throw Error(src.file, "tensor '" + t.hf_name + "' rows do not split into " +
                                std::to_string(heads) + " heads of even size");
    const size_t row_bytes = static_cast<size_t>(cols) * st_dtype_size(src.dtype);
    for (int64_t h = 0; h < heads; ++h)
      for (int64_t i = 0; i < half; ++i)
        for (int64_t j = 0; j < 2; ++j) {
          const int64_t in_row = h * hd + j * half + i, out_row = h * hd + 2 * i + j;
          if (t.quant)
            std::copy_n(dequantized.data() + in_row * cols, cols, dst + out_row * cols);
          else
            st_convert_to_f32(src.dtype, src.data + static_cast<size_t>(in_row) * row_bytes,
                              dst + out_row * cols, static_cast<size_t>(cols));
        }
    return;
  }
  if (n * st_dtype_size(src.dtype) > src.nbytes)
    throw Error(src.file, "tensor '" + t.hf_name + "' is smaller than its mapped shape");
  if (n == static_cast<size_t>(src.n_elements())) {
    src.to_f32(dst);
  } else {  // token_embd cut to the vocabulary: convert the leading rows only
    st_convert_to_f32(src.dtype, src.data, dst, n);
  }
  if (transform == LoadTransform::NormPlusOne)
    for (size_t i = 0; i < n; ++i) dst[i] = st_round(dst[i] + 1.f, src.dtype);  // in the stored dtype, as torch
}

bool HFModelDir::input_quant(const std::string& gguf_name, InputQuant* quant, float* scale) const {
  const HFTensorInfo* t = find(gguf_name);
  if (!t || !t->quant || t->quant->input_quant == InputQuant::None) return false;
  *quant = t->quant->input_quant;
  *scale = t->quant->input_scale;
  return true;
}

std::unique_ptr<HFModelDir> load_hf_model_dir(const std::string& dir) {
  return std::make_unique<HFModelDir>(dir);
}

bool is_hf_model_dir(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec) && fs::exists(fs::path(path) / "config.json", ec);
}

}  // namespace squish
