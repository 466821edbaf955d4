// The deployment planner reproduces the commonly published figures from first principles.
#include <gtest/gtest.h>

#include <cmath>

#include "squish/common/error.h"
#include "squish/io/gguf_reader.h"
#include "squish/common/edit_distance.h"
#include "squish/plan/planner.h"
#include "test_support.h"

using namespace squish::plan;

namespace {

const WeightScheme& scheme(const std::string& name) {
  static std::vector<WeightScheme> keep;
  keep.push_back(*find_scheme(name));
  return keep.back();
}

ModelShape nominal(double params) {  // published "7B/13B/70B/405B" arithmetic uses round counts
  return shape_from_numbers(params, 80, 8, 128, 0, 0, 0, 0);
}

Plan plan_for(const std::string& model, const std::string& hw, Goal goal, int64_t ctx = 4096,
              int64_t users = 1, double ram = 0, int gpus = 1) {
  Workload w;
  w.context = ctx;
  w.users = users;
  w.goal = goal;
  return make_plan(builtin_model(model), w, make_target(hw, 0, ram, gpus, 0));
}

}  // namespace

TEST(Plan, PublishedWeightSizesFromFirstPrinciples) {
  const double params[] = {7e9, 13e9, 70e9, 405e9};
  const double fp16_gb[] = {14, 26, 140, 810};
  const double int4_gb[] = {3.5, 6.5, 35, 202.5};
  for (int i = 0; i < 4; ++i) {
    const ModelShape m = nominal(params[i]);
    EXPECT_NEAR(weight_bytes(scheme("FP16/BF16"), m) / 1e9, fp16_gb[i], 1e-9);
    const Plan p = make_plan(m, Workload{}, std::nullopt);
    const auto j = render_json(p);
    EXPECT_NEAR(j["rule_of_thumb_bytes"]["FP16"].get<double>() / 1e9, fp16_gb[i], 1e-9);
    EXPECT_NEAR(j["rule_of_thumb_bytes"]["INT4 (payload only)"].get<double>() / 1e9, int4_gb[i], 1e-9);
    EXPECT_NEAR(j["rule_of_thumb_bytes"]["INT4 g128 + FP16 scales"].get<double>() / 1e9,
                int4_gb[i] * 4.125 / 4, 1e-9);
  }
}

TEST(Plan, Llama3_70bKvCacheAt128k) {
  const ModelShape m = builtin_model("llama-3-70b");
  EXPECT_EQ(m.n_layer, 80);
  EXPECT_EQ(m.n_head_kv, 8);
  EXPECT_EQ(m.head_dim, 128);
  Workload w;
  w.context = 131072;
  const Plan p = make_plan(m, w, std::nullopt);
  ASSERT_EQ(p.kv[0].format.name, "FP16");
  // 2 × 80 × 8 × 128 × 131072 × 2 bytes = 40 GiB
  EXPECT_DOUBLE_EQ(p.kv[0].bytes, 2.0 * 80 * 8 * 128 * 131072 * 2);
  EXPECT_DOUBLE_EQ(p.kv[0].bytes, 40.0 * (1ull << 30));
  EXPECT_NE(p.kv_arithmetic.find("80 layers × 131072 tokens × 8 KV heads × 128 head dim"), std::string::npos);
  EXPECT_NE(p.kv_arithmetic.find("40.00 GiB"), std::string::npos);
  EXPECT_DOUBLE_EQ(p.kv[1].bytes, p.kv[0].bytes / 2);  // FP8 halves it
  // more users scale it linearly
  w.users = 4;
  EXPECT_DOUBLE_EQ(make_plan(m, w, std::nullopt).kv[0].bytes, 4 * p.kv[0].bytes);
}

TEST(Plan, BitsPerWeightFromBlockLayouts) {
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("W4A16 g128"), 4096), 4.125);
  EXPECT_EQ(bits_formula(scheme("W4A16 g128"), 4096), "4 + 16/128 = 4.125");
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("W4A16 g64"), 4096), 4.25);
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("W4A16 g32"), 4096), 4.5);
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("W4A16 g128 asym"), 4096), 4 + 20.0 / 128);
  // a 576-wide row holds 4.5 groups of 128: scales round up to 5 per row
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("W4A16 g128"), 576), 4 + 5 * 16.0 / 576);
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("NF4"), 4096), 4.5);
  EXPECT_NEAR(linear_bits_per_weight(scheme("NF4 + DQ"), 4096), 4 + 8.0 / 64 + 32.0 / (64 * 256), 1e-12);
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("Q8_0"), 4096), 8.5);        // 34 bytes / 32
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("Q6_K"), 4096), 6.5625);     // 210 / 256
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("Q5_K_M"), 4096), 5.5);      // 176 / 256
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("Q4_K_M"), 4096), 4.5);      // 144 / 256
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("Q4_0"), 4096), 4.5);        // 18 / 32
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("Q3_K_M"), 4096), 3.4375);   // 110 / 256
  EXPECT_DOUBLE_EQ(linear_bits_per_weight(scheme("Q2_K"), 4096), 2.625);      // 84 / 256
  // Mixes put more bits on some tensors: effective size between the base type and Q6_K.
  const ModelShape m = builtin_model("llama-3-8b");
  const double q4km = weight_bytes(scheme("Q4_K_M"), m) * 8 / m.n_params;
  EXPECT_GT(q4km, 4.6);
  EXPECT_LT(q4km, 5.1);  // llama.cpp reports ~4.9 bpw for Llama-3-8B Q4_K_M
}

