// HF model directories: mapped tensors equal, bit for bit, the GGUF that convert_hf_to_gguf's
// rules produce (goldens from tests/oracle/hf_tiny_models.py), configs agree, bad directories
// give one-line errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "squish/common/error.h"
#include "squish/io/gguf_config.h"
#include "squish/io/gguf_reader.h"
#include "squish/io/hf_model_dir.h"
#include "squish/model/tokenizer.h"
#include "test_support.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string tiny(const std::string& arch, const std::string& rel) {
  return squish::test::source_dir() + "/tests/goldens/safetensors/tiny/" + arch + "/" + rel;
}

void write_text(const std::string& path, const std::string& s) {
  std::ofstream f(path, std::ios::binary);
  f << s;
}

// A copy of a tiny model's HF directory that a test may damage.
std::string copy_hf(const std::string& arch) {
  const std::string dir = squish::test::temp_dir() + "/" + arch;
  fs::copy(tiny(arch, "hf"), dir, fs::copy_options::recursive);
  return dir;
}

void expect_error(const std::string& dir, const std::string& needle) {
  try {
    squish::load_hf_model_dir(dir);
    FAIL() << "no error (expected: " << needle << ")";
  } catch (const squish::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_EQ(what.rfind(e.file(), 0), 0u) << what;
  }
}

class HFvsGGUF : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(HFvsGGUF, TensorsEqualConvertedGGUFBitForBit) {
  const std::string arch = GetParam();
  const auto hf = squish::load_hf_model_dir(tiny(arch, "hf"));
  const squish::GGUFFile gg(tiny(arch, "model.gguf"));
  std::set<std::string> hf_names, gg_names;
  for (const auto& t : hf->tensors()) hf_names.insert(t.gguf_name);
  for (const auto& t : gg.tensors()) gg_names.insert(t.name);
  EXPECT_EQ(hf_names, gg_names);
  for (const auto& g : gg.tensors()) {
    ASSERT_EQ(g.type, squish::GGMLType::F32) << g.name;
    const squish::HFTensorInfo* t = hf->find(g.name);
    ASSERT_NE(t, nullptr) << g.name;
    EXPECT_EQ(t->shape, g.shape) << g.name;
    const std::vector<float> v = hf->tensor_f32(g.name);
    ASSERT_EQ(v.size() * 4, g.nbytes) << g.name;
    EXPECT_EQ(std::memcmp(v.data(), g.data, g.nbytes), 0) << g.name << " differs from the GGUF";
  }
}

