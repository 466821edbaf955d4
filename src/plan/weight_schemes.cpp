#include "squish/plan/weight_schemes.h"

#include <cctype>
#include <cmath>

#include <fmt/format.h>

#include "squish/formats/ggml_type.h"
#include "squish/quant/type_mix.h"

namespace squish::plan {
namespace {

WeightScheme integer(const char* name, int bits, int group, int zero_bits, const char* acts,
                     const char* note) {
  WeightScheme s;
  s.name = name;
  s.family = SchemeFamily::Integer;
  s.bits = bits;
  s.group = group;
  s.scale_bits = 16;
  s.zero_bits = zero_bits;
  s.activations = acts;
  s.layout = group ? fmt::format("INT{} weights, one FP16 scale{} per {} weights", bits,
                                 zero_bits ? fmt::format(" + {}-bit zero point", zero_bits) : "", group)
                   : fmt::format("INT{} weights, one FP16 scale per output channel (row)", bits);
  s.note = note;
  return s;
}

WeightScheme gguf(FileType f, const char* note) {
  WeightScheme s;
  s.name = file_type_name(f);
  s.family = SchemeFamily::GGUF;
  s.gguf = f;
  s.activations = "F32 (llama.cpp; Q8 dot products)";
  const GGMLType base = default_tensor_type(f);
  const TypeTraits& t = type_traits(base);
  s.bits = 0;
  s.layout = fmt::format("{} block: {} bytes per {} weights; per-tensor types by llama.cpp's mix rules",
                         t.name, t.type_size, t.block_size);
  s.note = note;
  return s;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

const std::vector<WeightScheme>& weight_schemes() {
  static const std::vector<WeightScheme> list = [] {
    std::vector<WeightScheme> v;
    WeightScheme fp16;
    fp16.name = "FP16/BF16";
    fp16.family = SchemeFamily::Dense;
    fp16.bits = 16;
    fp16.activations = "16-bit";
    fp16.layout = "2 bytes per weight";
    fp16.note = "unquantized baseline";
    v.push_back(fp16);
    WeightScheme fp8;
    fp8.name = "FP8";
    fp8.family = SchemeFamily::Float8;
    fp8.bits = 8;
    fp8.scale_bits = 16;
    fp8.activations = "FP8 E4M3 (dynamic per-token)";
    fp8.layout = "FP8 E4M3 weights, one 16-bit scale per output channel";
    fp8.note = "needs FP8 tensor cores (Hopper H100/H200, Ada L40S/L4/RTX 4090)";
    v.push_back(fp8);
    v.push_back(integer("W8A16", 8, 0, 0, "16-bit", "weight-only INT8: the safe default, near-lossless"));
    v.push_back(integer("W8A8", 8, 0, 0, "INT8 per-token dynamic",
                        "INT8 GEMMs: best for compute-bound, high-throughput batches"));
    v.push_back(integer("W4A16 g32", 4, 32, 0, "16-bit", "weight-only INT4, finer groups"));
    v.push_back(integer("W4A16 g64", 4, 64, 0, "16-bit", "weight-only INT4"));
    v.push_back(integer("W4A16 g128", 4, 128, 0, "16-bit",
                        "weight-only INT4 (GPTQ/AWQ): fastest single-user decoding on GPUs"));
    v.push_back(integer("W4A16 g128 asym", 4, 128, 4, "16-bit", "GPTQ/AWQ with zero points"));
    v.push_back(integer("W4A16 per-channel", 4, 0, 0, "16-bit", "weight-only INT4, no groups"));
    WeightScheme nf4;
    nf4.name = "NF4";
    nf4.family = SchemeFamily::NF4;
    nf4.bits = 4;
    nf4.group = 64;
    nf4.scale_bits = 32;
    nf4.activations = "16-bit";
    nf4.layout = "NF4 codes, one FP32 absmax per block of 64";
    nf4.note = "bitsandbytes (QLoRA)";
    v.push_back(nf4);
    WeightScheme dq = nf4;
    dq.name = "NF4 + DQ";
    dq.scale_bits = 8;
    dq.double_quant = true;
    dq.layout = "NF4 codes, 8-bit absmax per block of 64, FP32 scale per 256 absmax values";
    dq.note = "bitsandbytes double quantization";
    v.push_back(dq);
    v.push_back(gguf(FileType::Q8_0, "llama.cpp / Ollama, near-lossless"));
    v.push_back(gguf(FileType::Q6_K, "llama.cpp / Ollama"));
    v.push_back(gguf(FileType::Q5_K_M, "llama.cpp / Ollama: quality pick for CPU and Apple"));
    v.push_back(gguf(FileType::Q4_K_M, "llama.cpp / Ollama: the popular CPU/Apple default"));
    v.push_back(gguf(FileType::Q4_0, "llama.cpp legacy 4-bit"));
    v.push_back(gguf(FileType::Q3_K_M, "llama.cpp, noticeable quality loss"));
    v.push_back(gguf(FileType::Q2_K, "llama.cpp, large quality loss"));
    return v;
  }();
  return list;
}

std::optional<WeightScheme> find_scheme(const std::string& name) {
  for (const WeightScheme& s : weight_schemes())
    if (lower(s.name) == lower(name)) return s;
  return std::nullopt;
}

double linear_bits_per_weight(const WeightScheme& s, int64_t row_length) {
  switch (s.family) {
    case SchemeFamily::Dense: return s.bits;
    case SchemeFamily::NF4:
      return s.bits + double(s.scale_bits) / s.group +
             (s.double_quant ? 32.0 / (double(s.group) * 256.0) : 0.0);
    case SchemeFamily::Integer:
    case SchemeFamily::Float8: {
      const int64_t row = std::max<int64_t>(1, row_length);
      const double groups = s.group ? std::ceil(double(row) / s.group) : 1.0;
      return s.bits + groups * (s.scale_bits + s.zero_bits) / double(row);
    }
    case SchemeFamily::GGUF: {
      const TypeTraits& t = type_traits(default_tensor_type(s.gguf));
      return 8.0 * double(t.type_size) / double(t.block_size);
    }
  }
  return s.bits;
}

std::string bits_formula(const WeightScheme& s, int64_t row_length) {
  const double b = linear_bits_per_weight(s, row_length);
  switch (s.family) {
    case SchemeFamily::Dense: return fmt::format("{}", s.bits);
    case SchemeFamily::NF4:
      return s.double_quant
                 ? fmt::format("{} + {}/{} + 32/({}·256) = {:.4f}", s.bits, s.scale_bits, s.group, s.group, b)
                 : fmt::format("{} + {}/{} = {:.4g}", s.bits, s.scale_bits, s.group, b);
    case SchemeFamily::Integer:
    case SchemeFamily::Float8: {
      const std::string per = s.zero_bits ? fmt::format("({}+{})", s.scale_bits, s.zero_bits)
                                          : fmt::format("{}", s.scale_bits);
      if (s.group && row_length % s.group == 0)
        return fmt::format("{} + {}/{} = {:.4g}", s.bits, per, s.group, b);
      if (s.group)
        return fmt::format("{} + ⌈{}/{}⌉·{}/{} = {:.4g}", s.bits, row_length, s.group, per, row_length, b);
      return fmt::format("{} + {}/{} = {:.4g}", s.bits, per, row_length, b);
    }
    case SchemeFamily::GGUF: {
      const TypeTraits& t = type_traits(default_tensor_type(s.gguf));
      return fmt::format("{}·8/{} = {:.4g} ({})", t.type_size, t.block_size, b, t.name);
    }
  }
  return "";
}

double weight_bytes(const WeightScheme& s, const ModelShape& m) {
  double bytes = 0;
  if (s.family == SchemeFamily::GGUF) {
    std::vector<MixTensor> in;
    in.reserve(m.tensors.size());
    for (const PlanTensor& t : m.tensors)
      in.push_back({t.name, t.shape, t.shape.size() >= 2 ? GGMLType::F16 : GGMLType::F32});
    MixModelInfo info;
    info.arch = m.arch;
    info.n_layer = m.n_layer;
    info.n_head = std::max<int64_t>(1, m.n_head);
    info.n_head_kv = std::max<int64_t>(1, m.n_head_kv);
    info.is_70b = m.arch == "llama" && m.n_layer == 80;
    MixOptions opt;
    opt.ftype = s.gguf;
    const std::vector<MixChoice> choice = choose_tensor_types(info, in, opt);
    for (size_t i = 0; i < in.size(); ++i) {
      const GGMLType t = choice[i].quantizable ? choice[i].type : in[i].type;
      const TypeTraits& tr = type_traits(t);
      const double n = double(m.tensors[i].n_elements());
      bytes += std::ceil(n / double(tr.block_size)) * double(tr.type_size);
    }
  } else {
    for (const PlanTensor& t : m.tensors) {
      const double n = double(t.n_elements());
      const bool quantized = t.role == TensorRole::Linear;
      const double bits = quantized ? linear_bits_per_weight(s, t.shape.empty() ? 1 : t.shape[0]) : 16.0;
      bytes += n * bits / 8.0;
    }
  }
  const double tp = m.tensor_params();
  if (tp <= 0) return m.n_params * linear_bits_per_weight(s, m.n_embd) / 8.0;
  return bytes * (m.n_params / tp);
}

std::vector<KvFormat> kv_formats(int64_t head_dim) {
  const double hd = double(std::max<int64_t>(1, head_dim));
  return {
      {"FP16", 16, "2 bytes per element (BF16 the same)"},
      {"FP8", 8, "E4M3, one scale per tensor (vLLM --kv-cache-dtype fp8)"},
      {"INT8", 8 + 16 / hd, fmt::format("INT8 + FP16 scale per token and head: 8 + 16/{}", head_dim)},
      {"INT4", 4 + 16.0 / 32, "INT4 in groups of 32 + FP16 scale: 4 + 16/32 (like llama.cpp q4_0)"},
  };
}

}  // namespace squish::plan
