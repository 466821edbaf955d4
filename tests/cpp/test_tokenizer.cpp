// Tokenizer tests: llama.cpp's token ids (goldens from tests/oracle/tokenizer_goldens.py) for the
// whole wikitext-2 test file and for tricky strings, decoding, metadata, and bad input.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "squish/common/error.h"
#include "squish/io/gguf_reader.h"
#include "squish/model/tokenizer.h"
#include "squish/model/tokenizer_pretokenize.h"
#include "squish/model/unicode.h"
#include "test_support.h"

namespace squish {
namespace {

std::string goldens(const std::string& name) { return test::source_dir() + "/tests/goldens/tokenizer/" + name; }

std::string model_path(const std::string& name) {
  return name == "smollm2" ? test::smollm2_path() : test::gemma3_path();
}

std::unique_ptr<Tokenizer> load(const std::string& name) {
  GGUFFile f(model_path(name));
  return Tokenizer::from_gguf(f);
}

// The little-endian uint32 ids of a gzip golden (decompressed by the system's gzip).
std::vector<int32_t> read_ids_gz(const std::string& path) {
  FILE* p = popen(("gzip -dc '" + path + "'").c_str(), "r");
  if (!p) return {};
  std::string bytes;
  char buf[1 << 16];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) bytes.append(buf, n);
  pclose(p);
  std::vector<int32_t> ids(bytes.size() / 4);
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto* b = reinterpret_cast<const unsigned char*>(bytes.data() + 4 * i);
    ids[i] = static_cast<int32_t>(b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24));
  }
  return ids;
}

std::string from_hex(const std::string& hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// "id 'piece'" for the ids around position i, for mismatch reports.
std::string context(const Tokenizer& t, const std::vector<int32_t>& ids, size_t i) {
  std::string s;
  for (size_t k = i >= 5 ? i - 5 : 0; k < std::min(ids.size(), i + 6); ++k)
    s += (k == i ? " >>" : " ") + std::to_string(ids[k]) + "'" + t.token_to_piece(ids[k]) + "'";
  return s;
}

const nlohmann::json& cases() {
  static const nlohmann::json j = nlohmann::json::parse(test::read_file(goldens("cases.json")));
  return j;
}

class TokenizerModel : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerModel, WikitextIdsEqualLlamaCpp) {
  const std::string name = GetParam();
  const auto tok = load(name);
  const std::vector<int32_t> want = read_ids_gz(goldens("wikitext_" + name + ".u32.gz"));
  ASSERT_GT(want.size(), 100000u) << "golden not readable";
  const std::string text = test::read_file(test::shared_data("wikitext-2-test.txt"));
  const std::vector<int32_t> got = tok->encode(text, /*add_special=*/true, /*parse_special=*/false);
  const size_t n = std::min(got.size(), want.size());
  size_t i = 0;
  while (i < n && got[i] == want[i]) ++i;
  if (i < n || got.size() != want.size()) {
    ADD_FAILURE() << name << ": first mismatch at token " << i << " of " << want.size() << " (squish has "
                  << got.size() << ")\n  llama.cpp:" << context(*tok, want, i) << "\n  squish:   "
                  << context(*tok, got, i);
  }
}

TEST_P(TokenizerModel, TrickyStringsEqualLlamaCpp) {
  const std::string name = GetParam();
  const auto tok = load(name);
  const auto& all = cases();
  const auto& results = all["models"][name]["results"];
  ASSERT_EQ(results.size(), all["cases"].size());
  int checked = 0;
  for (size_t c = 0; c < results.size(); ++c) {
    const std::string text = from_hex(all["cases"][c]["hex"]);
    const auto& r = results[c];
    for (int add = 0; add < 2; ++add) {
      for (int parse = 0; parse < 2; ++parse) {
        const std::string key = "ids_" + std::to_string(add) + std::to_string(parse);
        const std::vector<int32_t> want = r[key].get<std::vector<int32_t>>();
        EXPECT_EQ(tok->encode(text, add, parse), want)
            << name << " case " << c << " " << all["cases"][c]["text"].dump() << " " << key;
        ++checked;
      }
    }
    const std::vector<int32_t> plain = r["ids_00"].get<std::vector<int32_t>>();
    EXPECT_EQ(tok->decode(r["ids_11"].get<std::vector<int32_t>>(), false), from_hex(r["detok_special"]))
        << name << " case " << c;
    EXPECT_EQ(tok->decode(plain, true), from_hex(r["detok_plain"])) << name << " case " << c;
    EXPECT_EQ(tok->decode(tok->encode(text, false, false)) == text, r["roundtrip"].get<bool>())
        << name << " round trip of case " << c;
  }
  EXPECT_EQ(checked, 4 * static_cast<int>(results.size()));
}

