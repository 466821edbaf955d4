// The forward pass against llama.cpp's goldens (tests/oracle/model_goldens.py): tiny random
// llama / qwen2 / gemma3 models (all positions), and the two real models (last-position logits
// over the whole vocabulary, greedy continuations). Also load errors, cache and observer behaviour.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>

#include "squish/common/error.h"
#include "squish/model/model.h"
#include "squish/model/weights.h"
#include "test_support.h"

using squish::Model;
using squish::Session;
using json = nlohmann::json;
namespace st = squish::test;

namespace {

std::string golden(const std::string& name) { return st::source_dir() + "/tests/goldens/model/" + name; }

json read_json(const std::string& path) { return json::parse(st::read_file(path)); }

std::vector<int32_t> ids(const json& j) { return j.get<std::vector<int32_t>>(); }

int64_t argmax(const float* v, int64_t n) { return std::max_element(v, v + n) - v; }

float max_abs_diff(const float* a, const float* b, int64_t n) {
  float m = 0.f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

// Greedy continuation of `prompt` by n argmax tokens (end-of-generation tokens not special).
std::vector<int32_t> greedy(Session& s, const std::vector<int32_t>& prompt, int n) {
  s.reset();
  std::vector<float> logits = s.eval(prompt);
  const int64_t V = s.model().config().n_vocab;
  std::vector<int32_t> out;
  for (int i = 0; i < n; ++i) {
    const int32_t t = static_cast<int32_t>(argmax(logits.data(), V));
    out.push_back(t);
    if (i + 1 < n) logits = s.eval(std::vector<int32_t>{t});
  }
  return out;
}

// Writes a byte-patched copy of `src` where every `from` is replaced by `to` (same length).
std::string patched_copy(const std::string& src, const std::string& from, const std::string& to) {
  std::string data = st::read_file(src);
  size_t n = 0;
  for (size_t p = data.find(from); p != std::string::npos; p = data.find(from, p + to.size())) {
    data.replace(p, from.size(), to);
    ++n;
  }
  EXPECT_GT(n, 0u) << from << " not found in " << src;
  const std::string out = st::temp_dir() + "/patched.gguf";
  std::ofstream(out, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
  return out;
}

std::string load_error(const std::string& path) {
  try {
    Model::load(path);
  } catch (const squish::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

// ---------------------------------------------------------------- tiny random models

class TinyModel : public ::testing::TestWithParam<std::string> {};

TEST_P(TinyModel, AllPositionLogitsAndGreedyMatchLlamaCpp) {
  const json meta = read_json(golden(GetParam() + ".json"));
  auto model = Model::load(golden(meta["model"].get<std::string>()));
  const int64_t V = meta["n_vocab"];
  ASSERT_EQ(model->config().n_vocab, V);
  const std::string blob = st::read_file(golden(meta["logits_file"].get<std::string>()));
  const float* want = reinterpret_cast<const float*>(blob.data());
  Session s(model, 128);
  size_t offset = 0;
  for (const json& p : meta["prompts"]) {
    const auto tokens = ids(p["tokens"]);
    s.reset();
    const std::vector<float> got = s.eval(tokens, /*all_logits=*/true);
    ASSERT_EQ(got.size(), tokens.size() * V);
    ASSERT_LE((offset + got.size()) * sizeof(float), blob.size());
    for (size_t t = 0; t < tokens.size(); ++t) {
      const float* g = got.data() + t * V;
      const float* w = want + offset + t * V;
      EXPECT_EQ(argmax(g, V), argmax(w, V)) << "position " << t;
      // gemma3's GELU goes through ggml's F16 table: an input on the other side of an F16
      // rounding boundary moves its output by one F16 step, hence the relative tolerance.
      const float scale = std::max(1.f, std::fabs(w[argmax(w, V)]));
      EXPECT_LE(max_abs_diff(g, w, V), 1e-3f * scale) << "position " << t;
    }
    offset += got.size();
    EXPECT_EQ(greedy(s, tokens, 24), ids(p["continuation"]));
  }
}

TEST_P(TinyModel, IncrementalDecodeEqualsBatchedPrompt) {
  const json meta = read_json(golden(GetParam() + ".json"));
  auto model = Model::load(golden(meta["model"].get<std::string>()));
  const auto tokens = ids(meta["prompts"][1]["tokens"]);
  const int64_t V = model->config().n_vocab;
  Session batched(model, 64), stepped(model, 64);
  const auto all = batched.eval(tokens, true);
  // First a few tokens batched, then one at a time (also crossing gemma's sliding window).
  std::vector<int32_t> head(tokens.begin(), tokens.begin() + 5);
  auto last = stepped.eval(head, true);
  for (size_t t = 5; t < tokens.size(); ++t) {
    last = stepped.eval(std::vector<int32_t>{tokens[t]});
    // Equal up to float summation order (the AVX2 GEMM blocks k differently for one row than for
    // many), which gemma3's F16-rounded GELU table can turn into one F16 step of an activation.
    float peak = 1.f;
    for (int64_t i = 0; i < V; ++i) peak = std::max(peak, std::fabs(all[t * V + i]));
    ASSERT_LE(max_abs_diff(last.data(), all.data() + t * V, V), 1e-3f * peak) << "position " << t;
  }
  EXPECT_EQ(stepped.n_past(), static_cast<int64_t>(tokens.size()));
  // Truncating and re-evaluating reproduces the same logits.
  stepped.truncate(10);
  const auto again = stepped.eval(std::vector<int32_t>{tokens[10]});
  EXPECT_LE(max_abs_diff(again.data(), all.data() + 10 * V, V), 1e-4f);
}

INSTANTIATE_TEST_SUITE_P(Archs, TinyModel,
                         ::testing::Values("tiny_llama", "tiny_qwen2", "tiny_gemma3"));

TEST(ModelConfig, ReadsEachArchitecture) {
  auto llama = Model::load(golden("tiny_llama.gguf"));
  EXPECT_EQ(llama->config().arch, squish::Arch::Llama);
  EXPECT_FALSE(llama->config().rope_neox);
  EXPECT_TRUE(llama->config().tied_embeddings);
  auto qwen = Model::load(golden("tiny_qwen2.gguf"));
  EXPECT_EQ(qwen->config().arch, squish::Arch::Qwen2);
  EXPECT_TRUE(qwen->config().rope_neox);
  EXPECT_FALSE(qwen->config().tied_embeddings);
  EXPECT_FALSE(qwen->weights().layers[0].attn_q_bias.empty());
  auto gemma = Model::load(golden("tiny_gemma3.gguf"));
  const auto& c = gemma->config();
  EXPECT_EQ(c.arch, squish::Arch::Gemma3);
  EXPECT_EQ(c.sliding_window, 8);
  EXPECT_EQ(c.layer_is_swa, (std::vector<bool>{true, true, true, true, true, false}));
  EXPECT_FLOAT_EQ(c.layer_rope_base(0), 10000.f);
  EXPECT_FLOAT_EQ(c.layer_rope_base(5), 1e6f);
  EXPECT_FLOAT_EQ(c.kq_scale(), 1.f / std::sqrt(32.f));
}

// ---------------------------------------------------------------- errors

TEST(ModelLoad, UnknownArchitectureNamesFileAndArch) {
  const std::string p = patched_copy(golden("tiny_llama.gguf"), "llama", "xxxxx");
  const std::string e = load_error(p);
  EXPECT_NE(e.find(p), std::string::npos) << e;
  EXPECT_NE(e.find("xxxxx"), std::string::npos) << e;
}

TEST(ModelLoad, MissingTensorIsNamed) {
  const std::string p = patched_copy(golden("tiny_qwen2.gguf"), "blk.1.ffn_up.weight", "blk.1.ffn_uq.weight");
  const std::string e = load_error(p);
  EXPECT_NE(e.find(p), std::string::npos) << e;
  EXPECT_NE(e.find("missing tensor blk.1.ffn_up.weight"), std::string::npos) << e;
}

TEST(ModelLoad, WrongShapeIsNamed) {
  // blk.0.attn_norm.weight: name, n_dims = 1, then its length 64; make it 32.
  const std::string name = "blk.0.attn_norm.weight";
  std::string from = name, to = name;
  const uint32_t one = 1;
  const uint64_t n64 = 64, n32 = 32;
  from.append(reinterpret_cast<const char*>(&one), 4).append(reinterpret_cast<const char*>(&n64), 8);
  to.append(reinterpret_cast<const char*>(&one), 4).append(reinterpret_cast<const char*>(&n32), 8);
  const std::string p = patched_copy(golden("tiny_llama.gguf"), from, to);
  const std::string e = load_error(p);
  EXPECT_NE(e.find("tensor blk.0.attn_norm.weight has shape [32], expected [64]"), std::string::npos) << e;
}

TEST(ModelLoad, DirectoryWithoutConfigIsRejected) {
  const std::string dir = st::temp_dir();
  const std::string e = load_error(dir);
  EXPECT_NE(e.find(dir), std::string::npos) << e;
}

TEST(Session, ContextOverflowAndBadTokensAreErrors) {
  auto model = Model::load(golden("tiny_llama.gguf"));
  Session s(model, 8);
  EXPECT_THROW(s.eval(std::vector<int32_t>(9, 20)), squish::Error);
  EXPECT_EQ(s.n_past(), 0);
  EXPECT_THROW(s.eval(std::vector<int32_t>{5, 320}), squish::Error);
  EXPECT_THROW(s.eval(std::vector<int32_t>{-1}), squish::Error);
  EXPECT_NO_THROW(s.eval(std::vector<int32_t>(8, 20)));
  EXPECT_THROW(s.eval(std::vector<int32_t>{20}), squish::Error);
  EXPECT_THROW(Session(model, 0), squish::Error);
}

TEST(Session, ObserverSeesEveryLinearInputWithoutChangingResults) {
  auto model = Model::load(golden("tiny_gemma3.gguf"));
  const auto& c = model->config();
  const std::vector<int32_t> tokens = {20, 30, 40, 50, 60};
  Session plain(model, 16), watched(model, 16);
  const auto want = plain.eval(tokens);
  std::vector<std::string> names;
  int64_t bad_shapes = 0;
  double sum_sq_q0 = 0.0;
  watched.set_observer([&](const squish::LinearInput& in) {
    names.push_back(in.tensor);
    const bool head = in.layer == c.n_layer;  // output projection: last position only
    if (in.n_tokens != (head ? 1 : 5)) ++bad_shapes;
    const bool down = in.tensor.find("ffn_down") != std::string::npos;
    const bool out = in.tensor.find("attn_output") != std::string::npos;
    const int64_t cols = down ? c.n_ff : out ? c.n_head * c.head_dim_v : c.n_embd;
    if (in.n_cols != cols) ++bad_shapes;
    if (in.tensor == "blk.0.attn_q.weight")
      for (int64_t i = 0; i < in.n_tokens * in.n_cols; ++i) sum_sq_q0 += in.data[i] * in.data[i];
  });
  const auto got = watched.eval(tokens);
  EXPECT_EQ(got, want);
  EXPECT_EQ(bad_shapes, 0);
  EXPECT_EQ(names.size(), static_cast<size_t>(7 * c.n_layer + 1));
  EXPECT_EQ(names.front(), "blk.0.attn_q.weight");
  EXPECT_EQ(names.back(), "token_embd.weight");  // tied output projection
  EXPECT_GT(sum_sq_q0, 0.0);
}

// ---------------------------------------------------------------- real models

// Loads a real model once per test binary; compares with llama.cpp on its F32 reference network.
class RealModel : public ::testing::TestWithParam<std::string> {
 protected:
  static std::shared_ptr<Model> get(const std::string& name) {
    // At most one real model in memory (the Gemma 3 reference network is ~1 GB in F32).
    static std::string loaded;
    static std::shared_ptr<Model> model;
    if (loaded != name) {
      model.reset();
      model = Model::load(name == "smollm2" ? st::smollm2_path() : st::gemma3_path());
      loaded = name;
    }
    return model;
  }
};

// One test per model so each real model is loaded once.
TEST_P(RealModel, LogitsAndGreedyMatchLlamaCpp) {
  const json meta = read_json(golden(GetParam() + ".json"));
  auto model = get(GetParam());
  const int64_t V = meta["n_vocab"];
  ASSERT_EQ(model->config().n_vocab, V);
  const std::string gz = golden(meta["logits_file"].get<std::string>());
  const std::string raw = st::temp_dir() + "/logits.u16";
  ASSERT_EQ(st::run_shell("gzip -dc '" + gz + "' > '" + raw + "'").exit_code, 0);
  const std::string blob = st::read_file(raw);
  ASSERT_EQ(blob.size(), meta["logits"].size() * V * sizeof(uint16_t));
  const uint16_t* codes = reinterpret_cast<const uint16_t*>(blob.data());
  Session s(model, 1024);
  size_t i = 0;
  for (const json& p : meta["logits"]) {
    const auto tokens = ids(p["tokens"]);
    s.reset();
    const auto got = s.eval(tokens);
    const double off = p["offset"], step = p["step"];
    std::vector<float> want(static_cast<size_t>(V));
    for (int64_t t = 0; t < V; ++t) want[t] = static_cast<float>(off + step * codes[i * V + t]);
    EXPECT_EQ(argmax(got.data(), V), p["argmax"].get<int64_t>()) << "prompt " << i;
    // Goldens carry at most step/2 (< 5e-4 here) of storage error.
    const float d = max_abs_diff(got.data(), want.data(), V);
    EXPECT_LE(d, 1e-2f) << "prompt " << i;
    std::printf("%s prompt %zu (%zu tokens): max |logit - llama.cpp| = %.2e\n", GetParam().c_str(), i,
                tokens.size(), d);
    ++i;
  }
  // Greedy 64-token continuations.
  for (const json& g : meta["greedy"])
    EXPECT_EQ(greedy(s, ids(g["tokens"]), 64), ids(g["continuation"])) << g["prompt"];
}

INSTANTIATE_TEST_SUITE_P(Models, RealModel, ::testing::Values("smollm2", "gemma3"));
