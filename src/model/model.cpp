// Model::load: a GGUF file or an HF model directory to F32 weights, tokenizer and chat template.
#include "squish/model/model.h"

#include <filesystem>

#include "squish/common/error.h"
#include "squish/common/parallel.h"
#include "squish/formats/ggml_type.h"
#include "squish/io/gguf_config.h"
#include "squish/io/gguf_reader.h"
#include "squish/io/hf_model_dir.h"
#include "squish/io/hf_packed_weights.h"
#include "squish/model/weights.h"
#include "weight_conversion.h"

namespace squish {

Model::Model(ModelConfig config, std::unique_ptr<Tokenizer> tokenizer,
             std::unique_ptr<ModelWeights> weights, std::string path, std::string chat_template)
    : config_(std::move(config)), tokenizer_(std::move(tokenizer)), weights_(std::move(weights)),
      path_(std::move(path)), chat_template_(std::move(chat_template)) {}

Model::~Model() = default;

namespace {

// GGUF tensors, dequantized row-parallel straight into the destination, or (raw) left packed in
// the mapped file, which `storage` keeps open.
TensorSource gguf_source(const std::shared_ptr<const GGUFFile>& file) {
  const GGUFFile& f = *file;
  TensorSource s;
  s.storage = file;
  s.raw_is_file_mapping = true;
  s.path = f.path();
  s.find = [&f](const std::string& name, std::vector<int64_t>* shape) {
    const GGUFTensor* t = f.find_tensor(name);
    if (!t) return false;
    *shape = t->shape;
    return true;
  };
  s.read = [&f](const std::string& name, float* dst) {
    const GGUFTensor& t = f.tensor(name);
    if (!can_dequantize(t.type))
      throw Error(f.path(), "tensor " + name + " has type " + type_name(t.type) +
                                " which squish cannot dequantize");
    const int64_t cols = t.row_length(), rows = t.n_rows();
    const size_t rb = row_bytes(t.type, cols);
    if (rb * static_cast<size_t>(rows) > t.nbytes)
      throw Error(f.path(), "tensor " + name + " data is shorter than its shape");
    parallel_for(rows, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) dequantize_row(t.type, t.data + r * rb, dst + r * cols, cols);
    }, 64);
  };
  s.raw = [&f](const std::string& name, GGMLType* type, const uint8_t** data) {
    const GGUFTensor& t = f.tensor(name);
    if (!can_dequantize(t.type)) return false;
    if (row_bytes(t.type, t.row_length()) * static_cast<size_t>(t.n_rows()) > t.nbytes)
      throw Error(f.path(), "tensor " + name + " data is shorter than its shape");
    *type = t.type;
    *data = reinterpret_cast<const uint8_t*>(t.data);
    return true;
  };
  return s;
}

std::shared_ptr<Model> load_gguf(const std::string& path, const LoadOptions& opt) {
  auto file = std::make_shared<const GGUFFile>(path);
  const GGUFFile& f = *file;
  ModelConfig config = read_gguf_config(f);
  auto weights = ModelWeights::load(config, gguf_source(file), opt.keep_quantized);
  convert_linears(*weights, opt);
  auto tokenizer = Tokenizer::from_gguf(f);
  if (tokenizer->vocab_size() > config.n_vocab)
    throw Error(path, "tokenizer has " + std::to_string(tokenizer->vocab_size()) +
                          " tokens but the model only " + std::to_string(config.n_vocab));
  std::string tmpl = f.get_string("tokenizer.chat_template", "");
  return std::make_shared<Model>(std::move(config), std::move(tokenizer), std::move(weights), path,
                                 std::move(tmpl));
}

std::shared_ptr<Model> load_hf(const std::string& dir, const LoadOptions& opt) {
  auto hf = load_hf_model_dir(dir);
  ModelConfig config = hf->config();
  // llama.cpp ties the output when the converted file has no output.weight.
  config.tied_embeddings = hf->find("output.weight") == nullptr;
  if (const HFTensorInfo* e = hf->find("token_embd.weight"); e && e->shape.size() == 2)
    config.n_vocab = e->shape[1];
  config.validate(dir);
  TensorSource s;
  s.path = dir;
  const HFModelDir* h = hf.get();
  s.find = [h](const std::string& name, std::vector<int64_t>* shape) {
    const HFTensorInfo* t = h->find(name);
    if (!t) return false;
    *shape = t->shape;
    return true;
  };
  s.read = [h](const std::string& name, float* dst) { h->tensor_f32(h->tensor(name), dst); };
  s.input_quant = [h](const std::string& name, InputQuant* q, float* scale) { return h->input_quant(name, q, scale); };
  if (opt.keep_quantized) {  // quantized linears repacked into GGUF blocks where that is exact
    auto packed = std::make_shared<HFPackedWeights>();
    s.raw = [h, p = packed.get()](const std::string& name, GGMLType* type, const uint8_t** data) {
      return p->get(*h, name, type, data);
    };
    s.storage = packed;
  }
  auto weights = ModelWeights::load(config, s, opt.keep_quantized);
  if (const HFQuantization* q = hf->quantization(); q && !q->kv_fp8_scales.empty()) {
    for (int64_t il = 0; il < config.n_layer; ++il) {
      const std::string m = "model.layers." + std::to_string(il) + ".self_attn";
      const auto it = q->kv_fp8_scales.find(m);
      if (it == q->kv_fp8_scales.end() || !(it->second.first > 0) || !(it->second.second > 0))
        throw Error(dir, "kv_cache_scheme without k_scale and v_scale for " + m);
      weights->kv_k_scale.push_back(it->second.first);
      weights->kv_v_scale.push_back(it->second.second);
    }
  }
  convert_linears(*weights, opt);
  if (hf->tokenizer_json_path().empty()) throw Error(dir, "no tokenizer.json in the model directory");
  auto tokenizer = Tokenizer::from_hf_json(hf->tokenizer_json_path());
  return std::make_shared<Model>(std::move(config), std::move(tokenizer), std::move(weights), dir,
                                 hf->chat_template());
}

}  // namespace

std::shared_ptr<Model> Model::load(const std::string& path, const LoadOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    if (!is_hf_model_dir(path))
      throw Error(path, "is a directory without config.json (not an HF model directory)");
    return load_hf(path, options);
  }
  return load_gguf(path, options);
}

}  // namespace squish
