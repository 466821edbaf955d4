// Seeded standard-normal F32 values for the micro-benchmarks' operands.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

namespace squish::bench {

// n values drawn from N(0, 1) with the given seed.
inline std::vector<float> random_vector(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

}  // namespace squish::bench