TEST_P(TokenizerModel, SpecialIdsEqualLlamaCpp) {
  const std::string name = GetParam();
  const auto tok = load(name);
  const auto& m = cases()["models"][name];
  EXPECT_EQ(tok->vocab_size(), m["n_vocab"].get<int32_t>());
  EXPECT_EQ(tok->bos_id(), m["bos"].get<int32_t>());
  EXPECT_EQ(tok->eos_id(), m["eos"].get<int32_t>());
  EXPECT_EQ(tok->add_bos(), m["add_bos"].get<bool>());
  std::vector<int32_t> eog;
  for (int32_t i = 0; i < tok->vocab_size(); ++i)
    if (tok->is_end_of_generation(i)) eog.push_back(i);
  EXPECT_EQ(eog, m["eog"].get<std::vector<int32_t>>());
  EXPECT_TRUE(tok->is_special(tok->eos_id()));
  EXPECT_EQ(tok->decode({tok->eos_id()}, /*skip_special=*/true), "");
}

INSTANTIATE_TEST_SUITE_P(Models, TokenizerModel, ::testing::Values("smollm2", "gemma3"));

TEST(Tokenizer, ChatTokensOfBothModels) {
  const auto smol = load("smollm2");
  const auto im = smol->encode("<|im_start|>user\nHi<|im_end|>", false, true);
  ASSERT_GE(im.size(), 3u);
  EXPECT_EQ(im.front(), 1);  // <|im_start|>
  EXPECT_EQ(im.back(), 2);   // <|im_end|>
  EXPECT_TRUE(smol->is_end_of_generation(2));
  EXPECT_GT(smol->encode("<|im_start|>", false, false).size(), 1u);  // plain text without parse_special

  const auto gemma = load("gemma3");
  const auto turn = gemma->encode("<start_of_turn>model\nHi<end_of_turn>", true, true);
  ASSERT_GE(turn.size(), 4u);
  EXPECT_EQ(turn[0], gemma->bos_id());
  EXPECT_EQ(turn[1], 105);  // <start_of_turn>
  EXPECT_EQ(turn.back(), 106);
  EXPECT_TRUE(gemma->is_end_of_generation(106));
  EXPECT_EQ(gemma->decode(turn, true), "model\nHi");
}

TEST(Unicode, FlagsAndUtf8) {
  using namespace unicode;
  EXPECT_TRUE(flags('a') & LETTER);
  EXPECT_TRUE(flags(0x4E16) & LETTER);   // 世
  EXPECT_TRUE(flags(0x0663) & NUMBER);   // Arabic-Indic three
  EXPECT_TRUE(flags(0x2167) & NUMBER);   // Roman numeral eight (Nl)
  EXPECT_TRUE(flags(0x00A0) & WHITESPACE);
  EXPECT_TRUE(flags(0x3000) & WHITESPACE);
  EXPECT_FALSE(flags(0x200B) & WHITESPACE);  // zero width space is Cf, not White_Space
  EXPECT_TRUE(flags(0x1F600) & SYMBOL);  // emoji
  EXPECT_TRUE(flags(0x0301) & MARK);
  EXPECT_EQ(flags(0x0378), UNDEFINED);  // unassigned
  EXPECT_EQ(flags(0x110000), UNDEFINED);
  const std::vector<uint32_t> cps = decode_utf8("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xFF\xE2\x82");
  EXPECT_EQ(cps, (std::vector<uint32_t>{'a', 0xE9, 0x20AC, 0x1F600, 0xFFFD, 0xFFFD, 0xFFFD}));
  std::string s;
  for (uint32_t c : {0x61u, 0xE9u, 0x20ACu, 0x1F600u}) append_utf8(s, c);
  EXPECT_EQ(s, "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  for (int b = 0; b < 256; ++b) {
    const auto c = decode_utf8(byte_to_char(static_cast<uint8_t>(b)));
    ASSERT_EQ(c.size(), 1u);
    EXPECT_EQ(char_to_byte(c[0]), b);
  }
  EXPECT_EQ(byte_to_char(' '), "\xC4\xA0");  // Ġ
  EXPECT_EQ(byte_to_char('\n'), "\xC4\x8A");  // Ċ
}

