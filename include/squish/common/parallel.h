// A small persistent thread pool and parallel_for over index ranges.
#pragma once
#include <cstdint>
#include <functional>

namespace squish {

// Number of worker threads used by parallel_for (defaults to hardware concurrency).
int num_threads();
// Sets the number of threads parallel_for uses (n <= 0 means hardware concurrency).
void set_num_threads(int n);

// Runs fn(begin, end) over [0, n) split into contiguous chunks, one per thread, and waits.
// Chunks are multiples of `grain` (except the last). Exceptions propagate to the caller.
void parallel_for(int64_t n, const std::function<void(int64_t begin, int64_t end)>& fn,
                  int64_t grain = 1);

}  // namespace squish
