// open_hf_source: an HF SafeTensors directory as a GGUF source. The tiny llama / qwen2 / gemma3
// checkpoints (tests/oracle/hf_tiny_models.py) convert to a GGUF whose tensors equal the golden
// GGUF that convert_hf_to_gguf's rules make (tensor for tensor, bit for bit), whose hyper-parameter
// and tokenizer metadata squish and the golden agree on, and which runs to the same logits as
// Model::load(dir). Bad directories fail with an Error naming the directory.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "squish/common/error.h"
#include "squish/export/gguf_quantize.h"
#include "squish/export/model_source.h"
#include "squish/io/gguf_config.h"
#include "squish/io/gguf_reader.h"
#include "squish/model/model.h"
#include "test_support.h"

namespace fs = std::filesystem;

namespace {

std::string tiny(const std::string& arch, const std::string& rel) {
  return squish::test::source_dir() + "/tests/goldens/safetensors/tiny/" + arch + "/" + rel;
}

// Converts dir to an F32 GGUF in a fresh temp directory and returns its path.
std::string convert_f32(const std::string& dir) {
  const std::string out = squish::test::temp_dir() + "/out.gguf";
  const auto src = squish::open_model_source(dir);
  squish::QuantizeOptions opt;
  opt.ftype = squish::FileType::ALL_F32;
  squish::quantize_to_gguf(*src, out, opt);
  return out;
}

// A copy of a tiny checkpoint's hf directory to break.
std::string copy_tiny(const std::string& arch) {
  const std::string d = squish::test::temp_dir() + "/hf";
  fs::copy(tiny(arch, "hf"), d, fs::copy_options::recursive);
  return d;
}

// The message of the Error open_hf_source throws for dir ("" when none).
std::string open_error(const std::string& dir) {
  try {
    squish::open_model_source(dir);
  } catch (const squish::Error& e) {
    return e.what();
  }
  return "";
}

class HFModelSource : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(HFModelSource, TensorsEqualTheConverterGolden) {
  const std::string arch = GetParam();
  const squish::GGUFFile out(convert_f32(tiny(arch, "hf")));
  const squish::GGUFFile golden(tiny(arch, "model.gguf"));
  ASSERT_EQ(out.tensors().size(), golden.tensors().size());
  for (const auto& g : golden.tensors()) {
    const squish::GGUFTensor* t = out.find_tensor(g.name);
    ASSERT_NE(t, nullptr) << g.name;
    EXPECT_EQ(t->type, squish::GGMLType::F32) << g.name;
    ASSERT_EQ(t->shape, g.shape) << g.name;
    EXPECT_EQ(out.dequantize(*t), golden.dequantize(g)) << g.name;
  }
}

TEST_P(HFModelSource, MetadataAgreesWithTheConverterGolden) {
  const std::string arch = GetParam();
  const squish::GGUFFile out(convert_f32(tiny(arch, "hf")));
  const squish::GGUFFile golden(tiny(arch, "model.gguf"));
  for (const auto& [k, v] : golden.metadata()) {
    const squish::GGUFValue* o = out.find(k);
    ASSERT_NE(o, nullptr) << k;
    EXPECT_EQ(o->to_display(1u << 20), v.to_display(1u << 20)) << k;
  }
  const auto a = squish::read_gguf_config(out), b = squish::read_gguf_config(golden);
  EXPECT_EQ(a.n_vocab, b.n_vocab);
  EXPECT_EQ(a.head_dim_k, b.head_dim_k);
  EXPECT_EQ(a.sliding_window, b.sliding_window);
  EXPECT_EQ(a.layer_is_swa, b.layer_is_swa);
}

TEST_P(HFModelSource, RunsToTheSameLogitsAsTheHFDirectory) {
  const std::string arch = GetParam();
  const auto hf = squish::Model::load(tiny(arch, "hf"));
  const auto gg = squish::Model::load(convert_f32(tiny(arch, "hf")));
  const std::string text = "the thin man ran in the sun";
  const std::vector<int32_t> tokens = hf->tokenizer().encode(text, true, true);
  ASSERT_GE(tokens.size(), 6u);
  EXPECT_EQ(tokens, gg->tokenizer().encode(text, true, true));
  squish::Session a(hf, 64), b(gg, 64);
  const std::vector<float> la = a.eval(tokens, true), lb = b.eval(tokens, true);
  ASSERT_EQ(la.size(), lb.size());
  EXPECT_EQ(std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)), 0);
}

INSTANTIATE_TEST_SUITE_P(Tiny, HFModelSource, ::testing::Values("llama", "qwen2", "gemma3"));

TEST(HFModelSourceErrors, UnsupportedArchitecture) {
  const std::string d = copy_tiny("llama");
  std::ifstream in(d + "/config.json");
  std::string cfg((std::istreambuf_iterator<char>(in)), {});
  in.close();
  cfg.replace(cfg.find("\"llama\""), 7, "\"mamba\"");
  std::ofstream(d + "/config.json") << cfg;
  const std::string e = open_error(d);
  EXPECT_EQ(e.rfind(d, 0), 0u) << e;
  EXPECT_NE(e.find("mamba"), std::string::npos) << e;
}

TEST(HFModelSourceErrors, MissingTokenizer) {
  const std::string d = copy_tiny("qwen2");
  fs::remove(d + "/tokenizer.json");
  EXPECT_EQ(open_error(d), d + ": missing tokenizer.json");
}