TEST_P(HFvsGGUF, ConfigAgreesWithConvertedGGUF) {
  const std::string arch = GetParam();
  const auto hf = squish::load_hf_model_dir(tiny(arch, "hf"));
  const squish::GGUFFile gg(tiny(arch, "model.gguf"));
  const squish::ModelConfig& c = hf->config();
  ASSERT_EQ(gg.architecture(), arch);
  EXPECT_EQ(squish::arch_name(c.arch), arch);
  const std::string a = arch + ".";
  EXPECT_EQ(c.n_layer, gg.get_int(a + "block_count"));
  EXPECT_EQ(c.n_embd, gg.get_int(a + "embedding_length"));
  EXPECT_EQ(c.n_ff, gg.get_int(a + "feed_forward_length"));
  EXPECT_EQ(c.n_head, gg.get_int(a + "attention.head_count"));
  EXPECT_EQ(c.n_head_kv, gg.get_int(a + "attention.head_count_kv"));
  EXPECT_EQ(c.n_ctx_train, gg.get_int(a + "context_length"));
  EXPECT_EQ(c.rope_freq_base, static_cast<float>(gg.get_float(a + "rope.freq_base")));
  EXPECT_EQ(c.rms_eps, static_cast<float>(gg.get_float(a + "attention.layer_norm_rms_epsilon")));
  const int64_t head_dim = gg.get_int(a + "attention.key_length", c.n_embd / c.n_head);
  EXPECT_EQ(c.head_dim_k, head_dim);
  EXPECT_EQ(c.head_dim_v, gg.get_int(a + "attention.value_length", head_dim));
  EXPECT_EQ(c.n_rot, gg.get_int(a + "rope.dimension_count", head_dim));
  EXPECT_EQ(c.sliding_window, gg.get_int(a + "attention.sliding_window", 0));
  EXPECT_EQ(c.n_vocab, gg.tensor("token_embd.weight").shape[1]);
  EXPECT_EQ(c.tied_embeddings, gg.find_tensor("output.weight") == nullptr);
  EXPECT_EQ(c.rope_neox, arch != "llama");
  ASSERT_EQ(c.layer_is_swa.size(), static_cast<size_t>(c.n_layer));
  for (int64_t i = 0; i < c.n_layer; ++i)  // llama.cpp: gemma3 layers are SWA except every 6th
    EXPECT_EQ(c.layer_is_swa[i], arch == "gemma3" && (i + 1) % 6 != 0) << i;
  if (arch == "gemma3") {
    EXPECT_EQ(c.rope_freq_base_local, 10000.f);  // llama.cpp's rope_freq_base_train_swa
    EXPECT_EQ(c.final_logit_softcap, 0.f);
    EXPECT_EQ(hf->extras().query_pre_attn_scalar, 16.f);
    EXPECT_EQ(c.n_vocab, 265);  // 261 vocab + 4 added tokens, cut from 272 embedding rows
  }
  EXPECT_EQ(hf->extras().model_type, arch == "gemma3" ? "gemma3_text" : arch);

  // The same as the runtime's own reading of the converted GGUF, field by field.
  const squish::ModelConfig g = squish::read_gguf_config(gg);
  EXPECT_EQ(c.arch, g.arch);
  EXPECT_EQ(c.n_vocab, g.n_vocab);
  EXPECT_EQ(c.n_ctx_train, g.n_ctx_train);
  EXPECT_EQ(c.n_embd, g.n_embd);
  EXPECT_EQ(c.n_layer, g.n_layer);
  EXPECT_EQ(c.n_ff, g.n_ff);
  EXPECT_EQ(c.n_head, g.n_head);
  EXPECT_EQ(c.n_head_kv, g.n_head_kv);
  EXPECT_EQ(c.head_dim_k, g.head_dim_k);
  EXPECT_EQ(c.head_dim_v, g.head_dim_v);
  EXPECT_EQ(c.n_rot, g.n_rot);
  EXPECT_EQ(c.rms_eps, g.rms_eps);
  EXPECT_EQ(c.rope_freq_base, g.rope_freq_base);
  EXPECT_EQ(c.rope_freq_base_local, g.rope_freq_base_local);
  EXPECT_EQ(c.rope_freq_scale, g.rope_freq_scale);
  EXPECT_EQ(c.rope_neox, g.rope_neox);
  EXPECT_EQ(c.sliding_window, g.sliding_window);
  EXPECT_EQ(c.layer_is_swa, g.layer_is_swa);
  EXPECT_EQ(c.tied_embeddings, g.tied_embeddings);
  EXPECT_EQ(c.attn_logit_softcap, g.attn_logit_softcap);
  EXPECT_EQ(c.final_logit_softcap, g.final_logit_softcap);
  EXPECT_EQ(c.attention_scale, g.attention_scale);
}

