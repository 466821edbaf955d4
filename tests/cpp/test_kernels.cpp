// Kernels against the scalar reference: every ISA path, ragged shapes, strides, bias, threading.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "squish/common/parallel.h"
#include "squish/kernels/gemm.h"

namespace sk = squish::kernels;

namespace {

std::vector<float> random_vector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

using Kernel = void (*)(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t,
                        float*, int64_t, const float*);

// Runs `kernel` on an m x n x k product with padded strides and compares with the reference.
void check_kernel(Kernel kernel, int64_t m, int64_t n, int64_t k, bool with_bias) {
  const int64_t lda = k + 3, ldw = k + 5, ldc = n + 7;
  auto A = random_vector(static_cast<size_t>(m * lda), 1);
  auto W = random_vector(static_cast<size_t>(n * ldw), 2);
  auto bias = random_vector(static_cast<size_t>(n), 3);
  std::vector<float> want(static_cast<size_t>(m * ldc), -7.f), got(want);
  const float* b = with_bias ? bias.data() : nullptr;
  sk::gemm_nt_reference(m, n, k, A.data(), lda, W.data(), ldw, want.data(), ldc, b);
  kernel(m, n, k, A.data(), lda, W.data(), ldw, got.data(), ldc, b);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      const float w = want[i * ldc + j], g = got[i * ldc + j];
      ASSERT_NEAR(g, w, 1e-4f * std::sqrt(static_cast<float>(k)) * (1.f + std::fabs(w)))
          << "m=" << m << " n=" << n << " k=" << k << " at " << i << "," << j;
    }
    for (int64_t j = n; j < ldc; ++j) ASSERT_EQ(got[i * ldc + j], -7.f) << "wrote past row end";
  }
}

const int64_t kShapes[][3] = {{1, 1, 1},    {1, 37, 576},  {1, 9, 15},    {2, 5, 16},
                              {7, 13, 17},  {6, 4, 512},   {13, 11, 513}, {100, 33, 1100},
                              {97, 64, 64}, {3, 200, 2048}};

}  // namespace

TEST(Kernels, ScalarMatchesReference) {
  for (auto& s : kShapes)
    for (bool bias : {false, true}) check_kernel(&sk::gemm_nt_scalar, s[0], s[1], s[2], bias);
}

TEST(Kernels, Avx512MatchesReference) {
  if (!sk::cpu_has_avx512()) GTEST_SKIP() << "no AVX-512 on this CPU";
  for (auto& s : kShapes)
    for (bool bias : {false, true}) check_kernel(&sk::gemm_nt_avx512, s[0], s[1], s[2], bias);
}

static bool cpu_supports_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

TEST(Kernels, Avx2MatchesReference) {
  if (!cpu_supports_avx2_fma()) GTEST_SKIP() << "no AVX2+FMA on this CPU";
  for (auto& s : kShapes)
    for (bool bias : {false, true}) check_kernel(&sk::gemm_nt_avx2, s[0], s[1], s[2], bias);
  // Each side of the one/two-row dot tiles vs the packed 6 x 16 panels, partial panels and
  // micro-kernels, k blocks of 256 with a ragged last one, more rows than one L2 block (192),
  // more weight rows than one packed block (512).
  const int64_t edges[][3] = {{2, 9, 7},     {3, 17, 9},    {5, 15, 255},  {6, 16, 256},
                              {7, 33, 257},  {12, 31, 600}, {193, 18, 70}, {200, 47, 513},
                              {2, 3, 1000},  {1, 1537, 33}, {7, 530, 40},  {13, 1100, 300}};
  for (auto& s : edges)
    for (bool bias : {false, true}) check_kernel(&sk::gemm_nt_avx2, s[0], s[1], s[2], bias);
}

TEST(Kernels, Avx2MatchesReferenceOnRandomShapes) {
  if (!cpu_supports_avx2_fma()) GTEST_SKIP() << "no AVX2+FMA on this CPU";
  std::mt19937 rng(42);
  std::uniform_int_distribution<int64_t> rows(1, 40), cols(1, 70), depth(1, 700);
  for (int trial = 0; trial < 40; ++trial)
    check_kernel(&sk::gemm_nt_avx2, rows(rng), cols(rng), depth(rng), trial % 2 == 0);
}

TEST(Kernels, Avx2ZeroLengthRowsGiveBias) {
  if (!cpu_supports_avx2_fma()) GTEST_SKIP() << "no AVX2+FMA on this CPU";
  std::vector<float> bias = {1.f, 2.f, 3.f}, C(6, 0.f);
  float dummy = 0.f;
  sk::gemm_nt_avx2(2, 3, 0, &dummy, 0, &dummy, 0, C.data(), 3, bias.data());
  EXPECT_EQ(C, (std::vector<float>{1.f, 2.f, 3.f, 1.f, 2.f, 3.f}));
}

TEST(Kernels, DispatchMatchesReference) {
  for (auto& s : kShapes) check_kernel(&sk::gemm_nt, s[0], s[1], s[2], true);
}

TEST(Kernels, ThreadedMatmulEqualsSingleThreaded) {
  const int64_t m = 37, n = 301, k = 577;
  auto A = random_vector(m * k, 4), W = random_vector(n * k, 5), bias = random_vector(n, 6);
  std::vector<float> one(m * n), many(m * n);
  squish::set_num_threads(1);
  sk::matmul(m, n, k, A.data(), W.data(), one.data(), bias.data());
  squish::set_num_threads(4);
  sk::matmul(m, n, k, A.data(), W.data(), many.data(), bias.data());
  squish::set_num_threads(0);
  // Each output is computed by exactly one thread with the same kernel: bit-identical.
  EXPECT_EQ(one, many);
}

TEST(Kernels, ZeroLengthRowsGiveBias) {
  std::vector<float> bias = {1.f, 2.f, 3.f}, C(6, 0.f);
  float dummy = 0.f;
  sk::gemm_nt(2, 3, 0, &dummy, 0, &dummy, 0, C.data(), 3, bias.data());
  EXPECT_EQ(C, (std::vector<float>{1.f, 2.f, 3.f, 1.f, 2.f, 3.f}));
}
