// Sampling and chat templates.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <vector>

#include "squish/common/error.h"
#include "squish/model/chat_template.h"
#include "squish/model/sampler.h"

using squish::ChatMessage;
using squish::ChatTemplate;
using squish::Sampler;

TEST(Sampler, GreedyPicksArgmaxLowestOnTies) {
  Sampler s({});
  EXPECT_EQ(s.sample(std::vector<float>{0.f, 3.f, 1.f, 3.f}), 1);
}

TEST(Sampler, SeedReproducesAndTopKRestricts) {
  const std::vector<float> logits = {1.f, 2.f, 3.f, 2.5f, 0.5f, 2.9f};
  Sampler a({1.f, 0, 1.f, 42}), b({1.f, 0, 1.f, 42});
  std::vector<int32_t> xa, xb;
  for (int i = 0; i < 200; ++i) xa.push_back(a.sample(logits)), xb.push_back(b.sample(logits));
  EXPECT_EQ(xa, xb);
  Sampler k2({1.f, 2, 1.f, 7});
  for (int i = 0; i < 200; ++i) {
    const int32_t t = k2.sample(logits);
    EXPECT_TRUE(t == 2 || t == 5) << t;
  }
}

TEST(Sampler, FrequenciesFollowTemperedSoftmax) {
  const std::vector<float> logits = {0.f, std::log(3.f)};  // p = 1/4, 3/4 at T = 1
  Sampler s({1.f, 0, 1.f, 1});
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += s.sample(logits) == 1;
  EXPECT_NEAR(ones / double(n), 0.75, 0.015);
  // T = 2 flattens: p1 = sqrt(3) / (1 + sqrt(3)).
  Sampler hot({2.f, 0, 1.f, 2});
  ones = 0;
  for (int i = 0; i < n; ++i) ones += hot.sample(logits) == 1;
  EXPECT_NEAR(ones / double(n), std::sqrt(3.0) / (1 + std::sqrt(3.0)), 0.015);
}

TEST(Sampler, TopPKeepsSmallestNucleus) {
  // Probabilities ~0.64, 0.24, 0.09, 0.03: top-p 0.8 keeps the first two.
  const std::vector<float> logits = {3.f, 2.f, 1.f, 0.f};
  Sampler s({1.f, 0, 0.8f, 3});
  std::map<int32_t, int> seen;
  for (int i = 0; i < 2000; ++i) ++seen[s.sample(logits)];
  EXPECT_EQ(seen.size(), 2u);
  EXPECT_GT(seen[0], seen[1]);
  EXPECT_THROW(Sampler({1.f, 0, 0.f, 0}), squish::Error);
}

TEST(ChatTemplate, SmolLM2ChatMLWithDefaultSystem) {
  const std::string src =
      "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ "
      "'<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
      "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
      "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ "
      "'<|im_start|>assistant\n' }}{% endif %}";
  const auto t = ChatTemplate::recognise(src, "llama", "m.gguf");
  EXPECT_EQ(t.kind(), ChatTemplate::Kind::ChatML);
  EXPECT_EQ(t.apply({{"user", "Hi"}}, true),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(t.apply({{"system", "Be brief."}, {"user", "Hi"}}, false),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n");
}

TEST(ChatTemplate, GemmaTurnsAndSystemPrefix) {
  const auto t = ChatTemplate::recognise("{{ bos_token }}...<start_of_turn>...", "gemma3", "g.gguf");
  EXPECT_EQ(t.kind(), ChatTemplate::Kind::Gemma);
  EXPECT_EQ(t.apply({{"system", "Be brief."}, {"user", " Hi \n"}, {"assistant", "Hello"}}, true),
            "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\nHello"
            "<end_of_turn>\n<start_of_turn>model\n");
  // A gemma3 GGUF without a template gets Gemma's format.
  EXPECT_EQ(ChatTemplate::recognise("", "gemma3", "g.gguf").kind(), ChatTemplate::Kind::Gemma);
}

TEST(ChatTemplate, UnsupportedOrMissingTemplatesAreErrors) {
  try {
    ChatTemplate::recognise("[INST] {{ message }} [/INST]", "llama", "x.gguf");
    FAIL();
  } catch (const squish::Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.gguf: chat template not supported"), std::string::npos);
  }
  EXPECT_THROW(ChatTemplate::recognise("", "llama", "x.gguf"), squish::Error);
}
