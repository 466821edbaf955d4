// An HF model directory and the GGUF convert_hf_to_gguf's rules make from it (goldens from
// tests/oracle/hf_tiny_models.py) run to the same logits through Model::load, and those agree with
// llama.cpp's on the GGUF (tests/oracle/hf_logits_goldens.py, itself checked against a numpy
// forward pass with HF semantics).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include <cstring>
#include <string>
#include <vector>

#include "squish/model/model.h"
#include "test_support.h"

namespace {

std::string tiny(const std::string& arch, const std::string& rel) {
  return squish::test::source_dir() + "/tests/goldens/safetensors/tiny/" + arch + "/" + rel;
}

class HFLogits : public ::testing::TestWithParam<std::string> {};

}  // namespace

TEST_P(HFLogits, SameLogitsAsConvertedGGUF) {
  const std::string arch = GetParam();
  const auto hf = squish::Model::load(tiny(arch, "hf"));
  const auto gg = squish::Model::load(tiny(arch, "model.gguf"));
  EXPECT_EQ(hf->config().n_vocab, gg->config().n_vocab);
  // 12 tokens: longer than gemma3's sliding window (4), so local and global layers differ.
  const std::vector<int32_t> tokens = hf->tokenizer().encode("the thin man ran in the sun", false, true);
  ASSERT_GE(tokens.size(), 6u);
  EXPECT_EQ(tokens, gg->tokenizer().encode("the thin man ran in the sun", false, true));
  squish::Session a(hf, 64), b(gg, 64);
  const std::vector<float> la = a.eval(tokens, true), lb = b.eval(tokens, true);
  ASSERT_EQ(la.size(), tokens.size() * static_cast<size_t>(gg->config().n_vocab));
  ASSERT_EQ(la.size(), lb.size());
  EXPECT_EQ(std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)), 0);
  float max_abs = 0;
  for (float v : la) max_abs = std::max(max_abs, std::abs(v));
  EXPECT_GT(max_abs, 0.f);  // a real computation, not zeros
  // Incremental evaluation agrees with the batch too.
  squish::Session c(hf, 64);
  std::vector<float> last;
  for (int32_t t : tokens) last = c.eval(std::vector<int32_t>{t});
  const size_t nv = static_cast<size_t>(hf->config().n_vocab);
  for (size_t i = 0; i < nv; ++i) EXPECT_NEAR(last[i], la[la.size() - nv + i], 1e-4f) << i;
}

TEST_P(HFLogits, HFDirMatchesLlamaCppGolden) {
  const std::string arch = GetParam();
  const auto golden = nlohmann::json::parse(squish::test::read_file(tiny(arch, "logits.json")));
  const auto hf = squish::Model::load(tiny(arch, "hf"));
  const auto tokens = golden["tokens"].get<std::vector<int32_t>>();
  EXPECT_EQ(hf->tokenizer().encode(golden["prompt"].get<std::string>(), false, true), tokens);
  const size_t nv = golden["n_vocab"].get<size_t>();
  ASSERT_EQ(static_cast<size_t>(hf->config().n_vocab), nv);
  squish::Session s(hf, 64);
  const std::vector<float> got = s.eval(tokens, true);
  ASSERT_EQ(got.size(), tokens.size() * nv);
  float max_diff = 0;
  for (size_t t = 0; t < tokens.size(); ++t) {
    const auto ref = golden["logits"][t].get<std::vector<float>>();
    const float* row = got.data() + t * nv;
    for (size_t i = 0; i < nv; ++i) max_diff = std::max(max_diff, std::abs(row[i] - ref[i]));
    EXPECT_EQ(std::max_element(row, row + nv) - row, std::max_element(ref.begin(), ref.end()) - ref.begin())
        << "argmax at position " << t;
  }
  EXPECT_LE(max_diff, 1e-2f);
  std::printf("%s: max |squish(HF dir) - llama.cpp(GGUF)| = %.3g\n", arch.c_str(), max_diff);
}

INSTANTIATE_TEST_SUITE_P(Archs, HFLogits, ::testing::Values("llama", "qwen2", "gemma3"));
