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

INSTANTIATE_TEST_SUITE_P(Archs, BatchDecode, ::testing::Values("tiny_llama", "tiny_qwen2", "tiny_gemma3"));

}  // namespace