TEST(Plan, DoubleQuantizationSavingFor70b) {
  const auto j = render_json(make_plan(nominal(70e9), Workload{}, std::nullopt));
  const auto& dq = j["nf4_double_quant"];
  EXPECT_DOUBLE_EQ(dq["overhead_bits"].get<double>(), 0.5);
  EXPECT_NEAR(dq["overhead_bits_dq"].get<double>(), 0.126953125, 1e-12);
  EXPECT_NEAR(dq["saving_bits"].get<double>(), 0.373046875, 1e-12);
  EXPECT_NEAR(dq["saving_bytes"].get<double>() / 1e9, 3.264, 1e-3);  // ≈3.3 GB, not ≈0.5 GB
  const double nf4 = weight_bytes(scheme("NF4"), nominal(70e9));
  const double nf4dq = weight_bytes(scheme("NF4 + DQ"), nominal(70e9));
  EXPECT_GT((nf4 - nf4dq) / 1e9, 3.0);  // the embeddings stay 16-bit, so slightly below 3.26
  EXPECT_LT((nf4 - nf4dq) / 1e9, 3.27);
}

TEST(Plan, BuiltinModelsMatchPublishedParameterCounts) {
  const std::pair<const char*, double> published[] = {
      {"llama-2-7b", 6.738e9},  {"llama-2-13b", 13.016e9}, {"llama-2-70b", 68.977e9},
      {"llama-3-8b", 8.030e9},  {"llama-3-70b", 70.554e9}, {"llama-3.1-405b", 405.85e9},
      {"mistral-7b", 7.2417e9}, {"qwen2-7b", 7.6156e9},    {"gemma-3-270m", 268.1e6},
      {"smollm2-135m", 134.5e6}};
  for (const auto& [name, n] : published)
    EXPECT_NEAR(builtin_model(name).n_params / n, 1.0, 3e-3) << name;
}

TEST(Plan, BuiltinsAgreeWithTheLocalGgufFiles) {
  const std::pair<std::string, std::string> pairs[] = {{squish::test::smollm2_path(), "smollm2-135m"},
                                                       {squish::test::gemma3_path(), "gemma-3-270m"}};
  for (const auto& [path, name] : pairs) {
    const ModelShape g = shape_from_gguf(path), b = builtin_model(name);
    EXPECT_EQ(g.n_layer, b.n_layer) << name;
    EXPECT_EQ(g.n_head, b.n_head) << name;
    EXPECT_EQ(g.n_head_kv, b.n_head_kv) << name;
    EXPECT_EQ(g.head_dim, b.head_dim) << name;
    EXPECT_EQ(g.n_embd, b.n_embd) << name;
    EXPECT_EQ(g.n_ff, b.n_ff) << name;
    EXPECT_EQ(g.n_vocab, b.n_vocab) << name;
    EXPECT_EQ(g.n_swa_layers, b.n_swa_layers) << name;
    EXPECT_EQ(g.tied_embeddings, b.tied_embeddings) << name;
    EXPECT_DOUBLE_EQ(g.n_params, b.n_params) << name;  // same tensor inventory
  }
}

