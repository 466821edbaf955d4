// Batched decoding: stepping several sequences together gives each the logits it gets alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "squish/common/error.h"
#include "squish/model/batch_session.h"
#include "squish/model/model.h"
#include "test_support.h"

namespace st = squish::test;

namespace {

float max_abs_diff(const float* a, const float* b, int64_t n) {
  float m = 0.f;
  for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

class BatchDecode : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchDecode, EachSequenceGetsItsOwnLogits) {
  auto model = squish::Model::load(st::source_dir() + "/tests/goldens/model/" + GetParam() + ".gguf");
  const int64_t V = model->config().n_vocab;
  // Prompts of different lengths, so the sequences sit at different positions.
  const std::vector<std::vector<int32_t>> prompts = {{1, 5, 9, 3}, {2, 7}, {4, 4, 8, 1, 6, 3, 2}};
  const std::vector<std::vector<int32_t>> next = {{11, 12, 13}, {21, 22, 23}, {31, 32, 33}};
  squish::BatchSession batch(model, 3, 32, squish::KVCacheType::F32);
  std::vector<std::unique_ptr<squish::Session>> alone;
  for (size_t s = 0; s < 3; ++s) {
    alone.push_back(std::make_unique<squish::Session>(model, 32));
    const auto a = alone[s]->eval(prompts[s]);
    const auto b = batch.prefill(static_cast<int64_t>(s), prompts[s]);
    ASSERT_LE(max_abs_diff(a.data(), b.data(), V), 1e-5f);
  }
  for (size_t step = 0; step < 3; ++step) {
    std::vector<int32_t> toks;
    for (size_t s = 0; s < 3; ++s) toks.push_back(next[s][step] % static_cast<int32_t>(V));
    const auto got = batch.step(toks);
    ASSERT_EQ(got.size(), static_cast<size_t>(3 * V));
    for (size_t s = 0; s < 3; ++s) {
      const auto want = alone[s]->eval(std::vector<int32_t>{toks[s]});
      EXPECT_LE(max_abs_diff(got.data() + s * V, want.data(), V), 1e-4f) << "seq " << s << " step " << step;
    }
  }
  EXPECT_EQ(batch.n_past(0), 7);
  EXPECT_EQ(batch.n_past(1), 5);
  EXPECT_THROW(batch.step(std::vector<int32_t>{1, 2}), squish::Error);
  EXPECT_THROW(batch.prefill(3, std::vector<int32_t>{1}), squish::Error);
  EXPECT_THROW(batch.prefill(0, std::vector<int32_t>(40, 1)), squish::Error);
}

TEST_P(BatchDecode, AdvanceMixesPromptChunksWithDecodeTokensAndResetsOneSequence) {
  auto model = squish::Model::load(st::source_dir() + "/tests/goldens/model/" + GetParam() + ".gguf");
  const int64_t V = model->config().n_vocab;
  const auto tok = [&](int32_t t) { return t % static_cast<int32_t>(V); };
  const std::vector<int32_t> prompt0 = {tok(1), tok(5), tok(9)}, prompt2 = {tok(4), tok(8), tok(6), tok(3), tok(2)};
  squish::BatchSession batch(model, 3, 32, squish::KVCacheType::F32);
  squish::Session alone0(model, 32), alone2(model, 32);
  batch.prefill(0, prompt0);
  alone0.eval(prompt0);
  // Sequence 0 decodes one token while sequence 2's prompt goes in as two chunks; 1 stays idle.
  const std::vector<int32_t> d0 = {tok(11)}, d1 = {tok(12)};
  const std::vector<squish::BatchSession::SeqTokens> first = {{0, d0}, {2, std::span(prompt2).first(2)}};
  const auto got1 = batch.advance(first);
  ASSERT_EQ(got1.size(), static_cast<size_t>(2 * V));
  EXPECT_LE(max_abs_diff(got1.data(), alone0.eval(d0).data(), V), 1e-4f);
  const std::vector<squish::BatchSession::SeqTokens> second = {{2, std::span(prompt2).subspan(2)}, {0, d1}};
  const auto got2 = batch.advance(second);
  EXPECT_LE(max_abs_diff(got2.data(), alone2.eval(prompt2).data(), V), 1e-4f);
  EXPECT_LE(max_abs_diff(got2.data() + V, alone0.eval(d1).data(), V), 1e-4f);
  EXPECT_EQ(batch.n_past(0), 5);
  EXPECT_EQ(batch.n_past(1), 0);
  EXPECT_EQ(batch.n_past(2), 5);
  // Resetting sequence 0 frees it for a new prompt; sequence 2's cache is untouched.
  batch.reset(0);
  EXPECT_EQ(batch.n_past(0), 0);
  squish::Session fresh(model, 32);
  const std::vector<squish::BatchSession::SeqTokens> third = {{0, prompt2}, {2, d0}};
  const auto got3 = batch.advance(third);
  EXPECT_LE(max_abs_diff(got3.data(), fresh.eval(prompt2).data(), V), 1e-4f);
  EXPECT_LE(max_abs_diff(got3.data() + V, alone2.eval(d0).data(), V), 1e-4f);
  const std::vector<squish::BatchSession::SeqTokens> twice = {{1, d0}, {1, d1}};
  EXPECT_THROW(batch.advance(twice), squish::Error);
  const std::vector<squish::BatchSession::SeqTokens> empty = {{1, std::span<const int32_t>()}};
  EXPECT_THROW(batch.advance(empty), squish::Error);
  EXPECT_THROW(batch.reset(3), squish::Error);
}

// A prompt cache: truncating a sequence, or copying another's first positions into it, leaves exactly
// the cache that evaluating those positions gives (for every KV-cache layout: F32 keeps values
// transposed, the others row by row).
TEST_P(BatchDecode, TruncateAndCopyPrefixKeepExactlyTheFirstPositions) {
  auto model = squish::Model::load(st::source_dir() + "/tests/goldens/model/" + GetParam() + ".gguf");
  const int64_t V = model->config().n_vocab;
  const auto tok = [&](int32_t t) { return t % static_cast<int32_t>(V); };
  const std::vector<int32_t> prompt = {tok(3), tok(14), tok(15), tok(9), tok(26), tok(5)}, last = {tok(35)};
  for (auto kv : {squish::KVCacheType::F32, squish::KVCacheType::F16, squish::KVCacheType::FP8_E4M3}) {
    squish::BatchSession batch(model, 3, 32, kv);
    batch.prefill(0, prompt);
    batch.prefill(1, std::vector<int32_t>{tok(7), tok(7)});  // overwritten by the copy
    batch.copy_prefix(0, 1, 4);
    EXPECT_EQ(batch.n_past(1), 4);
    batch.prefill(2, std::span(prompt).first(4));  // the reference: the 4 positions evaluated
    batch.truncate(0, 4);
    EXPECT_EQ(batch.n_past(0), 4);
    const auto want = batch.prefill(2, last);
    EXPECT_EQ(batch.prefill(1, last), want) << "copied, kv " << squish::kv_cache_type_name(kv);
    EXPECT_EQ(batch.prefill(0, last), want) << "truncated, kv " << squish::kv_cache_type_name(kv);
    EXPECT_THROW(batch.truncate(0, 6), squish::Error);
    EXPECT_THROW(batch.copy_prefix(0, 0, 1), squish::Error);
    EXPECT_THROW(batch.copy_prefix(0, 1, 9), squish::Error);
  }
}

INSTANTIATE_TEST_SUITE_P(Archs, BatchDecode, ::testing::Values("tiny_llama", "tiny_qwen2", "tiny_gemma3"));

}  // namespace
