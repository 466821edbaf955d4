// HF SafeTensors checkpoint export (see checkpoint_writer.h): the inverse of hf_model_dir.cpp's
// mapping (GGUF -> HF names, llama q/k un-permuted, gemma3 norms −1), config files, tokenizer
// copy, the format adapter for quantized linears, atomic output directory.
#include "squish/export/checkpoint_writer.h"

#include <nlohmann/json.hpp>

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <unistd.h>

#include "checkpoint_adapter.h"
#include "hf_tokenizer_json.h"
#include "squish/arch/rope_scaling.h"
#include "squish/arch/tensor_names.h"
#include "squish/arch/tensor_registry.h"
#include "squish/common/atomic_file.h"
#include "squish/common/dir_lock.h"
#include "squish/common/error.h"
#include "squish/formats/half.h"

namespace squish {

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

bool ends_with(const std::string& s, const std::string& x) {
  return s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
}

// Integer metadata value or a default.
int64_t meta_int(const ModelSource& src, const std::string& key, int64_t def) {
  const GGUFValue* v = src.find(key);
  return v ? v->as_int() : def;
}
double meta_double(const ModelSource& src, const std::string& key, double def) {
  const GGUFValue* v = src.find(key);
  return v ? v->as_double() : def;
}
int64_t meta_required(const ModelSource& src, const std::string& key) {
  const GGUFValue* v = src.find(key);
  if (!v) throw Error(src.path(), "missing metadata " + key);
  return v->as_int();
}

std::string source_arch(const ModelSource& src) {
  const GGUFValue* v = src.find("general.architecture");
  if (!v) throw Error(src.path(), "missing metadata general.architecture");
  const std::string a = v->as_string();
  if (!find_arch(a))
    throw Error(src.path(), "architecture '" + a + "' has no HF mapping (llama, qwen2, gemma3)");
  return a;
}

const SourceTensor* find_tensor(const ModelSource& src, const std::string& name) {
  for (const auto& t : src.tensors())
    if (t.name == name) return &t;
  return nullptr;
}

// HF row of GGUF row r for a llama q/k matrix with `heads` heads of `rows/heads` rows: ggml row
// h*hd + 2i + j holds HF row h*hd + j*hd/2 + i.
int64_t hf_row_of(int64_t r, int64_t hd) {
  const int64_t h = r / hd, w = r % hd, i = w / 2, j = w % 2;
  return h * hd + j * (hd / 2) + i;
}

// Heads of a q/k tensor (0 when rows are not permuted).
int64_t permuted_heads(const ModelSource& src, const std::string& arch, const std::string& gguf) {
  const LoadTransform t = tensor_transform(*find_arch(arch), gguf);
  if (t == LoadTransform::RopePermuteQ) return meta_required(src, arch + ".attention.head_count");
  if (t == LoadTransform::RopePermuteK) return meta_required(src, arch + ".attention.head_count_kv");
  return 0;
}

// Rows of a quantized matrix reordered into HF order.
QuantizedMatrix unpermute_rows(const QuantizedMatrix& q, int64_t heads) {
  const int64_t hd = q.rows / heads;
  if (hd * heads != q.rows || hd % 2) throw Error("", "q/k rows do not split into heads of even size");
  QuantizedMatrix o = q;
  const int64_t gpr = q.rows ? static_cast<int64_t>(q.scales.size()) / q.rows : 0;
  const bool per_row_scales = gpr > 0 && gpr * q.rows == static_cast<int64_t>(q.scales.size());
  for (int64_t r = 0; r < q.rows; ++r) {
    const int64_t d = hf_row_of(r, hd);
    std::copy_n(q.codes.begin() + r * q.cols, q.cols, o.codes.begin() + d * q.cols);
    if (per_row_scales) {
      std::copy_n(q.scales.begin() + r * gpr, gpr, o.scales.begin() + d * gpr);
      if (!q.zeros.empty()) std::copy_n(q.zeros.begin() + r * gpr, gpr, o.zeros.begin() + d * gpr);
    }
  }
  return o;
}

std::string dtype_torch_name(const std::string& d) { return d; }

// A float32 metadata value printed with float precision (1e-05, not 9.99999974e-06).
double float_value(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", x);
  return std::strtod(buf, nullptr);
}

// config.json from GGUF metadata.
ojson make_config(const ModelSource& src, const std::string& arch, const CheckpointOptions& opt,
                  int64_t n_vocab, bool tied, const std::vector<float>& rope_freqs) {
  const std::string p = arch + ".";
  ojson c;
  const int64_t n_embd = meta_required(src, p + "embedding_length");
  const int64_t n_head = meta_required(src, p + "attention.head_count");
  const int64_t n_layer = meta_required(src, p + "block_count");
  const ArchSpec* spec = find_arch(arch);
  if (!spec) throw Error(src.path(), "architecture '" + arch + "' has no SafeTensors layout");
  c["architectures"] = {spec->hf_architecture};
  c["model_type"] = spec->hf_model_types.front();
  c["hidden_size"] = n_embd;
  c["intermediate_size"] = meta_required(src, p + "feed_forward_length");
  c["num_hidden_layers"] = n_layer;
  c["num_attention_heads"] = n_head;
  c["num_key_value_heads"] = meta_int(src, p + "attention.head_count_kv", n_head);
  c["head_dim"] = meta_int(src, p + "attention.key_length", n_embd / n_head);
  c["vocab_size"] = n_vocab;
  c["max_position_embeddings"] = meta_int(src, p + "context_length", 4096);
  c["rms_norm_eps"] = float_value(meta_double(src, p + "attention.layer_norm_rms_epsilon", 1e-6));
  c["rope_theta"] = float_value(meta_double(src, p + "rope.freq_base", 10000.0));
  c["tie_word_embeddings"] = tied;
  c["torch_dtype"] = dtype_torch_name(opt.dtype);
  if (const GGUFValue* v = src.find("tokenizer.ggml.bos_token_id")) c["bos_token_id"] = v->as_int();
  if (const GGUFValue* v = src.find("tokenizer.ggml.eos_token_id")) c["eos_token_id"] = v->as_int();
  // null rather than the config class's default (Phi3Config's 32000 may lie outside the vocabulary)
  const GGUFValue* pad = src.find("tokenizer.ggml.padding_token_id");
  c["pad_token_id"] = pad ? ojson(pad->as_int()) : ojson(nullptr);
  if (const int64_t rot = meta_int(src, p + "rope.dimension_count", 0); rot > 0 && rot != c["head_dim"].get<int64_t>())
    c["partial_rotary_factor"] = float_value(static_cast<double>(rot * n_head) / static_cast<double>(n_embd));
  if (!rope_freqs.empty()) {  // llama3 scaling, recovered from the divisors
    // Only the band edges are identifiable: the original context is any one below the context.
    const double original = static_cast<double>(std::min<int64_t>(8192, std::max<int64_t>(1, c["max_position_embeddings"].get<int64_t>() / 2)));
    const auto s = fit_llama3_rope_scaling(rope_freqs, c["rope_theta"].get<double>(), c["head_dim"].get<int64_t>(),
                                           original);
    if (!s) throw Error(src.path(), std::string(kRopeFreqsTensor) + " is no llama3 RoPE scaling config.json can express");
    c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", s->factor}, {"low_freq_factor", s->low_freq_factor},
                         {"high_freq_factor", s->high_freq_factor},
                         {"original_max_position_embeddings", static_cast<int64_t>(s->original_context)}};
  }
  const ArchFeatures& features = spec->features;
  if (features.sliding_window) {  // gemma2, gemma3
    c["hidden_activation"] = "gelu_pytorch_tanh";
    // llama.cpp's q scale (see read_gguf_config) as transformers expresses it
    c["query_pre_attn_scalar"] = n_layer == features.wide_scale_layers ? n_embd / n_head : c["head_dim"].get<int64_t>();
    const int64_t sw = meta_int(src, p + "attention.sliding_window", 0);
    c["sliding_window"] = sw;
    if (features.swa_rope_base > 0.f) c["rope_local_base_freq"] = features.swa_rope_base;
    const int64_t pattern = features.swa_pattern;
    c["sliding_window_pattern"] = pattern;
    ojson types = ojson::array();
    for (int64_t i = 0; i < n_layer; ++i)
      types.push_back(i % pattern < pattern - 1 ? "sliding_attention" : "full_attention");
    c["layer_types"] = types;
    auto softcap = [&](const std::string& key) {
      const double v = meta_double(src, p + key, 0.0);
      return v > 0 ? ojson(float_value(v)) : ojson(nullptr);
    };
    c["final_logit_softcapping"] = softcap("final_logit_softcapping");
    c["attn_logit_softcapping"] = softcap("attn_logit_softcapping");
  } else {
    c["hidden_act"] = "silu";
    c["attention_bias"] = spec->features.attn_bias;
    if (spec->arch != Arch::Llama) c["use_sliding_window"] = false;
  }
  return c;
}

