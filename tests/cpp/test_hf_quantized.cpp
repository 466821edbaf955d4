// Quantized HF checkpoints read back: every format and scheme squish's checkpoint writer exports
// (compressed-tensors pack-quantized INTk sym/asym/g_idx, int-quantized W8A8, float-quantized FP8
// weight-only / dynamic / static; GPTQ v1 INT2/4/8 sym/asym/act-order; AWQ GEMM) loads to weights
// equal bit for bit to the writer's dequantized reference (--dequant-out), in HF order and in ggml
// order through HFModelDir and Model::load, with the declared input quantization; GPTQ's zero
// conventions; bad checkpoints give one-line errors naming the directory.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "squish/common/error.h"
#include "squish/export/checkpoint_writer.h"
#include "squish/export/model_source.h"
#include "squish/formats/half.h"
#include "squish/io/hf_model_dir.h"
#include "squish/io/safetensors_writer.h"
#include "squish/model/model.h"
#include "squish/model/weights.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;
using namespace squish;

namespace {

std::string tiny(const std::string& arch, const std::string& rel) {
  return test::source_dir() + "/tests/goldens/safetensors/tiny/" + arch + "/" + rel;
}

bool is_decoder_linear(const std::string& n) {
  for (const char* s : {"attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
                        "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"}) {
    const std::string x = s;
    if (n.size() > x.size() && n.compare(n.size() - x.size(), x.size(), x) == 0) return true;
  }
  return false;
}

// One export case: format, weight spec and activation scheme.
struct Case {
  std::string name, arch = "llama";
  CheckpointFormat format = CheckpointFormat::CompressedTensors;
  QuantSpec spec;
  ActivationQuant act = ActivationQuant::None;
  std::string dtype = "bfloat16";
  bool act_order = false;  // give the matrices a non-trivial g_idx
};

QuantSpec int_spec(int bits, int64_t group, bool sym) {
  QuantSpec s;
  s.bits = bits;
  s.symmetric = sym;
  s.method = sym ? ScaleMethod::AbsMax : ScaleMethod::MinMax;
  s.granularity = group > 0 ? Granularity::PerGroup : group == 0 ? Granularity::PerChannel : Granularity::PerTensor;
  s.group_size = group > 0 ? group : 128;
  return s;
}

QuantSpec fp8_spec(int64_t group) {
  QuantSpec s = int_spec(8, group, true);
  s.format = ElementFormat::FP8_E4M3;
  return s;
}

// An exported checkpoint and what a loader must reconstruct.
struct Exported {
  std::string dir, ref;                         // the checkpoint, the --dequant-out file
  std::map<std::string, std::vector<float>> want;  // GGUF name -> dequantized values, ggml order
  std::map<std::string, float> input_scales;    // static cases: per GGUF name
  CheckpointOptions opt;
};

Exported export_case(const Case& c) {
  const auto src = open_model_source(tiny(c.arch, "model.gguf"));
  Exported e;
  e.dir = test::temp_dir() + "/" + c.name;
  e.ref = e.dir + ".dq.safetensors";
  e.opt.out_dir = e.dir;
  e.opt.format = c.format;
  e.opt.dtype = c.dtype;
  e.opt.activations = c.act;
  e.opt.tokenizer_from = tiny(c.arch, "hf");
  std::map<std::string, QuantizedMatrix> quantized;
  float scale = 0.01f;
  for (size_t i = 0; i < src->tensors().size(); ++i) {
    const SourceTensor& t = src->tensors()[i];
    if (!is_decoder_linear(t.name)) continue;
    std::vector<float> w(static_cast<size_t>(t.n_elements()));
    src->rows_f32(i)->read(0, t.n_rows(), w.data());
    QuantizedMatrix q = quantize_matrix(w.data(), t.n_rows(), t.shape[0], c.spec);
    if (c.act_order) {  // column c in group (7c mod cols) / group: every group keeps its size
      q.g_idx.resize(static_cast<size_t>(q.cols));
      for (int64_t k = 0; k < q.cols; ++k) q.g_idx[k] = static_cast<int32_t>((7 * k % q.cols) / q.group);
    }
    QuantizedMatrix stored = stored_matrix(q, e.opt);
    std::vector<float> v(static_cast<size_t>(q.rows * q.cols));
    dequantize_matrix(stored, v.data());
    e.want[t.name] = std::move(v);
    if (c.act == ActivationQuant::StaticPerTensor) e.opt.input_scales[t.name] = scale *= 1.25f;
    quantized.emplace(t.name, std::move(q));
  }
  e.input_scales = e.opt.input_scales;
  write_checkpoint(*src, quantized, e.opt);
  write_dequantized_reference(*src, quantized, e.opt, e.ref);
  return e;
}

bool bit_equal(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// Input quantization a linear of this case must get.
InputQuant want_input_quant(const Case& c) {
  const bool fp8 = c.spec.format == ElementFormat::FP8_E4M3;
  if (c.act == ActivationQuant::DynamicPerToken) return fp8 ? InputQuant::Fp8PerToken : InputQuant::Int8PerToken;
  if (c.act == ActivationQuant::StaticPerTensor) return fp8 ? InputQuant::Fp8Static : InputQuant::Int8Static;
  return InputQuant::None;
}

// vLLM's fused static scale: the largest of q/k/v (gate/up) of the layer.
float want_input_scale(const Exported& e, const std::string& g) {
  const std::string blk = g.substr(0, g.find('.', 4) + 1), leaf = g.substr(blk.size());
  std::vector<std::string> set = {leaf};
  if (leaf == "attn_q.weight" || leaf == "attn_k.weight" || leaf == "attn_v.weight")
    set = {"attn_q.weight", "attn_k.weight", "attn_v.weight"};
  if (leaf == "ffn_gate.weight" || leaf == "ffn_up.weight") set = {"ffn_gate.weight", "ffn_up.weight"};
  float m = 0;
  for (const auto& s : set) m = std::max(m, e.input_scales.at(blk + s));
  // the checkpoint stores the scale in its dtype
  return m;
}

class RoundTrip : public ::testing::TestWithParam<Case> {};

std::vector<Case> cases() {
  std::vector<Case> v;
  auto add = [&](Case c) { v.push_back(std::move(c)); };
  using CF = CheckpointFormat;
  for (const char* arch : {"llama", "qwen2", "gemma3"}) {
    const int64_t g = std::string(arch) == "qwen2" ? 8 : 16;  // qwen2's n_ff is 40
    const std::string gs = "_g" + std::to_string(g) + "_" + arch;
    add({"ct_int4_sym" + gs, arch, CF::CompressedTensors, int_spec(4, g, true)});
    add({"gptq_int4_sym" + gs, arch, CF::Gptq, int_spec(4, g, true)});
    add({"awq_int4_asym" + gs, arch, CF::Awq, int_spec(4, g, false)});
    add({std::string("ct_w8a8_int8_") + arch, arch, CF::CompressedTensors, int_spec(8, 0, true),
         ActivationQuant::DynamicPerToken});
  }
  add({"ct_int4_asym_g16", "llama", CF::CompressedTensors, int_spec(4, 16, false)});
  add({"ct_int4_sym_channel_f16", "llama", CF::CompressedTensors, int_spec(4, 0, true), ActivationQuant::None, "float16"});
  add({"ct_int4_asym_channel_f32", "llama", CF::CompressedTensors, int_spec(4, 0, false), ActivationQuant::None, "float32"});
  add({"ct_int3_sym_g16", "llama", CF::CompressedTensors, int_spec(3, 16, true)});
  add({"ct_int5_asym_g8", "qwen2", CF::CompressedTensors, int_spec(5, 8, false)});
  add({"ct_int8_sym_g16_w8a16", "llama", CF::CompressedTensors, int_spec(8, 16, true)});
  add({"ct_int2_asym_g16", "llama", CF::CompressedTensors, int_spec(2, 16, false)});
  add({"ct_int4_sym_g16_actorder", "llama", CF::CompressedTensors, int_spec(4, 16, true), ActivationQuant::None,
       "bfloat16", true});
  add({"ct_int4_sym_tensor", "llama", CF::CompressedTensors, int_spec(4, -1, true)});
  add({"ct_w8a8_int8_static", "llama", CF::CompressedTensors, int_spec(8, 0, true), ActivationQuant::StaticPerTensor});
  add({"ct_w8a8_int8_tensor_dynamic", "llama", CF::CompressedTensors, int_spec(8, -1, true),
       ActivationQuant::DynamicPerToken});
  add({"ct_fp8_weight_only", "llama", CF::CompressedTensors, fp8_spec(0)});
  add({"ct_fp8_dynamic", "qwen2", CF::CompressedTensors, fp8_spec(0), ActivationQuant::DynamicPerToken});
  add({"ct_fp8_static_tensor", "llama", CF::CompressedTensors, fp8_spec(-1), ActivationQuant::StaticPerTensor, "float16"});
  add({"gptq_int8_sym_g16", "llama", CF::Gptq, int_spec(8, 16, true)});
  add({"gptq_int2_sym_g16", "llama", CF::Gptq, int_spec(2, 16, true)});
  add({"gptq_int4_sym_channel", "llama", CF::Gptq, int_spec(4, 0, true)});
  add({"gptq_int4_sym_g16_actorder", "llama", CF::Gptq, int_spec(4, 16, true), ActivationQuant::None, "bfloat16", true});
  add({"awq_int4_sym_g16", "llama", CF::Awq, int_spec(4, 16, true)});
  return v;
}

std::string case_name(const ::testing::TestParamInfo<Case>& i) { return i.param.name; }

// How gtest prints a case.
[[maybe_unused]] void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

}  // namespace

TEST_P(RoundTrip, LoadsTheDequantizedReferenceBitForBit) {
  const Case& c = GetParam();
  const Exported e = export_case(c);
  const auto hf = load_hf_model_dir(e.dir);
  ASSERT_NE(hf->quantization(), nullptr);
  const HFQuantization& q = *hf->quantization();
  ASSERT_EQ(q.linears.size(), e.want.size());

  // HF order, against the --dequant-out file.
  const SafeTensorsFile ref(e.ref);
  for (const auto& l : q.linears) {
    const SafeTensor* r = ref.find(l->module + ".weight");
    ASSERT_NE(r, nullptr) << l->module;
    ASSERT_EQ(r->shape, (std::vector<int64_t>{l->out_features, l->in_features})) << l->module;
    std::vector<float> got(static_cast<size_t>(l->out_features * l->in_features));
    l->dequantize(got.data());
    EXPECT_TRUE(bit_equal(got.data(), r->to_f32().data(), got.size())) << l->module << " " << l->scheme;
    EXPECT_FALSE(l->scheme.empty());
  }
  // ggml order through the directory and through Model::load, with the input quantization.
  const auto model = Model::load(e.dir);
  const InputQuant iq = want_input_quant(c);
  for (const auto& [name, want] : e.want) {
    const auto got = hf->tensor_f32(name);
    ASSERT_EQ(got.size(), want.size()) << name;
    EXPECT_TRUE(bit_equal(got.data(), want.data(), want.size())) << name;
    ASSERT_NE(hf->find(name)->quant, nullptr) << name;
    const size_t dot = name.find('.', 4);
    const auto& layer = model->weights().layers[std::stoul(name.substr(4, dot - 4))];
    const std::string leaf = name.substr(dot + 1);
    const Weight* w = leaf == "attn_q.weight"       ? &layer.attn_q
                      : leaf == "attn_k.weight"     ? &layer.attn_k
                      : leaf == "attn_v.weight"     ? &layer.attn_v
                      : leaf == "attn_output.weight" ? &layer.attn_output
                      : leaf == "ffn_gate.weight"   ? &layer.ffn_gate
                      : leaf == "ffn_up.weight"     ? &layer.ffn_up
                                                    : &layer.ffn_down;
    ASSERT_EQ(w->data.size(), want.size()) << name;
    EXPECT_TRUE(bit_equal(w->data.data(), want.data(), want.size())) << name;
    EXPECT_EQ(w->input_quant, iq) << name;
    if (c.act == ActivationQuant::StaticPerTensor) {
      const float s = want_input_scale(e, name);
      const float stored = c.dtype == "float16" ? fp16_to_fp32(fp32_to_fp16(s)) : bf16_to_fp32(fp32_to_bf16(s));
      EXPECT_EQ(w->input_scale, stored) << name;
    }
  }
  // Unquantized tensors load as before, and the model runs.
  EXPECT_EQ(model->weights().output_norm.data, hf->tensor_f32("output_norm.weight"));
  Session s(model, 16);
  const std::vector<int32_t> prompt = {1, 5, 9, 20};
  const auto logits = s.eval(prompt);
  for (float x : logits) ASSERT_TRUE(std::isfinite(x));
}

INSTANTIATE_TEST_SUITE_P(Formats, RoundTrip, ::testing::ValuesIn(cases()), case_name);

namespace {

// Rewrites a checkpoint's single model.safetensors through `edit` (which may drop, add or change
// tensors) and optionally its config.json quantization_config through `edit_config`.
void rewrite(const std::string& dir, const std::function<void(std::vector<STOutTensor>&)>& edit,
             const std::function<void(json&)>& edit_config = nullptr) {
  if (edit) {
    std::vector<STOutTensor> ts;
    {
      const SafeTensorsFile f(dir + "/model.safetensors");
      for (const auto& t : f.tensors()) ts.push_back({t.name, t.dtype, t.shape, std::vector<uint8_t>(t.data, t.data + t.nbytes)});
    }
    edit(ts);
    SafeTensorsWriter w;
    for (auto& t : ts) w.add(std::move(t));
    fs::remove(dir + "/model.safetensors");
    w.write(dir, UINT64_MAX);
  }
  if (edit_config) {
    json c = json::parse(test::read_file(dir + "/config.json"));
    edit_config(c["quantization_config"]);
    std::ofstream(dir + "/config.json") << c.dump(2);
  }
}

STOutTensor* find(std::vector<STOutTensor>& ts, const std::string& name) {
  for (auto& t : ts)
    if (t.name == name) return &t;
  return nullptr;
}

void drop(std::vector<STOutTensor>& ts, const std::string& name) {
  ts.erase(std::remove_if(ts.begin(), ts.end(), [&](const STOutTensor& t) { return t.name == name; }), ts.end());
}

// A fresh copy of an exported case.
std::string fresh(const Case& c) {
  static std::map<std::string, std::string> made;
  if (!made.count(c.name)) made[c.name] = export_case(c).dir;
  const std::string dir = test::temp_dir() + "/" + c.name;
  fs::copy(made[c.name], dir, fs::copy_options::recursive);
  return dir;
}

void expect_error(const std::string& dir, const std::string& needle) {
  for (int via_model = 0; via_model < 2; ++via_model) {
    try {
      if (via_model) Model::load(dir);
      else load_hf_model_dir(dir);
      ADD_FAILURE() << "no error (expected: " << needle << ")";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(needle), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
      EXPECT_EQ(what.rfind(dir, 0), 0u) << what;
    }
  }
}

const Case kCt4{"bad_ct4", "llama", CheckpointFormat::CompressedTensors, int_spec(4, 16, false)};
const Case kCtStatic{"bad_ct_static", "llama", CheckpointFormat::CompressedTensors, int_spec(8, 0, true),
                     ActivationQuant::StaticPerTensor};
const Case kGptq{"bad_gptq", "llama", CheckpointFormat::Gptq, int_spec(4, 16, true)};
const Case kAwq{"bad_awq", "llama", CheckpointFormat::Awq, int_spec(4, 16, false)};
const std::string kQ = "model.layers.0.self_attn.q_proj";

}  // namespace

TEST(HFQuantizedGptq, ZeroConventionsOfV1AndV2) {
  // v1 stores zero − 1 and AutoGPTQ reads (stored + 1) & 15: a stored 15 is a zero of 0. v2
  // (GPTQModel) stores the zero itself: 15.
  const std::string dir = fresh(kGptq);
  rewrite(dir, [](std::vector<STOutTensor>& ts) {
    STOutTensor* z = find(ts, kQ + ".qzeros");
    std::fill(z->data.begin(), z->data.end(), 0xff);
  });
  for (const int64_t zero : {0, 15}) {
    if (zero == 15) rewrite(dir, nullptr, [](json& qc) { qc["checkpoint_format"] = "gptq_v2"; });
    const auto hf = load_hf_model_dir(dir);
    const auto* t = hf->find("blk.0.attn_q.weight");
    std::vector<float> got(static_cast<size_t>(t->n_elements()));
    t->quant->dequantize(got.data());
    const std::vector<float> scales = hf->safetensors().tensor(kQ + ".scales").to_f32();
    const SafeTensor& qw = hf->safetensors().tensor(kQ + ".qweight");
    const int64_t out = t->quant->out_features, in = t->quant->in_features;
    for (int64_t o = 0; o < out; ++o)
      for (int64_t i = 0; i < in; ++i) {
        uint32_t word;
        std::memcpy(&word, qw.data + 4 * ((i / 8) * out + o), 4);
        const int64_t code = (word >> (4 * (i % 8))) & 15;
        ASSERT_EQ(got[o * in + i], scales[(i / 16) * out + o] * static_cast<float>(code - zero)) << o << "," << i;
      }
  }
}

TEST(HFQuantizedBadInput, UnsupportedConfigs) {
  std::string d = fresh(kCt4);
  rewrite(d, nullptr, [](json& qc) { qc["quant_method"] = "bitsandbytes"; });
  expect_error(d, "quantization method 'bitsandbytes' is not supported");
  d = fresh(kCt4);
  rewrite(d, nullptr, [](json& qc) { qc.erase("quant_method"); });
  expect_error(d, "no quant_method");
  d = fresh(kCt4);
  rewrite(d, nullptr, [](json& qc) { qc["kv_cache_scheme"] = {{"num_bits", 4}, {"type", "int"}, {"strategy", "tensor"}}; });
  expect_error(d, "kv_cache_scheme other than static 8-bit per-tensor is not supported");
  d = fresh(kCt4);
  rewrite(d, nullptr, [](json& qc) { qc["config_groups"]["group_0"]["format"] = "nvfp4-pack-quantized"; });
  expect_error(d, "format 'nvfp4-pack-quantized' is not supported");
  d = fresh(kCt4);
  rewrite(d, nullptr, [](json& qc) { qc["config_groups"]["group_0"]["weights"]["strategy"] = "token"; });
  expect_error(d, "weight strategy 'token' is not supported");
  d = fresh(kCt4);
  rewrite(d, nullptr, [](json& qc) { qc["config_groups"]["group_0"]["weights"]["num_bits"] = 9; });
  expect_error(d, "pack-quantized holds int1..int8, not int9");
  d = fresh(kCt4);
  rewrite(d, nullptr, [](json& qc) { qc["config_groups"]["group_0"]["targets"] = {"re:.*mlp.*"}; });
  expect_error(d, "self_attn.q_proj is stored quantized but no config group targets it");
  d = fresh(kCtStatic);
  rewrite(d, nullptr, [](json& qc) { qc["config_groups"]["group_0"]["input_activations"]["strategy"] = "group"; });
  expect_error(d, "static group input activations are not supported");
  d = fresh(kGptq);
  rewrite(d, nullptr, [](json& qc) { qc["bits"] = 3; });
  expect_error(d, "GPTQ checkpoints of 3 bits are not supported");
  d = fresh(kGptq);
  rewrite(d, nullptr, [](json& qc) { qc["checkpoint_format"] = "marlin"; });
  expect_error(d, "GPTQ checkpoint_format 'marlin' is not supported");
  d = fresh(kAwq);
  rewrite(d, nullptr, [](json& qc) { qc["version"] = "gemv"; });
  expect_error(d, "AWQ version 'gemv' is not supported");
  d = fresh(kAwq);
  rewrite(d, nullptr, [](json& qc) { qc["bits"] = 8; });
  expect_error(d, "AWQ checkpoints of 8 bits are not supported");
}

TEST(HFQuantizedBadInput, MissingMistypedOrMisshapenTensors) {
  std::string d = fresh(kCt4);
  rewrite(d, [](auto& ts) { drop(ts, kQ + ".weight_scale"); });
  expect_error(d, "missing tensor " + kQ + ".weight_scale");
  d = fresh(kCt4);
  rewrite(d, [](auto& ts) { drop(ts, kQ + ".weight_zero_point"); });
  expect_error(d, "missing tensor " + kQ + ".weight_zero_point (asymmetric weights)");
  d = fresh(kCt4);
  rewrite(d, [](auto& ts) { drop(ts, kQ + ".weight_shape"); });
  expect_error(d, "missing tensor " + kQ + ".weight_shape");
  d = fresh(kCt4);
  rewrite(d, [](auto& ts) {
    STOutTensor* s = find(ts, kQ + ".weight_scale");
    s->shape[1] -= 1;
    s->data.resize(s->data.size() / (s->shape[1] + 1) * s->shape[1]);
  });
  expect_error(d, "tensor " + kQ + ".weight_scale has shape [32, 1], expected [32, 2]");
  d = fresh(kCt4);
  rewrite(d, [](auto& ts) {
    STOutTensor* s = find(ts, kQ + ".weight_shape");
    int64_t v[2] = {32, 48};
    std::memcpy(s->data.data(), v, 16);
  });
  expect_error(d, "tensor " + kQ + ".weight_packed has shape [32, 4], expected [32, 6]");
  d = fresh(kCtStatic);
  rewrite(d, [](auto& ts) { drop(ts, kQ + ".input_scale"); });
  expect_error(d, "missing tensor " + kQ + ".input_scale");
  d = fresh(kCtStatic);
  rewrite(d, [](auto& ts) {
    STOutTensor* s = find(ts, kQ + ".input_scale");
    std::fill(s->data.begin(), s->data.end(), 0);
  });
  expect_error(d, "tensor " + kQ + ".input_scale is not a positive finite scale");
  d = fresh(kGptq);
  rewrite(d, [](auto& ts) { drop(ts, kQ + ".qzeros"); });
  expect_error(d, "missing tensor " + kQ + ".qzeros");
  d = fresh(kGptq);
  rewrite(d, [](auto& ts) { find(ts, kQ + ".qweight")->dtype = STDType::F32; });
  expect_error(d, "tensor " + kQ + ".qweight has dtype F32, expected I32");
  d = fresh(kGptq);
  rewrite(d, [](auto& ts) {
    STOutTensor* g = find(ts, kQ + ".g_idx");
    const int32_t bad = 9;
    std::memcpy(g->data.data(), &bad, 4);
  });
  expect_error(d, "tensor " + kQ + ".g_idx holds group 9 outside [0, 2)");
  d = fresh(kAwq);
  rewrite(d, [](auto& ts) {
    STOutTensor* s = find(ts, kQ + ".scales");
    s->shape = {1, 32};
    s->data.resize(64);
  });
  expect_error(d, "tensor " + kQ + ".scales has shape [1, 32], expected [2, 32]");
  // The whole linear gone: the model lacks the weight.
  d = fresh(kAwq);
  rewrite(d, [](auto& ts) {
    for (const char* s : {".qweight", ".qzeros", ".scales"}) drop(ts, kQ + s);
  });
  expect_error(d, "missing tensor blk.0.attn_q.weight");
}

TEST(HFQuantizedCli, InspectShowsTheSchemeAndErrorsAreOneLine) {
  const std::string d = fresh(kCtStatic);
  const auto r = test::run_squish("inspect '" + d + "'");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("compressed-tensors int-quantized int8 sym channel, input int8-static"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(kQ), std::string::npos);
  rewrite(d, [](auto& ts) { drop(ts, kQ + ".weight_scale"); });
  const auto p = test::run_squish("perplexity '" + d + "' --chunks 1");
  EXPECT_EQ(p.exit_code, 1);
  EXPECT_EQ(p.err, "squish: error: " + d + ": missing tensor " + kQ + ".weight_scale\n");
}

TEST(HFQuantizedOracle, LlmCompressorCheckpointsRunLikeTransformers) {
  // Checkpoints of a tiny random llama quantized by llm-compressor (not by squish): the weights
  // equal compressed-tensors' decompression bit for bit (F32 scales), the logits transformers'.
  const std::string dir = test::temp_dir() + "/llmc";
  const auto r = test::run_shell(test::python_exe() + " " + test::source_dir() +
                                 "/tests/python/test_checkpoint_load.py make-llmcompressor " + dir);
  if (r.exit_code == 77) GTEST_SKIP() << "llm-compressor is not installed";
  ASSERT_EQ(r.exit_code, 0) << r.err.substr(r.err.size() > 3000 ? r.err.size() - 3000 : 0);
  const json oracle = json::parse(test::read_file(dir + "/oracle.json"));
  const auto prompt = oracle["prompt"].get<std::vector<int32_t>>();
  ASSERT_GE(oracle["schemes"].size(), 6u);
  for (const auto& [name, o] : oracle["schemes"].items()) {
    const auto hf = load_hf_model_dir(dir + "/" + name);
    ASSERT_NE(hf->quantization(), nullptr) << name;
    const SafeTensorsFile dq(dir + "/" + name + ".decompressed.safetensors");
    ASSERT_EQ(hf->quantization()->linears.size(), 14u) << name;
    for (const auto& l : hf->quantization()->linears) {
      const SafeTensor* want = dq.find(l->module + ".weight");
      ASSERT_NE(want, nullptr) << name << " " << l->module;
      std::vector<float> got(static_cast<size_t>(l->out_features * l->in_features));
      l->dequantize(got.data());
      EXPECT_TRUE(bit_equal(got.data(), want->to_f32().data(), got.size())) << name << " " << l->module;
    }
    const auto model = Model::load(dir + "/" + name);
    Session s(model, 64);
    const auto got = s.eval(prompt, true);
    // Transformers' logits; for dynamic INT8 activations also with vLLM's scale amax / 127, which
    // squish uses (compressed-tensors' own is amax / 127.5: a different grid, a looser match).
    for (const char* key : {"logits_vllm_scale", "logits"}) {
      if (!o.contains(key)) continue;
      const bool own_int8_grid = std::string(key) == "logits" && o.contains("logits_vllm_scale");
      const auto& want = o[key];
      const size_t V = want[0].size();
      ASSERT_EQ(got.size(), prompt.size() * V) << name;
      double max_diff = 0, range = 0;
      size_t same_top = 0;
      for (size_t p = 0; p < prompt.size(); ++p) {
        const auto w = want[p].get<std::vector<float>>();
        const float* g = got.data() + p * V;
        same_top += std::max_element(w.begin(), w.end()) - w.begin() == std::max_element(g, g + V) - g;
        for (size_t v = 0; v < V; ++v) {
          max_diff = std::max(max_diff, std::fabs(static_cast<double>(g[v]) - w[v]));
          range = std::max(range, std::fabs(static_cast<double>(w[v])));
        }
      }
      if (own_int8_grid) {
        EXPECT_GE(same_top, prompt.size() * 9 / 10) << name;
        EXPECT_LT(max_diff, 0.1 * range) << name;
      } else {
        EXPECT_EQ(same_top, prompt.size()) << name << " " << key;
        EXPECT_LT(max_diff, 1e-3 * range) << name << " " << key;
      }
      std::printf("%-11s %-18s %-68s max|dlogit| %.3g (|logit| <= %.2f), top-1 %zu/%zu\n", name.c_str(), key,
                  hf->quantization()->linears.front()->scheme.c_str(), max_diff, range, same_top, prompt.size());
    }
  }
}