std::vector<std::string> words(const std::string& text, std::vector<PreSplit> stages) {
  const auto cps = unicode::decode_utf8(text);
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t len : pre_split(cps, stages)) {
    std::string w;
    for (size_t i = start; i < start + len; ++i) unicode::append_utf8(w, cps[i]);
    out.push_back(w);
    start += len;
  }
  return out;
}

TEST(PreTokenizer, Gpt2AndDigits) {
  using V = std::vector<std::string>;
  EXPECT_EQ(words("Hello  world's 42!!", {PreSplit::kGpt2}), (V{"Hello", " ", " world", "'s", " 42", "!!"}));
  EXPECT_EQ(words("x  ", {PreSplit::kGpt2}), (V{"x", "  "}));
  EXPECT_EQ(words("a\n\nb", {PreSplit::kGpt2}), (V{"a", "\n", "\n", "b"}));
  EXPECT_EQ(words("ab12c", {PreSplit::kEachNumber, PreSplit::kGpt2}), (V{"ab", "1", "2", "c"}));
  EXPECT_EQ(words("Ünïcode café", {PreSplit::kGpt2}), (V{"Ünïcode", " café"}));
  EXPECT_EQ(words("I'M 12345\n\n x", {PreSplit::kLlama3}), (V{"I", "'M", " ", "123", "45", "\n\n", " x"}));
  EXPECT_TRUE(words("", {PreSplit::kGpt2}).empty());
  PreSplit s;
  EXPECT_TRUE(pre_split_from_regex("\\p{N}", s));
  EXPECT_EQ(s, PreSplit::kEachNumber);
  EXPECT_FALSE(pre_split_from_regex("[a-z]+", s));
}

TEST(Tokenizer, BadInputIsAnError) {
  const std::string dir = test::temp_dir();
  EXPECT_THROW(Tokenizer::from_hf_json(dir + "/missing.json"), Error);
  auto write = [&](const std::string& name, const std::string& body) {
    std::ofstream(dir + "/" + name) << body;
    return dir + "/" + name;
  };
  EXPECT_THROW(Tokenizer::from_hf_json(write("bad.json", "{ not json")), Error);
  EXPECT_THROW(Tokenizer::from_hf_json(write("wp.json", R"({"model": {"type": "WordPiece", "vocab": {}}})")), Error);
  EXPECT_THROW(Tokenizer::from_hf_json(write("nobl.json", R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})")),
               Error);
  EXPECT_THROW(Tokenizer::from_hf_json(write("types.json",
                                             R"({"pre_tokenizer": {"type": "ByteLevel"},
                                                 "model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}})")),
               Error);
  // A tiny valid one: merges apply by rank.
  const std::string ok = write("ok.json", R"({"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
      "added_tokens": [{"id": 4, "content": "<eos>", "special": true}],
      "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3}, "merges": ["a b"]}})");
  const auto t = Tokenizer::from_hf_json(ok);
  EXPECT_EQ(t->encode("ab a<eos>", false, true), (std::vector<int32_t>{2, 3, 0, 4}));
  EXPECT_EQ(t->decode({2, 3, 0, 4}), "ab a<eos>");
  EXPECT_EQ(t->decode({2, 3, 0, 4}, true), "ab a");
}

}  // namespace
}  // namespace squish