ojson make_generation_config(const ModelSource& src) {
  ojson g;
  if (const GGUFValue* v = src.find("tokenizer.ggml.bos_token_id")) g["bos_token_id"] = v->as_int();
  if (const GGUFValue* v = src.find("tokenizer.ggml.eos_token_id")) g["eos_token_id"] = v->as_int();
  if (const GGUFValue* v = src.find("tokenizer.ggml.padding_token_id")) g["pad_token_id"] = v->as_int();
  return g;
}

// Module prefix of a linear weight name ("....q_proj.weight" -> "....q_proj").
std::string module_of(const std::string& hf_weight) {
  return hf_weight.substr(0, hf_weight.size() - std::string(".weight").size());
}

bool is_linear(const std::string& hf) {
  return ends_with(hf, "_proj.weight") || hf == "lm_head.weight";
}

// Prepares the output directory: a fresh temp beside the target; throws if the target exists
// without overwrite.
std::string make_temp_dir(const CheckpointOptions& opt) {
  if (opt.out_dir.empty()) throw Error("", "no output directory given");
  std::error_code ec;
  if (fs::exists(opt.out_dir, ec) && !opt.overwrite)
    throw Error(opt.out_dir, "already exists (use --force to overwrite)");
  const std::string tmp = opt.staging_dir.empty() ? opt.out_dir + ".tmp-" + std::to_string(::getpid())
                                                  : (fs::path(opt.staging_dir) / "output.tmp").string();
  fs::remove_all(tmp, ec);
  if (!fs::create_directories(tmp, ec) || ec) throw Error(tmp, "cannot create directory: " + ec.message());
  return tmp;
}