TEST_P(HFvsGGUF, GenerationConfigAndFiles) {
  const std::string arch = GetParam();
  const auto hf = squish::load_hf_model_dir(tiny(arch, "hf"));
  EXPECT_EQ(hf->eos_token_ids(), (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(hf->extras().eos_token_ids, (std::vector<int32_t>{2}));
  const auto& g = hf->generation_config();
  EXPECT_EQ(g.bos_token_id, 1);
  EXPECT_EQ(g.do_sample, true);
  EXPECT_FLOAT_EQ(*g.temperature, 0.7f);
  EXPECT_EQ(g.top_k, 20);
  EXPECT_FLOAT_EQ(*g.top_p, 0.8f);
  EXPECT_FALSE(g.min_p.has_value());
  EXPECT_FALSE(hf->tokenizer_json_path().empty());
  EXPECT_NE(hf->chat_template().find("<|im_start|>"), std::string::npos);
  EXPECT_TRUE(squish::is_hf_model_dir(tiny(arch, "hf")));
  EXPECT_FALSE(squish::is_hf_model_dir(tiny(arch, "model.gguf")));
}

INSTANTIATE_TEST_SUITE_P(Archs, HFvsGGUF, ::testing::Values("llama", "qwen2", "gemma3"));

TEST(HFModelDirBadInput, MissingOrBrokenConfig) {
  std::string dir = copy_hf("qwen2");
  fs::remove(dir + "/config.json");
  expect_error(dir, "config.json: missing");
  dir = copy_hf("qwen2");
  write_text(dir + "/config.json", "{\"model_type\": \"qwen2\", ");
  expect_error(dir, "config.json: not valid JSON");
  dir = copy_hf("qwen2");
  write_text(dir + "/config.json", R"({"model_type": "mamba", "hidden_size": 8})");
  expect_error(dir, "unsupported model_type 'mamba'");
  expect_error(squish::test::temp_dir() + "/nope", "not a directory");
  // Found by bench/fuzz.sh (tests/fuzz/regressions/hf_config): a whole number beyond int64 was cast
  // to int64 (undefined behaviour) instead of being refused.
  for (const char* n : {"92233720368547758082", "1e300", "-1e19", "2.5"}) {
    dir = copy_hf("qwen2");
    json cfg = json::parse(std::ifstream(dir + "/config.json"));
    cfg["num_hidden_layers"] = json::parse(n);
    write_text(dir + "/config.json", cfg.dump());
    expect_error(dir, "\"num_hidden_layers\" is not an integer");
  }
}

TEST(HFModelDirBadInput, ConfigDisagreesWithTensors) {
  auto edit = [](const std::string& dir, const std::string& key, const json& value) {
    json c = json::parse(squish::test::read_file(dir + "/config.json"));
    c[key] = value;
    write_text(dir + "/config.json", c.dump());
  };
  std::string dir = copy_hf("llama");
  edit(dir, "num_hidden_layers", 3);
  expect_error(dir, "missing tensor blk.2.attn_norm.weight");
  dir = copy_hf("llama");
  edit(dir, "num_hidden_layers", 1);
  expect_error(dir, "is for layer 1 but config.json has 1 layers");
  dir = copy_hf("llama");
  edit(dir, "intermediate_size", 64);
  expect_error(dir, "expected [32, 64] from config.json");
  dir = copy_hf("llama");
  edit(dir, "num_key_value_heads", 3);
  expect_error(dir, "not a multiple of num_key_value_heads");
  dir = copy_hf("llama");
  edit(dir, "hidden_size", -5);
  expect_error(dir, "hidden_size = -5 is out of range");
  dir = copy_hf("llama");
  edit(dir, "num_attention_heads", "four");
  expect_error(dir, "\"num_attention_heads\" is not an integer");
}

TEST(HFModelDirBadInput, CheckpointProblems) {
  std::string dir = copy_hf("llama");
  fs::remove(dir + "/model-00002-of-00002.safetensors");
  expect_error(dir, "missing shard");
  dir = copy_hf("gemma3");
  write_text(dir + "/generation_config.json", R"({"eos_token_id": "two"})");
  expect_error(dir, "generation_config.json: \"eos_token_id\" holds a value that is not a token id");
  // A tensor the converter cannot map.
  dir = copy_hf("qwen2");
  {
    const std::string header = R"({"model.layers.0.mystery.weight":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
    std::string bytes(8, '\0');
    const uint64_t n = header.size();
    std::memcpy(bytes.data(), &n, 8);
    bytes += header + std::string(8, '\0');
    write_text(dir + "/extra.safetensors", bytes);
    json idx = {{"weight_map", json::object()}};
    const squish::SafeTensorsSet set = squish::SafeTensorsSet::open(tiny("qwen2", "hf"));
    for (const auto* t : set.tensors()) idx["weight_map"][t->name] = "model.safetensors";
    idx["weight_map"]["model.layers.0.mystery.weight"] = "extra.safetensors";
    write_text(dir + "/model.safetensors.index.json", idx.dump());
  }
  expect_error(dir, "cannot map tensor 'model.layers.0.mystery.weight'");
}

TEST_P(HFvsGGUF, TokenizersOfBothSidesAgree) {
  const std::string arch = GetParam();
  const auto hf = squish::load_hf_model_dir(tiny(arch, "hf"));
  const squish::GGUFFile gg(tiny(arch, "model.gguf"));
  const auto a = squish::Tokenizer::from_hf_json(hf->tokenizer_json_path());
  const auto b = squish::Tokenizer::from_gguf(gg);
  const std::string text = "the thin man ran in<|im_end|> then";
  const auto ia = a->encode(text, true, true), ib = b->encode(text, true, true);
  EXPECT_EQ(ia, ib);
  EXPECT_LT(ia.size(), text.size());  // merges applied
  EXPECT_EQ(a->bos_id(), b->bos_id());
  EXPECT_EQ(a->eos_id(), b->eos_id());
  EXPECT_EQ(a->decode(ia), text);
}

namespace {

// Found by bench/fuzz.sh (tests/fuzz/regressions/tokenizer_json): a float token id such as 3e21 was
// cast to int64 (undefined behaviour); ids must be JSON integers.
TEST(HFTokenizerBadInput, FloatTokenIdIsRefused) {
  const std::string dir = copy_hf("qwen2");
  json tok = json::parse(std::ifstream(dir + "/tokenizer.json"));
  for (const char* id : {"3.18447e21", "2.0"}) {
    tok["model"]["vocab"]["x"] = json::parse(id);
    write_text(dir + "/tokenizer.json", tok.dump());
    try {
      squish::Tokenizer::from_hf_json(dir + "/tokenizer.json");
      FAIL() << "accepted id " << id;
    } catch (const squish::Error& e) {
      EXPECT_NE(std::string(e.what()).find("token id in model.vocab is not an integer"), std::string::npos) << e.what();
    }
  }
}

}  // namespace
