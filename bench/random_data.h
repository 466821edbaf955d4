// Seeded random inputs for the micro-benchmarks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

// n standard-normal values from seed.
inline std::vector<float> random_vector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}