TEST(HFModelSourceErrors, MissingTensor) {
  const std::string d = copy_tiny("qwen2");
  // Drop the model's last layer from config.json's view by claiming one layer more.
  std::ifstream in(d + "/config.json");
  std::string cfg((std::istreambuf_iterator<char>(in)), {});
  in.close();
  const size_t at = cfg.find("\"num_hidden_layers\": 2");
  ASSERT_NE(at, std::string::npos);
  cfg.replace(at, 22, "\"num_hidden_layers\": 3");
  std::ofstream(d + "/config.json") << cfg;
  const std::string e = open_error(d);
  EXPECT_EQ(e.rfind(d, 0), 0u) << e;
  EXPECT_NE(e.find("missing tensor blk.2."), std::string::npos) << e;
}

namespace {

// Protobuf encoding helpers for a hand-made SentencePiece tokenizer.model.
std::string pb_varint(uint64_t v) {
  std::string s;
  do {
    s += static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v);
  return s;
}
std::string pb_bytes(uint32_t field, const std::string& payload) {
  return pb_varint(field << 3 | 2) + pb_varint(payload.size()) + payload;
}
std::string pb_piece(const std::string& text, float score, int type) {
  std::string f(4, '\0');
  std::memcpy(f.data(), &score, 4);
  return pb_bytes(1, pb_bytes(1, text) + pb_varint(2 << 3 | 5) + f + pb_varint(3 << 3) + pb_varint(type));
}

}  // namespace

TEST(HFModelSourceSentencePiece, TokenizerModelGivesPiecesScoresAndTypes) {
  const std::string d = copy_tiny("gemma3");
  fs::remove(d + "/tokenizer.json");
  std::string model = pb_piece("<pad>", 0.f, 3) + pb_piece("<eos>", 0.f, 3) + pb_piece("<bos>", 0.f, 3) +
                      pb_piece("<unk>", 0.f, 2) + pb_piece("<0x41>", 0.f, 6) + pb_piece("\xe2\x96\x81the", -1.5f, 1) +
                      pb_piece("he", -2.25f, 1);
  model += pb_bytes(3, pb_varint(3 << 3) + pb_varint(1));  // normalizer_spec.add_dummy_prefix
  std::ofstream(d + "/tokenizer.model", std::ios::binary) << model;
  std::ofstream(d + "/tokenizer_config.json")
      << R"({"bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>", "pad_token": "<pad>",
            "add_bos_token": true, "added_tokens_decoder": {"7": {"content": "<start_of_turn>", "special": true}}})";
  const auto src = squish::open_model_source(d);
  const auto& tokens = src->find("tokenizer.ggml.tokens")->as_array().items;
  const auto& scores = src->find("tokenizer.ggml.scores")->as_array().items;
  const auto& types = src->find("tokenizer.ggml.token_type")->as_array().items;
  EXPECT_EQ(src->find("tokenizer.ggml.model")->as_string(), "llama");
  EXPECT_EQ(src->find("tokenizer.ggml.merges"), nullptr);
  ASSERT_EQ(tokens.size(), 272u);  // padded to token_embd's rows
  ASSERT_EQ(scores.size(), 272u);
  EXPECT_EQ(tokens[5].as_string(), "\xe2\x96\x81the");
  EXPECT_EQ(scores[5].as_double(), -1.5);
  EXPECT_EQ(scores[6].as_double(), -2.25);
  EXPECT_EQ(types[3].as_int(), 2);
  EXPECT_EQ(types[4].as_int(), 6);
  EXPECT_EQ(types[6].as_int(), 1);
  EXPECT_EQ(tokens[7].as_string(), "<start_of_turn>");
  EXPECT_EQ(types[7].as_int(), 3);
  EXPECT_EQ(scores[7].as_double(), -1000.0);
  EXPECT_EQ(tokens[8].as_string(), "[PAD8]");
  EXPECT_EQ(types[8].as_int(), 5);
  EXPECT_EQ(src->find("tokenizer.ggml.bos_token_id")->as_int(), 2);
  EXPECT_EQ(src->find("tokenizer.ggml.eos_token_id")->as_int(), 1);
  EXPECT_EQ(src->find("tokenizer.ggml.unknown_token_id")->as_int(), 3);
  EXPECT_EQ(src->find("tokenizer.ggml.padding_token_id")->as_int(), 0);
  EXPECT_TRUE(src->find("tokenizer.ggml.add_bos_token")->as_bool());
  EXPECT_FALSE(src->find("tokenizer.ggml.add_space_prefix")->as_bool());  // gemma3: always off
}

TEST(HFModelSourceSentencePiece, ByteFallbackTokenizerJsonWithoutModelIsAnError) {
  const std::string d = copy_tiny("gemma3");
  std::ifstream in(d + "/tokenizer.json");
  std::string tj((std::istreambuf_iterator<char>(in)), {});
  in.close();
  const size_t at = tj.find("\"byte_fallback\": false");
  ASSERT_NE(at, std::string::npos);
  tj.replace(at, 22, "\"byte_fallback\": true ");
  std::ofstream(d + "/tokenizer.json") << tj;
  const std::string e = open_error(d);
  EXPECT_EQ(e.rfind(d, 0), 0u) << e;
  EXPECT_NE(e.find("tokenizer.model"), std::string::npos) << e;
}
