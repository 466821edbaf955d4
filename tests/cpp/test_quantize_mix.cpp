// The k-quant mix rules (llama.cpp's llama_tensor_get_type) on synthetic models, and mix names.
#include <gtest/gtest.h>

#include <map>

#include "squish/quant/file_type.h"
#include "squish/quant/type_mix.h"

namespace squish {
namespace {

// A llama-style model: n_layer blocks, rows of n_embd (n_ff for ffn_down), optional output.
std::vector<MixTensor> llama_tensors(int n_layer, int64_t n_embd, int64_t n_ff, bool tied) {
  std::vector<MixTensor> t;
  t.push_back({"token_embd.weight", {n_embd, 1000}, GGMLType::F16});
  t.push_back({"output_norm.weight", {n_embd}, GGMLType::F32});
  if (!tied) t.push_back({"output.weight", {n_embd, 1000}, GGMLType::F16});
  // Deliberately not in llama.cpp's order: the rules must walk blocks in order regardless.
  for (int i = n_layer - 1; i >= 0; --i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    t.push_back({b + "attn_norm.weight", {n_embd}, GGMLType::F32});
    for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up"})
      t.push_back({b + n + ".weight", {n_embd, n_embd}, GGMLType::F16});
    t.push_back({b + "ffn_down.weight", {n_ff, n_embd}, GGMLType::F16});
  }
  return t;
}

std::map<std::string, GGMLType> choose(const std::vector<MixTensor>& t, FileType f,
                                       MixModelInfo info = {"llama", 32, 32, 8, 0, false},
                                       bool leave_output = false, bool pure = false,
                                       bool imatrix = false) {
  MixOptions o;
  o.ftype = f;
  o.leave_output_tensor = leave_output;
  o.pure = pure;
  o.has_imatrix = imatrix;
  const auto c = choose_tensor_types(info, t, o);
  std::map<std::string, GGMLType> out;
  for (size_t i = 0; i < t.size(); ++i) out[t[i].name] = c[i].type;
  return out;
}

bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

TEST(TypeMix, Q4KMUsesQ6KOnHalfOfAttnVAndFfnDownAndOnOutput) {
  const auto t = llama_tensors(32, 4096, 11008, false);
  const auto m = choose(t, FileType::Q4_K_M);
  EXPECT_EQ(m.at("output.weight"), GGMLType::Q6_K);
  EXPECT_EQ(m.at("token_embd.weight"), GGMLType::Q4_K);
  EXPECT_EQ(m.at("output_norm.weight"), GGMLType::F32);
  int n_q6 = 0;
  for (int i = 0; i < 32; ++i) {
    const std::string b = "blk." + std::to_string(i) + ".";
    const GGMLType want = more_bits(i, 32) ? GGMLType::Q6_K : GGMLType::Q4_K;
    EXPECT_EQ(m.at(b + "attn_v.weight"), want) << i;
    EXPECT_EQ(m.at(b + "ffn_down.weight"), want) << i;
    EXPECT_EQ(m.at(b + "attn_q.weight"), GGMLType::Q4_K);
    EXPECT_EQ(m.at(b + "attn_norm.weight"), GGMLType::F32);
    n_q6 += m.at(b + "attn_v.weight") == GGMLType::Q6_K;
  }
  EXPECT_EQ(n_q6, 16);  // layers 0-3, 28-31 and every third between
}

TEST(TypeMix, TiedEmbeddingsGetTheOutputRule) {
  const auto t = llama_tensors(8, 4096, 11008, true);
  EXPECT_EQ(choose(t, FileType::Q4_K_M).at("token_embd.weight"), GGMLType::Q6_K);
  EXPECT_EQ(choose(t, FileType::Q4_0).at("token_embd.weight"), GGMLType::Q6_K);
  EXPECT_EQ(choose(t, FileType::Q8_0).at("token_embd.weight"), GGMLType::Q8_0);
  EXPECT_EQ(choose(t, FileType::F16).at("token_embd.weight"), GGMLType::F16);
  const auto untied = llama_tensors(8, 4096, 11008, false);
  EXPECT_EQ(choose(untied, FileType::Q4_0).at("token_embd.weight"), GGMLType::Q4_0);
  EXPECT_EQ(choose(untied, FileType::Q4_0).at("output.weight"), GGMLType::Q6_K);
  EXPECT_EQ(choose(untied, FileType::Q4_0, {"llama", 8, 32, 8}, true).at("output.weight"),
            GGMLType::F16);  // --leave-output-tensor keeps the input type
}

TEST(TypeMix, FallbacksWhenRowsDoNotFitSuperBlocks) {
  // SmolLM2-like: 576 columns are not a multiple of 256.
  const auto t = llama_tensors(30, 576, 1536, true);
  MixOptions o;
  o.ftype = FileType::Q4_K_M;
  const auto c = choose_tensor_types({"llama", 30, 9, 3}, t, o);
  std::map<std::string, MixChoice> m;
  for (size_t i = 0; i < t.size(); ++i) m[t[i].name] = c[i];
  EXPECT_EQ(m["blk.0.attn_q.weight"].type, GGMLType::Q5_0);  // Q4_K -> Q5_0
  EXPECT_TRUE(m["blk.0.attn_q.weight"].fell_back);
  EXPECT_NE(m["blk.0.attn_q.weight"].warning.find("576"), std::string::npos);
  EXPECT_EQ(m["blk.0.attn_v.weight"].type, GGMLType::Q8_0);  // Q6_K -> Q8_0
  EXPECT_EQ(m["blk.0.ffn_down.weight"].type, GGMLType::Q6_K);  // 1536 = 6 * 256 fits
  EXPECT_EQ(m["blk.10.ffn_down.weight"].type, GGMLType::Q4_K);
  EXPECT_FALSE(m["blk.0.ffn_down.weight"].fell_back);
  EXPECT_EQ(m["token_embd.weight"].type, GGMLType::Q8_0);  // output rule: 576 % 256 -> Q8_0
  EXPECT_EQ(choose(t, FileType::Q5_K_S, {"llama", 30, 9, 3}).at("blk.0.attn_q.weight"), GGMLType::Q5_1);
  EXPECT_EQ(choose(t, FileType::Q3_K_S, {"llama", 30, 9, 3}).at("blk.0.attn_q.weight"), GGMLType::Q4_0);
  // Row length not even a multiple of 32: F16.
  std::vector<MixTensor> odd = {{"blk.0.attn_q.weight", {100, 4}, GGMLType::F32}};
  EXPECT_EQ(choose(odd, FileType::Q4_K_M, {"llama", 1, 1, 1}).at("blk.0.attn_q.weight"), GGMLType::F16);
}

TEST(TypeMix, OtherMixes) {
  const auto t = llama_tensors(16, 4096, 11008, false);
  const MixModelInfo gqa4{"llama", 16, 32, 8};
  const MixModelInfo mha{"llama", 16, 32, 32};
  auto q2 = choose(t, FileType::Q2_K, gqa4);
  EXPECT_EQ(q2.at("blk.3.attn_v.weight"), GGMLType::Q4_K);  // n_gqa >= 4
  EXPECT_EQ(choose(t, FileType::Q2_K, mha).at("blk.3.attn_v.weight"), GGMLType::Q3_K);
  EXPECT_EQ(q2.at("blk.3.ffn_down.weight"), GGMLType::Q3_K);
  EXPECT_EQ(q2.at("blk.3.attn_output.weight"), GGMLType::Q3_K);
  EXPECT_EQ(q2.at("blk.3.attn_q.weight"), GGMLType::Q2_K);
  auto q3m = choose(t, FileType::Q3_K_M, gqa4);
  EXPECT_EQ(q3m.at("blk.0.attn_v.weight"), GGMLType::Q5_K);
  EXPECT_EQ(q3m.at("blk.1.attn_v.weight"), GGMLType::Q5_K);
  EXPECT_EQ(q3m.at("blk.2.attn_v.weight"), GGMLType::Q4_K);
  EXPECT_EQ(q3m.at("blk.0.ffn_down.weight"), GGMLType::Q5_K);  // i < n/16
  EXPECT_EQ(q3m.at("blk.5.ffn_down.weight"), GGMLType::Q4_K);
  EXPECT_EQ(q3m.at("blk.5.attn_output.weight"), GGMLType::Q4_K);
  auto q3l = choose(t, FileType::Q3_K_L, gqa4);
  EXPECT_EQ(q3l.at("blk.5.attn_v.weight"), GGMLType::Q5_K);
  EXPECT_EQ(q3l.at("blk.5.ffn_down.weight"), GGMLType::Q5_K);
  EXPECT_EQ(q3l.at("blk.5.attn_output.weight"), GGMLType::Q5_K);
  auto q4s = choose(t, FileType::Q4_K_S, gqa4);
  EXPECT_EQ(q4s.at("blk.3.attn_v.weight"), GGMLType::Q5_K);
  EXPECT_EQ(q4s.at("blk.4.attn_v.weight"), GGMLType::Q4_K);
  EXPECT_EQ(q4s.at("blk.1.ffn_down.weight"), GGMLType::Q5_K);
  EXPECT_EQ(q4s.at("blk.2.ffn_down.weight"), GGMLType::Q4_K);
  auto q5m = choose(t, FileType::Q5_K_M, gqa4);
  EXPECT_EQ(q5m.at("blk.0.ffn_down.weight"), GGMLType::Q6_K);
  EXPECT_EQ(q5m.at("blk.3.ffn_down.weight"), GGMLType::Q5_K);
  EXPECT_EQ(choose(t, FileType::Q6_K, gqa4).at("blk.3.attn_v.weight"), GGMLType::Q6_K);
  // Q4_0 with an imatrix guards the first eighth of ffn_down with Q4_1.
  EXPECT_EQ(choose(t, FileType::Q4_0, gqa4, false, false, true).at("blk.1.ffn_down.weight"), GGMLType::Q4_1);
  EXPECT_EQ(choose(t, FileType::Q4_0, gqa4).at("blk.1.ffn_down.weight"), GGMLType::Q4_0);
  // --pure: the base type everywhere quantizable.
  auto pure = choose(t, FileType::Q4_K_M, gqa4, false, true);
  EXPECT_EQ(pure.at("output.weight"), GGMLType::Q4_K);
  EXPECT_EQ(pure.at("blk.0.attn_v.weight"), GGMLType::Q4_K);
  EXPECT_EQ(pure.at("output_norm.weight"), GGMLType::F32);
}

// IQ4_NL / IQ4_XS: attn_v to Q5_K under GQA >= 4, the first eighth of ffn_down to Q5_K without an
// imatrix, the output to Q6_K, and IQ4_XS rows that are not a multiple of 256 fall back to IQ4_NL.
TEST(TypeMix, Iq4Mixes) {
  const auto t = llama_tensors(16, 4096, 11008, false);
  const MixModelInfo gqa4{"llama", 16, 32, 8};
  const MixModelInfo gqa2{"llama", 16, 32, 16};
  for (FileType ft : {FileType::IQ4_NL, FileType::IQ4_XS}) {
    const GGMLType base = default_tensor_type(ft);
    const auto m = choose(t, ft, gqa4);
    EXPECT_EQ(m.at("blk.3.attn_v.weight"), GGMLType::Q5_K);
    EXPECT_EQ(choose(t, ft, gqa2).at("blk.3.attn_v.weight"), base);
    EXPECT_EQ(m.at("blk.1.ffn_down.weight"), GGMLType::Q5_K);  // i < n/8
    EXPECT_EQ(m.at("blk.2.ffn_down.weight"), base);
    EXPECT_EQ(choose(t, ft, gqa4, false, false, true).at("blk.1.ffn_down.weight"), base);
    EXPECT_EQ(m.at("blk.5.attn_output.weight"), base);
    EXPECT_EQ(m.at("blk.5.attn_q.weight"), base);
    EXPECT_EQ(m.at("output.weight"), GGMLType::Q6_K);
    EXPECT_EQ(m.at("token_embd.weight"), base);
  }
  // SmolLM2's rows of 576 are not a multiple of 256: IQ4_XS falls back to IQ4_NL there.
  const auto smol = choose(llama_tensors(16, 576, 1536, false), FileType::IQ4_XS, gqa4);
  EXPECT_EQ(smol.at("blk.5.attn_q.weight"), GGMLType::IQ4_NL);
  EXPECT_EQ(smol.at("blk.5.ffn_down.weight"), GGMLType::IQ4_XS);
  EXPECT_EQ(block_fallback(GGMLType::IQ4_XS, 576), GGMLType::IQ4_NL);
  EXPECT_EQ(block_fallback(GGMLType::IQ4_NL, 100), GGMLType::F16);
  // An 8-expert model's attn_output goes to Q5_K.
  const MixModelInfo moe{"llama", 16, 32, 8, 8, false};
  EXPECT_EQ(choose(t, FileType::IQ4_XS, moe).at("blk.5.attn_output.weight"), GGMLType::Q5_K);
}

// TQ1_0 / TQ2_0: an untied token_embd to Q4_K, the output to Q6_K, no other special case, and rows
// that are not a multiple of 256 fall back to Q4_0.
TEST(TypeMix, TernaryMixes) {
  const auto t = llama_tensors(16, 4096, 11008, false);
  const MixModelInfo gqa4{"llama", 16, 32, 8};
  for (FileType ft : {FileType::TQ1_0, FileType::TQ2_0}) {
    const GGMLType base = default_tensor_type(ft);
    const auto m = choose(t, ft, gqa4);
    EXPECT_EQ(m.at("token_embd.weight"), GGMLType::Q4_K);
    EXPECT_EQ(m.at("output.weight"), GGMLType::Q6_K);
    for (const char* n : {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_up", "ffn_gate", "ffn_down"})
      EXPECT_EQ(m.at(std::string("blk.1.") + n + ".weight"), base) << n;
    const auto smol = choose(llama_tensors(16, 576, 1536, true), ft, gqa4);
    EXPECT_EQ(smol.at("token_embd.weight"), GGMLType::Q8_0);  // tied, 576 % 256 != 0
    EXPECT_EQ(smol.at("blk.1.attn_q.weight"), GGMLType::Q4_0);
    EXPECT_EQ(smol.at("blk.1.ffn_down.weight"), base);
  }
}

TEST(TypeMix, QuantizableTensors) {
  EXPECT_TRUE(tensor_is_quantizable("blk.0.attn_q.weight", 2, false));
  EXPECT_FALSE(tensor_is_quantizable("blk.0.attn_q.weight", 1, false));
  EXPECT_FALSE(tensor_is_quantizable("blk.0.attn_q_norm.weight", 2, false));
  EXPECT_FALSE(tensor_is_quantizable("blk.0.attn_q.bias", 2, false));
  EXPECT_FALSE(tensor_is_quantizable("blk.0.ffn_gate_inp.weight", 2, false));
  EXPECT_TRUE(tensor_is_quantizable("output.weight", 2, false));
  EXPECT_FALSE(tensor_is_quantizable("output.weight", 2, true));
}

TEST(FileType, NamesNumbersAndSuggestions) {
  EXPECT_EQ(parse_file_type("q4_k_m"), FileType::Q4_K_M);
  EXPECT_EQ(static_cast<uint32_t>(*parse_file_type("Q4_K_M")), 15u);
  EXPECT_EQ(static_cast<uint32_t>(*parse_file_type("BF16")), 32u);
  EXPECT_EQ(static_cast<uint32_t>(*parse_file_type("F32")), 0u);
  EXPECT_EQ(static_cast<uint32_t>(*parse_file_type("Q8_0")), 7u);
  EXPECT_FALSE(parse_file_type("Q4_K_X"));
  EXPECT_EQ(file_type_names().size(), 21u);
  EXPECT_EQ(static_cast<uint32_t>(*parse_file_type("tq1_0")), 36u);
  EXPECT_EQ(static_cast<uint32_t>(*parse_file_type("TQ2_0")), 37u);
  EXPECT_EQ(static_cast<uint32_t>(*parse_file_type("iq4_nl")), 25u);
  EXPECT_EQ(static_cast<uint32_t>(*parse_file_type("IQ4_XS")), 30u);
  EXPECT_EQ(default_tensor_type(FileType::IQ4_XS), GGMLType::IQ4_XS);
  const auto s = suggest_file_types("Q4KM");
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s[0], "Q4_K_M");
  EXPECT_EQ(default_tensor_type(FileType::Q3_K_L), GGMLType::Q3_K);
}

}  // namespace
}  // namespace squish