void commit_dir(const std::string& tmp, const CheckpointOptions& opt) {
  std::error_code ec;
  if (opt.overwrite && fs::exists(opt.out_dir, ec)) {
    const std::string old = opt.out_dir + ".old-" + std::to_string(::getpid());
    fs::rename(opt.out_dir, old, ec);
    if (ec) throw Error(opt.out_dir, "cannot replace: " + ec.message());
    fs::rename(tmp, opt.out_dir, ec);
    if (ec) throw Error(opt.out_dir, "cannot rename into place: " + ec.message());
    fs::remove_all(old, ec);
    return;
  }
  // Without overwrite, never replace a directory another process committed meanwhile.
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, opt.out_dir.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST || errno == ENOTEMPTY)
      throw Error(opt.out_dir, "already exists: another process wrote it meanwhile (use --force to overwrite)");
    throw Error(opt.out_dir, std::string("cannot rename into place: ") + std::strerror(errno));
  }
}

// Removes the temp directory unless released.
struct TempDirGuard {
  std::string path;
  bool keep = false;
  ~TempDirGuard() {
    std::error_code ec;
    if (!keep) fs::remove_all(path, ec);
  }
};

}  // namespace

STDType checkpoint_dtype(const std::string& name) {
  if (name == "bfloat16") return STDType::BF16;
  if (name == "float16") return STDType::F16;
  if (name == "float32") return STDType::F32;
  throw Error("", "unknown dtype '" + name + "' (bfloat16, float16, float32)");
}

CheckpointFormat parse_checkpoint_format(const std::string& n) {
  if (n == "compressed-tensors") return CheckpointFormat::CompressedTensors;
  if (n == "gptq") return CheckpointFormat::Gptq;
  if (n == "awq") return CheckpointFormat::Awq;
  if (n == "unquantized") return CheckpointFormat::Unquantized;
  throw Error("", "unknown checkpoint format '" + n + "' (compressed-tensors, gptq, awq, unquantized)");
}

STDType stored_scale_dtype(const CheckpointOptions& opt) {
  const bool fp16 = opt.format == CheckpointFormat::Gptq || opt.format == CheckpointFormat::Awq;
  return fp16 ? STDType::F16 : checkpoint_dtype(opt.dtype);
}

QuantizedMatrix stored_matrix(const QuantizedMatrix& q, const CheckpointOptions& opt) {
  QuantizedMatrix o = q;
  round_scales(o, stored_scale_dtype(opt));
  return o;
}

void write_dequantized_reference(const ModelSource& src,
                                 const std::map<std::string, QuantizedMatrix>& quantized,
                                 const CheckpointOptions& opt, const std::string& path) {
  const std::string arch = source_arch(src);
  SafeTensorsWriter w;
  for (const auto& [g, q] : quantized) {
    QuantizedMatrix m = stored_matrix(q, opt);
    if (const int64_t heads = permuted_heads(src, arch, g)) m = unpermute_rows(m, heads);
    std::vector<float> v(static_cast<size_t>(m.rows * m.cols));
    dequantize_matrix(m, v.data());
    w.add_f32(hf_tensor_name(arch, g), STDType::F32, {m.rows, m.cols}, v.data());
  }
  const fs::path p(path);
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  const std::string tmp = dir + "/.dequant-" + std::to_string(::getpid());
  std::error_code ec;
  fs::create_directories(tmp, ec);
  TempDirGuard guard{tmp};
  w.write(tmp, UINT64_MAX);
  fs::rename(fs::path(tmp) / "model.safetensors", p, ec);
  if (ec) throw Error(path, "cannot write: " + ec.message());
}

