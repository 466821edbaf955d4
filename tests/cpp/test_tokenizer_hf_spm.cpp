// SentencePiece-style tokenizer.json (byte-fallback BPE): squish's reader merges by rank and falls
// back to bytes as `tokenizers` does, and the writer's merge extraction orders merges as
// transformers' SentencePieceExtractor does. Oracles: hand-derived results of those definitions.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../../src/export/hf_tokenizer_json_spm.h"
#include "squish/common/error.h"
#include "squish/model/tokenizer.h"
#include "test_support.h"

namespace squish {
namespace {

using V = std::vector<int32_t>;
const std::string kSpace = "\xe2\x96\x81";  // U+2581

// Ids: <unk> 0, <s> 1, </s> 2, <0x00>..<0xFF> 3..258, then the pieces below from 259.
nlohmann::json tiny(const std::vector<std::vector<std::string>>& merges, const nlohmann::json& normalizer) {
  nlohmann::json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (int b = 0; b < 256; ++b) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "<0x%02X>", b);
    vocab[hex] = 3 + b;
  }
  int id = 259;
  for (const std::string& p : {kSpace, std::string("a"), std::string("b"), std::string("c"), std::string("ab"),
                               std::string("bc"), kSpace + "a"})
    vocab[p] = id++;  // 259 ▁, 260 a, 261 b, 262 c, 263 ab, 264 bc, 265 ▁a
  nlohmann::json j;
  j["added_tokens"] = {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
                       {{"id", 1}, {"content", "<s>"}, {"special", true}},
                       {{"id", 2}, {"content", "</s>"}, {"special", true}}};
  j["normalizer"] = normalizer;
  j["pre_tokenizer"] = nullptr;
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                     {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}}};
  j["model"] = {{"type", "BPE"}, {"unk_token", "<unk>"}, {"fuse_unk", true}, {"byte_fallback", true},
                {"vocab", vocab}, {"merges", merges}};
  return j;
}

const nlohmann::json kReplace = {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}};

std::string write(const std::string& name, const nlohmann::json& j) {
  const std::string path = test::temp_dir() + "/" + name;
  std::ofstream(path) << j.dump();
  return path;
}

TEST(HfSpmTokenizer, MergesApplyByRankWithByteFallback) {
  // "b c" outranks "a b": abc -> a + bc; swapped, abc -> ab + c.
  const auto t = Tokenizer::from_hf_json(write("bc_first.json", tiny({{"b", "c"}, {"a", "b"}, {kSpace, "a"}}, kReplace)));
  EXPECT_EQ(t->encode("abc", false, false), (V{260, 264}));
  EXPECT_EQ(t->encode(" abc", false, false), (V{265, 264}));
  EXPECT_EQ(t->encode("abc", true, false), (V{1, 260, 264}));  // BOS from the post-processor
  const auto u = Tokenizer::from_hf_json(write("ab_first.json", tiny({{"a", "b"}, {"b", "c"}, {kSpace, "a"}}, kReplace)));
  EXPECT_EQ(u->encode("abc", false, false), (V{263, 262}));
  EXPECT_EQ(u->encode(" abc", false, false), (V{259, 263, 262}));  // ▁ a b c: "a b" first, then no ▁ab
  // Characters outside the vocabulary become their UTF-8 bytes; decoding puts them back together.
  EXPECT_EQ(t->encode("a\xc3\xa9 c", false, false), (V{260, 3 + 0xC3, 3 + 0xA9, 259, 262}));
  EXPECT_EQ(t->decode({260, 3 + 0xC3, 3 + 0xA9, 259, 262}), "a\xc3\xa9 c");
  EXPECT_EQ(t->decode({1, 265, 264}, true), " abc");
  EXPECT_EQ(t->vocab_size(), 266);
}

TEST(HfSpmTokenizer, PrependNormalizerAddsTheDummyPrefix) {
  const nlohmann::json seq = {{"type", "Sequence"},
                              {"normalizers", {{{"type", "Prepend"}, {"prepend", kSpace}}, kReplace}}};
  const auto t = Tokenizer::from_hf_json(write("prepend.json", tiny({{"b", "c"}, {"a", "b"}, {kSpace, "a"}}, seq)));
  EXPECT_EQ(t->encode("abc", false, false), (V{265, 264}));
}

TEST(HfSpmTokenizer, UnsupportedPipelinesAreErrors) {
  const auto merges = std::vector<std::vector<std::string>>{{"a", "b"}};
  EXPECT_THROW(Tokenizer::from_hf_json(write("nonorm.json", tiny(merges, nullptr))), Error);
  EXPECT_THROW(Tokenizer::from_hf_json(write("lower.json", tiny(merges, {{"type", "Lowercase"}}))), Error);
  nlohmann::json bl = tiny(merges, kReplace);
  bl["pre_tokenizer"] = {{"type", "ByteLevel"}};
  EXPECT_THROW(Tokenizer::from_hf_json(write("bytelevel.json", bl)), Error);
  // A merge whose result is not a token.
  EXPECT_THROW(Tokenizer::from_hf_json(write("badmerge.json", tiny({{"a", "c"}}, kReplace))), Error);
  try {
    Tokenizer::from_hf_json(write("lower2.json", tiny(merges, {{"type", "Lowercase"}})));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("lower2.json"), std::string::npos);
  }
}

TEST(SpmMerges, OrderedLikeTransformersExtractor) {
  // Score -1: "bc" (b,c) and "abc" via (a,bc) and (ab,c); score -2: "ab" (a,b). Within a score the
  // longer left part first, then the longer right part.
  const std::vector<std::string> toks = {"a", "b", "c", "bc", "ab", "abc", "zz"};
  const std::vector<float> scores = {0, 0, 0, -1, -2, -1, -3};
  using P = std::vector<std::pair<int32_t, int32_t>>;
  EXPECT_EQ(spm_merges(toks, scores), (P{{4, 2}, {0, 3}, {1, 2}, {0, 1}}));
  // Lengths count characters, not bytes: "bca" = (bc, a) has the longer left part than "éa" = (é, a).
  const std::vector<std::string> t2 = {"\xc3\xa9", "a", "b", "c", "bc", "\xc3\xa9" "a", "bca"};
  const std::vector<float> s2 = {0, 0, 0, 0, -2, -1, -1};
  EXPECT_EQ(spm_merges(t2, s2), (P{{4, 1}, {0, 1}, {2, 3}}));
}

}  // namespace
}  // namespace squish
