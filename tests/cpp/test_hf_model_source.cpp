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
  const auto a = squish::ModelConfig::from_gguf(out), b = squish::ModelConfig::from_gguf(golden);
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
  cfg.replace(cfg.find("\"llama\""), 7, "\"mistral\"");
  std::ofstream(d + "/config.json") << cfg;
  const std::string e = open_error(d);
  EXPECT_EQ(e.rfind(d, 0), 0u) << e;
  EXPECT_NE(e.find("mistral"), std::string::npos) << e;
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