void write_checkpoint(const ModelSource& src, const std::map<std::string, QuantizedMatrix>& quantized,
                      const CheckpointOptions& opt) {
  QuantizedTensors q;
  q.shapes = &quantized;
  q.get = [&quantized](const std::string& name) { return &quantized.at(name); };
  write_checkpoint(src, q, opt);
}

void check_exportable(const ModelSource& src) {
  for (const SourceTensor& t : src.tensors())
    if (t.shape.size() > 2 && t.name.find("_exps.") != std::string::npos)
      throw Error(src.path(), "SafeTensors export of a mixture of experts (" + t.name +
                                  ") is not implemented; GGUF output (squish quantize --type) is");
}

namespace {

// Writes the checkpoint through opt.staging_dir/output.tmp, renamed into place at the end.
void write_checkpoint_staged(const ModelSource& src, const QuantizedTensors& quantized, const CheckpointOptions& opt) {
  check_exportable(src);
  const std::string arch = source_arch(src);
  const STDType dtype = checkpoint_dtype(opt.dtype);
  std::unique_ptr<CheckpointAdapter> adapter;
  if (opt.format == CheckpointFormat::CompressedTensors) adapter = make_compressed_tensors_adapter(opt);
  else if (opt.format == CheckpointFormat::Gptq) adapter = make_gptq_adapter(opt);
  else if (opt.format == CheckpointFormat::Awq) adapter = make_awq_adapter(opt);
  const std::map<std::string, QuantizedMatrix> none;
  const auto& shapes = quantized.shapes ? *quantized.shapes : none;
  if (!adapter && !shapes.empty()) throw Error(opt.out_dir, "format 'unquantized' given quantized tensors");
  if (opt.kv_cache != KvCacheScheme::None && opt.format != CheckpointFormat::CompressedTensors)
    throw Error(opt.out_dir, "KV-cache scales are written in compressed-tensors checkpoints only");

  // Quantized linears in HF order, checked (spec and shape) before any long work; the values are
  // checked again as each is written.
  std::vector<QuantizedLinear> linears;
  for (const auto& [g, q] : shapes) {
    const SourceTensor* t = find_tensor(src, g);
    if (!t) throw Error(src.path(), "quantized tensor " + g + " is not in the model");
    if (t->shape.size() != 2 || t->shape[0] != q.cols || t->shape[1] != q.rows)
      throw Error(src.path(), "quantized tensor " + g + " has the wrong shape");
    const std::string hf = hf_tensor_name(arch, g);
    if (!is_linear(hf)) throw Error(src.path(), "quantized tensor " + g + " is not a linear weight");
    linears.push_back({g, module_of(hf), &q});  // config() reads spec and g_idx only
    adapter->check(linears.back());
  }
  const std::string tmp = make_temp_dir(opt);
  TempDirGuard guard{tmp};

  SafeTensorsWriter w(tmp, opt.shard_bytes);
  std::vector<std::string> unquantized_linears;
  const bool tied = find_tensor(src, "output.weight") == nullptr;
  int64_t n_vocab = 0;
  std::vector<float> rope_freqs;  // config.json's rope_scaling, not a tensor
  for (size_t i = 0; i < src.tensors().size(); ++i) {
    const SourceTensor& t = src.tensors()[i];
    if (t.name == kRopeFreqsTensor) {
      rope_freqs.resize(static_cast<size_t>(t.n_elements()));
      src.rows_f32(i)->read(0, t.n_rows(), rope_freqs.data());
      continue;
    }
    const std::string hf = hf_tensor_name(arch, t.name);
    if (t.name == "token_embd.weight") n_vocab = t.shape.size() > 1 ? t.shape[1] : 0;
    if (shapes.count(t.name)) {
      const QuantizedMatrix* full = quantized.get(t.name);
      if (!full) throw Error(src.path(), "quantized tensor " + t.name + " could not be read back");
      QuantizedMatrix m = stored_matrix(*full, opt);
      if (const int64_t heads = permuted_heads(src, arch, t.name)) m = unpermute_rows(m, heads);
      const QuantizedLinear l{t.name, module_of(hf), &m};
      adapter->check(l);
      adapter->add(w, l);
      continue;
    }
    if (is_linear(hf)) unquantized_linears.push_back(module_of(hf));
    const int64_t n = t.n_elements(), rows = t.n_rows(), cols = t.shape[0];
    std::vector<int64_t> shape(t.shape.rbegin(), t.shape.rend());
    const int64_t heads = permuted_heads(src, arch, t.name);
    const bool gemma_norm = tensor_transform(*find_arch(arch), t.name) == LoadTransform::NormPlusOne;
    if (!heads && !gemma_norm) {  // streamed a slice of rows at a time (the embeddings are the largest)
      const auto reader = src.rows_f32(i);
      w.add_f32_rows(hf, dtype, shape, rows, cols,
                     [&reader](int64_t r0, int64_t nr, float* dst) { reader->read(r0, nr, dst); });
      continue;
    }
    std::vector<float> v(static_cast<size_t>(n));
    src.rows_f32(i)->read(0, rows, v.data());
    if (heads) {
      // 2-D: rows are output rows; 1-D bias: each element is a "row".
      const bool vec = t.shape.size() == 1;
      const int64_t r_n = vec ? n : rows, c_n = vec ? 1 : cols, hd = r_n / heads;
      std::vector<float> o(v.size());
      for (int64_t r = 0; r < r_n; ++r)
        std::copy_n(v.begin() + r * c_n, c_n, o.begin() + hf_row_of(r, hd) * c_n);
      v.swap(o);
    }
    if (gemma_norm)
      for (float& x : v) x -= 1.f;
    w.add_f32(hf, dtype, shape, v.data());
  }
  if (opt.kv_cache != KvCacheScheme::None) {  // k_scale / v_scale of every attention module
    const float qmax = opt.kv_cache == KvCacheScheme::Fp8 ? 448.0f : 127.0f;
    for (const SourceTensor& t : src.tensors()) {
      const bool k = ends_with(t.name, ".attn_k.weight"), v = ends_with(t.name, ".attn_v.weight");
      if (!k && !v) continue;
      const auto it = opt.kv_absmax.find(t.name);
      if (it == opt.kv_absmax.end()) throw Error(opt.out_dir, "no calibrated KV-cache range for " + t.name);
      const std::string attn = module_of(hf_tensor_name(arch, t.name));  // "...self_attn.k_proj"
      const float scale = std::max(it->second, 1e-8f) / qmax;
      w.add_f32(attn.substr(0, attn.rfind('.')) + (k ? ".k_scale" : ".v_scale"), dtype, {1}, &scale);
    }
  }
  if (tied) unquantized_linears.push_back("lm_head");  // transformers' tied lm_head stays dense
  ojson config = make_config(src, arch, opt, n_vocab, tied, rope_freqs);
  std::map<std::string, std::string> extra;
  if (adapter) {
    ojson qc = adapter->config(linears, unquantized_linears);
    extra = adapter->extra_files(qc);
    config["quantization_config"] = qc;
  }
  w.write(tmp, opt.shard_bytes);
  write_file_atomic(tmp + "/config.json", config.dump(2), true);
  write_file_atomic(tmp + "/generation_config.json", make_generation_config(src).dump(2), true);
  for (const auto& [name, text] : extra) write_file_atomic(tmp + "/" + name, text, true);
  if (opt.tokenizer_from.empty()) {
    write_hf_tokenizer_from_gguf(src, tmp);
  } else {
    for (const char* f : {"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                          "tokenizer.model", "chat_template.jinja"}) {
      const fs::path from = fs::path(opt.tokenizer_from) / f;
      std::error_code ec;
      if (fs::exists(from, ec)) {
        fs::copy_file(from, fs::path(tmp) / f, fs::copy_options::overwrite_existing, ec);
        if (ec) throw Error(from.string(), "cannot copy: " + ec.message());
      }
    }
  }
  commit_dir(tmp, opt);
  guard.keep = true;
}

}  // namespace

void write_checkpoint(const ModelSource& src, const QuantizedTensors& quantized, const CheckpointOptions& opt) {
  if (!opt.staging_dir.empty()) return write_checkpoint_staged(src, quantized, opt);
  // Staged in OUT.partial/ (locked for the run, as calibrated runs are), so a kill leaves nothing
  // beside the output but that directory, which the next run takes over and removes.
  CheckpointOptions staged = opt;
  staged.staging_dir = opt.out_dir + ".partial";
  const DirLock lock(staged.staging_dir, "writing " + opt.out_dir);
  write_checkpoint_staged(src, quantized, staged);
  std::error_code ec;
  fs::remove_all(staged.staging_dir, ec);  // empty now, or left over from a killed run
}

}  // namespace squish