TEST(Plan, RecommendationsFollowThePlaybook) {
  EXPECT_EQ(plan_for("llama-3-8b", "H100", Goal::Balanced).rec->scheme, "FP8");
  EXPECT_EQ(plan_for("llama-3-8b", "A100-80", Goal::Balanced).rec->scheme, "W8A16");
  EXPECT_EQ(plan_for("llama-3-8b", "RTX 4090", Goal::Latency).rec->scheme, "W4A16 g128");
  EXPECT_EQ(plan_for("llama-3-8b", "A100-80", Goal::Throughput, 4096, 64).rec->scheme, "W8A8");
  EXPECT_EQ(plan_for("llama-3-8b", "L40S", Goal::Throughput, 4096, 64).rec->scheme, "FP8");
  const Plan m2 = plan_for("llama-3-8b", "M2 Max", Goal::Balanced);
  EXPECT_EQ(m2.rec->scheme, "Q5_K_M");
  EXPECT_NE(m2.rec->engine.find("llama.cpp"), std::string::npos);
  EXPECT_EQ(plan_for("llama-3-8b", "CPU", Goal::Latency, 4096, 1, 16).rec->scheme, "Q4_K_M");
  // 70B on one A100-80: 8-bit weights alone exceed 72 GB usable -> W4A16 g128
  const Plan a100 = plan_for("llama-3-70b", "A100-80", Goal::Balanced);
  EXPECT_EQ(a100.rec->scheme, "W4A16 g128");
  EXPECT_EQ(a100.rec->kv_cache, "FP16");
  // long context: the KV cache gets quantized
  const Plan longctx = plan_for("llama-3-8b", "H100", Goal::Balanced, 131072);
  EXPECT_EQ(longctx.rec->kv_cache, "FP8");
  EXPECT_EQ(plan_for("llama-3-8b", "A100-80", Goal::Balanced, 131072).rec->kv_cache, "INT8");
  // H100 throughput -> TensorRT-LLM named; decode bound = bandwidth / bytes per token
  const Plan tp = plan_for("llama-3.1-405b", "H100", Goal::Throughput, 8192, 8, 0, 8);
  EXPECT_EQ(tp.rec->scheme, "FP8");
  EXPECT_NE(tp.rec->engine.find("TensorRT-LLM"), std::string::npos);
  const SchemeRow* fp8 = nullptr;
  for (const SchemeRow& r : tp.rows) if (r.scheme.name == "FP8") fp8 = &r;
  ASSERT_TRUE(fp8);
  EXPECT_NEAR(tp.rec->decode_tps_single, 8 * 3350e9 / (fp8->weight_bytes + tp.kv[0].bytes_per_seq), 1e-6);
}

TEST(Plan, ImpossibleWorkloadSaysByHowMuch) {
  try {
    plan_for("llama-3.1-405b", "RTX 4090", Goal::Balanced, 131072, 4);
    FAIL() << "expected an error";
  } catch (const squish::Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("does not fit on RTX 4090"), std::string::npos) << msg;
    EXPECT_NE(msg.find("has 21.60 GB usable"), std::string::npos) << msg;
    EXPECT_NE(msg.find("short"), std::string::npos) << msg;
  }
}

TEST(Plan, UnknownHardwareSuggestsClosest) {
  try {
    find_hardware("RTX 4909");
    FAIL();
  } catch (const squish::Error& e) {
    EXPECT_NE(std::string(e.what()).find("closest known: RTX 4090"), std::string::npos) << e.what();
  }
  EXPECT_EQ(closest_hardware("h10").at(0), "H100");
  EXPECT_EQ(closest_hardware("a100 80").at(0), "A100-80");
  EXPECT_EQ(find_hardware("rtx-4090").name, "RTX 4090");
  EXPECT_EQ(find_hardware("m2max").memory_gb, 96);
  EXPECT_EQ(squish::edit_distance("kitten", "sitting"), 3u);
}

TEST(Plan, BadModelInput) {
  EXPECT_THROW(parse_param_count("seventy"), squish::Error);
  EXPECT_THROW(parse_param_count("-5B"), squish::Error);
  EXPECT_DOUBLE_EQ(parse_param_count("70B"), 70e9);
  EXPECT_DOUBLE_EQ(parse_param_count("135M"), 135e6);
  EXPECT_DOUBLE_EQ(parse_param_count("70e9"), 70e9);
  EXPECT_THROW(shape_from_numbers(7e9, 0, 8, 128, 0, 0, 0, 0), squish::Error);
  EXPECT_THROW(shape_from_numbers(7e9, 32, 8, 1e9, 0, 0, 0, 0), squish::Error);
  EXPECT_THROW(builtin_model("llama-9-1b"), squish::Error);
  const std::string dir = squish::test::temp_dir();
  const auto write = [&](const std::string& name, const std::string& text) {
    const std::string p = dir + "/" + name;
    FILE* f = std::fopen(p.c_str(), "w");
    std::fputs(text.c_str(), f);
    std::fclose(f);
    return p;
  };
  EXPECT_THROW(shape_from_hf_config(write("bad.json", "{not json")), squish::Error);
  EXPECT_THROW(shape_from_hf_config(write("missing.json", R"({"hidden_size": 4096})")), squish::Error);
  EXPECT_THROW(shape_from_hf_config(write("absurd.json",
      R"({"hidden_size": 4096, "num_hidden_layers": 1e12, "num_attention_heads": 32,
          "intermediate_size": 11008, "vocab_size": 32000})")), squish::Error);
  const ModelShape hf = shape_from_hf_config(write("config.json",
      R"({"model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
          "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
          "max_position_embeddings": 8192, "tie_word_embeddings": false})"));
  EXPECT_DOUBLE_EQ(hf.n_params, builtin_model("llama-3-8b").n_params);
  EXPECT_EQ(shape_from_hf_config(dir).n_layer, 32);  // a directory holding config.json
}
